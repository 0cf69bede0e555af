/* SPDX-License-Identifier: MIT */
/* The web UI's files, served from the copy embedded in the binary, with ETags and safe headers. */
#include <pthread.h>
#include <string.h>

#include "api/assets.h"
#include "api/server_internal.h"
#include "util/id.h"
#include "util/xmalloc.h"

/* ETags ("\"<16 hex>\"") of every asset, computed once. */
static char (*etags)[24];
static pthread_once_t etags_once = PTHREAD_ONCE_INIT;

static void compute_etags(void) {
  etags = hitl_xcalloc(hitl_n_assets ? hitl_n_assets : 1, sizeof *etags);
  for (size_t i = 0; i < hitl_n_assets; i++) {
    uint8_t h[HITL_HASH_LEN];
    hitl_hash(hitl_assets[i].data, hitl_assets[i].size, h);
    char hex[2 * HITL_HASH_LEN + 1];
    hitl_hex(h, 8, hex);
    snprintf(etags[i], sizeof etags[i], "\"%s\"", hex);
  }
}

static const char *content_type(const char *path) {
  static const struct { const char *ext, *type; } types[] = {
      {".html", "text/html; charset=utf-8"},       {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},  {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},                   {".png", "image/png"},
      {".json", "application/json"},               {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
  };
  if (strcmp(path, "/") == 0) return types[0].type;
  const char *dot = strrchr(path, '.');
  for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
    if (strcmp(dot, types[i].ext) == 0) return types[i].type;
  return "application/octet-stream";
}

bool hitl__is_static_path(const char *path) {
  return strcmp(path, "/") == 0 || strncmp(path, "/assets/", 8) == 0;
}

void hitl__h_static(hitl_request *req) {
  if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
    snprintf(req->allow, sizeof req->allow, "GET, HEAD");
    hitl__reply_error(req, HITL_EMETHOD, NULL, "%s is not allowed on %s: use GET", req->method,
                      req->path);
    return;
  }
  pthread_once(&etags_once, compute_etags);
  req->route_name = "static";
  for (size_t i = 0; i < hitl_n_assets; i++) {
    const hitl_asset *a = &hitl_assets[i];
    if (strcmp(a->path, req->path) != 0) continue;
    const char *match = hitl__header(req, MHD_HTTP_HEADER_IF_NONE_MATCH);
    bool fresh = match && strcmp(match, etags[i]) == 0;
    struct MHD_Response *resp = fresh ? MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT)
                                      : MHD_create_response_from_buffer(a->size, (void *)a->data,
                                                                        MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type(a->path));
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etags[i]);
    /* Revalidate every time: the files change with the binary, and an ETag makes it cheap. */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    /* The UI loads only its own code; images and audio of image_url and audio_url fields may come
     * from anywhere. */
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data: http: https:; "
                            "media-src 'self' data: http: https:; "
                            "style-src 'self'; script-src 'self'; connect-src 'self'; "
                            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                            "form-action 'self'");
    req->stream = resp;
    req->status = fresh ? 304 : 200;
    req->phase = HITL_PHASE_ANSWERED;
    return;
  }
  hitl__reply_error(req, HITL_ENOT_FOUND, NULL, "no such file: %s", req->path);
}
