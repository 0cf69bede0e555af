/* SPDX-License-Identifier: MIT */
/* The web UI's files, embedded in the binary at build time (cmake/embed.cmake). */
#ifndef HITL_API_ASSETS_H
#define HITL_API_ASSETS_H

#include <stddef.h>

typedef struct hitl_asset {
  const char *path;          /* URL path: "/" for index.html, "/assets/app.js", ... */
  const unsigned char *data; /* The file's bytes (followed by a NUL not counted in size). */
  size_t size;
} hitl_asset;

extern const hitl_asset hitl_assets[];
extern const size_t hitl_n_assets;

#endif
