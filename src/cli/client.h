/* SPDX-License-Identifier: MIT */
/* The HTTP side of the command-line client: URLs, requests over libcurl, and printing answers. */
#ifndef HITL_CLI_CLIENT_H
#define HITL_CLI_CLIENT_H

#include <stdio.h>

#include "cli/args.h"
#include "hitl/error.h"
#include "util/buf.h"

#define HITL__CLI_DEFAULT_URL "http://127.0.0.1:8080"

/* Where and as whom the client talks. Strings are borrowed (argv or the environment). */
typedef struct hitl__cli_conn {
  const char *base_url; /* "http://host:port" with an optional path prefix. */
  const char *token;    /* Bearer token, or NULL to send none. Never printed. */
} hitl__cli_conn;

/* One HTTP answer. */
typedef struct hitl__cli_reply {
  long status;   /* HTTP status. */
  hitl_buf body; /* The body, unless it was streamed to the sink (then empty). */
} hitl__cli_reply;

/* Resolves the server and token: --url, else HITL_URL, else HITL__CLI_DEFAULT_URL; --token, else
 * HITL_TOKEN (an empty value means none). Returns 0, or HITL_EVALIDATION when the URL is not
 * http(s) or the token holds characters a header cannot carry; err never quotes the token. */
int hitl__cli_conn_init(hitl__cli_conn *c, const hitl__cli_args *a, hitl_err *err);

/* Appends to out the percent-encoding of s: every byte but A-Z a-z 0-9 - . _ ~ becomes %XX. */
void hitl__cli_percent_encode(hitl_buf *out, const char *s);

/* Writes into out (reset first) base, without trailing slashes, followed by pattern in which each
 * "%s" is replaced by the percent-encoded next argument (a path segment) and "%%" by "%".
 * Returns 0, or HITL_EVALIDATION when a segment is empty (err names it as "segment N"). */
int hitl__cli_url(hitl_buf *out, hitl_err *err, const char *base, const char *pattern, ...)
    __attribute__((format(printf, 4, 5)));

/* Appends "?name=value" (or "&name=value" when out already has a query) with value
 * percent-encoded; does nothing when value is NULL. */
void hitl__cli_url_query(hitl_buf *out, const char *name, const char *value);

/* Maps an HTTP status to an exit code: 2xx OK, 401/403 AUTH, 404 NOT_FOUND, 409 CONFLICT,
 * 5xx SERVER, anything else FAILURE. */
int hitl__cli_exit_code(long status);

/* Appends to out the one-line message for a failed answer, without newline:
 * "hitl: CODE: MESSAGE (field: FIELD)" from the {"error":{...}} body; the field part only when the
 * field is not empty; "http_STATUS" and the start of the body when the body is not such JSON. */
void hitl__cli_error_text(hitl_buf *out, long status, const char *body, size_t len);

/* Appends to out the JSON text json (which must be valid JSON) laid out like jansson's
 * JSON_INDENT(2), with a final newline. Tokens are copied as they are, so numbers keep their
 * exact digits (jansson would print 0.8 as 0.80000000000000004). */
void hitl__cli_pretty(hitl_buf *out, const char *json, size_t len);

/* Prints body to f: pretty when it is valid JSON, as it is otherwise. Nothing for an empty body. */
void hitl__cli_print_body(FILE *f, const char *body, size_t len);

/* Sends one request: method, url (from hitl__cli_url), an optional JSON body (NULL for none), an
 * optional extra header line ("Idempotency-Key: k", or NULL). When sink is not NULL, a 2xx body is
 * written to it as it arrives instead of being kept. On an answer (any status) fills r (the caller
 * frees r->body) and returns 0; when no answer came returns HITL_EUNAVAILABLE with err set. */
int hitl__cli_http(const hitl__cli_conn *c, const char *method, const char *url, const char *body,
                   size_t body_len, const char *extra_header, FILE *sink, hitl__cli_reply *r,
                   hitl_err *err);

/* Prints the outcome of an answer as every command does and returns the exit code: the body on
 * stdout for 2xx; the error line (and a hint on 401 without a token) on stderr otherwise. */
int hitl__cli_report(const hitl__cli_conn *c, const hitl__cli_reply *r);

/* Prints a local failure as "hitl: CODE: MESSAGE (field: FIELD)" on stderr (without "CODE: " for
 * HITL_EINTERNAL, a file that cannot be read) and returns
 * HITL_EXIT_USAGE for HITL_EVALIDATION (a bad command line), HITL_EXIT_FAILURE otherwise. */
int hitl__cli_fail(const hitl_err *err);

/* Prints "hitl: unreachable: MESSAGE" on stderr and returns HITL_EXIT_UNREACHABLE. */
int hitl__cli_unreachable(const hitl_err *err);

/* hitl__cli_http followed by hitl__cli_report (or hitl__cli_unreachable): the whole of most
 * commands. Returns the exit code. */
int hitl__cli_call(const hitl__cli_conn *c, const char *method, const char *url, const char *body,
                   size_t body_len, const char *extra_header);

/* GETs the calibration view at url and prints its summary (the error line otherwise): `hitl queue
 * calibration NAME` (cli/calib_cmd.c). Returns the exit code. */
int hitl__cli_calibration(const hitl__cli_conn *c, const char *url);

/* GETs one page of a listing: url (extended here) with the --state, --limit and --cursor options
 * of a. A --limit that is not a count is a usage error against usage. Returns the exit code. */
int hitl__cli_get_page(const hitl__cli_conn *c, const hitl__cli_args *a, hitl_buf *url,
                       const char *usage);

#endif
