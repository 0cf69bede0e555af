/* SPDX-License-Identifier: MIT */
/* HTTPS: the certificate and key files that `hitl serve --tls-cert --tls-key` names. */
#ifndef HITL_API_TLS_H
#define HITL_API_TLS_H

#include "hitl/error.h"

/* The Strict-Transport-Security value sent on every answer over TLS: one year, so browsers that
 * once reached the server over HTTPS never fall back to plain HTTP. */
#define HITL_HSTS "max-age=31536000"

/* Reads the PEM certificate (chain) and private key files into NUL-terminated strings (*cert and
 * *key, owned by the caller: free the key with hitl__tls_free_key). Returns 0, or an error naming
 * the file when one cannot be read, is empty or holds no PEM block, or when libmicrohttpd was
 * built without TLS. */
int hitl__tls_load(const char *cert_path, const char *key_path, char **cert, char **key,
                   hitl_err *err);
/* Wipes and frees a key read by hitl__tls_load. NULL is a no-op. */
void hitl__tls_free_key(char *key);

#endif
