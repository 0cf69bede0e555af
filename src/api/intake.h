/* SPDX-License-Identifier: MIT */
/* Request intake: what is checked of a request's line and headers before any body is read. */
#ifndef HITL_API_INTAKE_H
#define HITL_API_INTAKE_H

#include <stdbool.h>
#include <stddef.h>

/* Most query arguments a request may carry; no route reads more than a handful. */
#define HITL_MAX_QUERY_ARGS 64

/* What was seen of the request target as received, before libmicrohttpd split it. */
typedef struct hitl_intake {
  size_t target_len; /* Bytes of the target up to its first NUL. */
  bool target_ctl;   /* The target holds a space or a control byte. */
  int n_args;        /* Query arguments ('&'-separated parts after the '?'). */
  bool query_cut;    /* There were more than HITL_MAX_QUERY_ARGS: the query was cut off. */
} hitl_intake;

typedef struct hitl_request hitl_request;

/* Records what uri (the raw target libmicrohttpd passes to its URI log callback, may be NULL)
 * holds. When the query has more than HITL_MAX_QUERY_ARGS arguments, ends it right after the
 * '?' in place, so that libmicrohttpd does not parse them (see intake.c). */
void hitl__intake_target(hitl_intake *in, const char *uri);

/* Checks the request line and headers of req (url and version as the access handler got them)
 * against RFC 9112: a method that is a token; a target without NUL, space or control bytes and
 * with at most HITL_MAX_QUERY_ARGS arguments; header names that are tokens and values without
 * control bytes; exactly one Host in HTTP/1.1; at most one Authorization; Content-Length digits
 * and no two that differ; Transfer-Encoding only "chunked", only in HTTP/1.1 and never with
 * Content-Length. Returns true when all hold; otherwise answers 400 with req->close set and
 * returns false. */
bool hitl__intake_check(hitl_request *req, const char *url, const char *version);

#endif
