/* SPDX-License-Identifier: MIT */
/* Request intake: the checks of a request's line and headers (RFC 9112 framing, Host, NUL and
 * control bytes) that libmicrohttpd 0.9.75 leaves undone, made before any of the body is read. */
#include "api/intake.h"

#include "api/http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 section 5.6.2: the characters of a token (a method, a header field name). */
static bool tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool token(const char *s) {
  if (*s == '\0') return false;
  for (; *s; s++)
    if (!tchar((unsigned char)*s)) return false;
  return true;
}

/* True for the bytes a field value or a request target may not hold: controls but HTAB. */
static bool control(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

void hitl__intake_target(hitl_intake *in, const char *uri) {
  memset(in, 0, sizeof *in);
  if (uri == NULL) return;
  in->target_len = strlen(uri);
  char *query = NULL;
  for (const char *p = uri; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c <= 0x20 || c == 0x7f) in->target_ctl = true;
    if (c == '?' && query == NULL) {
      query = (char *)p;
      in->n_args = 1;
    } else if (c == '&' && query) {
      in->n_args++;
    }
  }
  if (in->n_args > HITL_MAX_QUERY_ARGS) {
    /* libmicrohttpd 0.9.75 stores each argument in the connection's fixed memory pool; a few
     * hundred exhaust it, and its error path then leaves the connection without an answer
     * until the timeout. It parses the query right after this callback from the same buffer
     * (the pointer is const in the API only), so ending the query here keeps it from trying;
     * the request is then refused with 400. */
    query[1] = '\0';
    in->query_cut = true;
  }
}

/* What the header pass found. */
typedef struct header_scan {
  const char *bad_name;    /* A field name that is not a token (e.g. "Transfer-Encoding "). */
  const char *bad_value;   /* The name of a field whose value holds a control byte. */
  int n_host;
  int n_authorization;
  int n_length;
  const char *length;      /* The first Content-Length value. */
  bool length_differs;     /* Another Content-Length value differs from the first. */
  bool length_bad;         /* A Content-Length value is not 1 to 19 digits. */
  int n_coding;
  const char *coding;      /* The first Transfer-Encoding value. */
} header_scan;

static bool digits_only(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 19) return false;
  return strspn(s, "0123456789") == n;
}

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
  (void)kind;
  header_scan *h = cls;
  if (key == NULL) return MHD_YES;
  if (!token(key)) {
    if (h->bad_name == NULL) h->bad_name = key;
    return MHD_YES;
  }
  if (value) {
    for (const char *p = value; *p; p++)
      if (control((unsigned char)*p) && h->bad_value == NULL) h->bad_value = key;
  }
  if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) {
    h->n_host++;
  } else if (strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION) == 0) {
    h->n_authorization++;
  } else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
    const char *v = value ? value : "";
    if (!digits_only(v)) h->length_bad = true;
    if (h->n_length++ == 0) h->length = v;
    else if (strcmp(h->length, v) != 0) h->length_differs = true;
  } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
    if (h->n_coding++ == 0) h->coding = value ? value : "";
  }
  return MHD_YES;
}

/* Answers 400 naming field and asks for the connection to close: after a framing error the
 * server cannot know where the next request would begin (RFC 9112 section 6.3). */
static bool refuse(hitl_request *req, const char *field, const char *message) {
  req->close = true;
  hitl__reply_error(req, HITL_EVALIDATION, field, "%s", message);
  return false;
}

bool hitl__intake_check(hitl_request *req, const char *url, const char *version) {
  const hitl_intake *in = &req->intake;
  if (!token(req->method)) return refuse(req, NULL, "the method is not an HTTP token");
  if (in->target_ctl)
    return refuse(req, NULL, "the request target holds a space or a control character");
#if MHD_VERSION <= 0x00097700
  /* These releases cut the request line at a raw NUL without a word: the target then ends
   * before the byte that ended it on the line (the one before the version). Later releases
   * refuse such a line themselves. */
  if (version && version > url && (size_t)(version - 1 - url) != in->target_len)
    return refuse(req, NULL, "the request target holds a NUL byte");
#else
  (void)url;
#endif
  if (in->query_cut) {
    char message[96];
    snprintf(message, sizeof message, "the query has more than %d arguments",
             HITL_MAX_QUERY_ARGS);
    return refuse(req, NULL, message);
  }
  header_scan h = {0};
  MHD_get_connection_values(req->conn, MHD_HEADER_KIND, scan_header, &h);
  if (h.bad_name)
    return refuse(req, NULL, "a header field name holds a space or a character a name may "
                             "not have (no space is allowed before the colon)");
  if (h.bad_value) return refuse(req, h.bad_value, "a header field value holds a control character");
  bool http11 = version && strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
  if (h.n_host > 1) return refuse(req, "Host", "the request has more than one Host header");
  if (http11 && h.n_host == 0) return refuse(req, "Host", "an HTTP/1.1 request needs a Host header");
  /* Only the first would be checked: which one a proxy in front checked is anyone's guess. */
  if (h.n_authorization > 1)
    return refuse(req, "Authorization", "the request has more than one Authorization header");
  if (h.length_bad) return refuse(req, "Content-Length", "Content-Length must be a decimal number");
  if (h.length_differs)
    return refuse(req, "Content-Length", "the request has Content-Length values that differ");
  if (h.n_coding > 0) {
    if (h.n_length > 0)
      return refuse(req, "Transfer-Encoding",
                    "the request has both Content-Length and Transfer-Encoding: send one");
    if (!http11) return refuse(req, "Transfer-Encoding", "Transfer-Encoding needs HTTP/1.1");
    if (h.n_coding > 1 || strcasecmp(h.coding, "chunked") != 0)
      return refuse(req, "Transfer-Encoding", "the only transfer coding accepted is \"chunked\"");
  }
  return true;
}
