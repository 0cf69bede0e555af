/* SPDX-License-Identifier: MIT */
/* HTTPS: reads the certificate and key that libmicrohttpd's GnuTLS support serves with. */
#include "api/tls.h"

#include <microhttpd.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define MAX_PEM_BYTES (1024 * 1024) /* A certificate chain is a few kilobytes. */

/* Reads the whole file at path into *out (NUL-terminated, malloc'd). what names it in errors. */
static int read_pem(const char *path, const char *what, const char *field, char **out,
                    hitl_err *err) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return hitl_err_set(err, HITL_EVALIDATION, field, "cannot open the %s file %s", what, path);
  hitl_buf b = HITL_BUF_INIT;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= MAX_PEM_BYTES)
    hitl_buf_append(&b, chunk, n);
  bool failed = ferror(f) != 0;
  fclose(f);
  int rc = 0;
  if (failed) {
    rc = hitl_err_set(err, HITL_EVALIDATION, field, "cannot read the %s file %s", what, path);
  } else if (b.len > MAX_PEM_BYTES) {
    rc = hitl_err_set(err, HITL_EVALIDATION, field, "the %s file %s is larger than %d bytes", what,
                      path, MAX_PEM_BYTES);
  } else if (b.len == 0 || memchr(b.data, '\0', b.len) || strstr(hitl_buf_cstr(&b), "-----BEGIN ") == NULL) {
    rc = hitl_err_set(err, HITL_EVALIDATION, field, "the %s file %s holds no PEM block", what, path);
  }
  if (rc) {
    if (b.data) sodium_memzero(b.data, b.len);
    hitl_buf_free(&b);
    return rc;
  }
  *out = hitl_buf_detach(&b);
  return 0;
}

int hitl__tls_load(const char *cert_path, const char *key_path, char **cert, char **key,
                   hitl_err *err) {
  *cert = *key = NULL;
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
    return hitl_err_set(err, HITL_EUNAVAILABLE, "tls",
                        "this libmicrohttpd was built without TLS: serve plain HTTP behind a "
                        "TLS proxy instead");
  int rc = read_pem(cert_path, "certificate", "tls-cert", cert, err);
  if (rc == 0) rc = read_pem(key_path, "private key", "tls-key", key, err);
  if (rc) {
    free(*cert);
    *cert = NULL;
  }
  return rc;
}

void hitl__tls_free_key(char *key) {
  if (key == NULL) return;
  sodium_memzero(key, strlen(key));
  free(key);
}
