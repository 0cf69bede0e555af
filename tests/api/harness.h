/* SPDX-License-Identifier: MIT */
/* API test harness: starts the real hitl binary on 127.0.0.1, talks HTTP to it, stops it. */
#ifndef HITL_TESTS_API_HARNESS_H
#define HITL_TESTS_API_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ADMIN_TOKEN "test-admin-token-0123456789"

typedef struct test_server {
  pid_t pid;           /* 0 when not running. */
  int port;
  char dir[256];       /* Temporary directory holding the database. */
  char db[300];        /* The SQLite file, or the URL of the test's PostgreSQL database. */
} test_server;

typedef struct test_resp {
  long status;
  char *body;          /* NUL-terminated. */
  json_t *json;        /* Parsed body, or NULL when it is not JSON. */
  char *content_type;
  char *headers;       /* The response's header lines, as received. */
} test_resp;

/* Starts `hitl serve` on a fresh temporary directory (dir empty) or on s->dir (restart), with
 * extra arguments (NULL-terminated, may be NULL). Waits (bounded) until it listens. */
void ts_start(test_server *s, const char *const *extra_args);
/* Runs `hitl audit verify --db db`; returns its exit status and its stdout in out. */
int ts_audit_verify(const char *db, char *out, size_t cap);
/* Sends sig to the server and reaps it. */
void ts_stop(test_server *s, int sig);
/* Removes the temporary directory. Fails the test when the server's log (server.log in it)
 * holds a sanitizer report. */
void ts_cleanup(test_server *s);

/* Sends a request; token NULL sends no Authorization; body NULL sends none. The response must
 * be freed with tr_free. Returns the status (0 when the connection failed). */
long tr(test_server *s, const char *method, const char *path, const char *token, const char *body,
        test_resp *out);
/* Same, with extra headers ("Name: value"), NULL-terminated. */
long tr_headers(test_server *s, const char *method, const char *path, const char *token,
                const char *body, const char *const *headers, test_resp *out);
void tr_free(test_resp *r);

/* Shortcuts on the parsed body. */
const char *tj_str(const test_resp *r, const char *path); /* path like "error.code" or "lease.id" */
long long tj_int(const test_resp *r, const char *path);
/* The value of response header name (case-insensitive), malloc'd, or NULL. */
char *tr_header(const test_resp *r, const char *name);

/* Creates a token with roles (comma-separated) through the admin token; returns it (static
 * storage per call slot: copy it). */
char *ts_token(test_server *s, const char *name, const char *roles);

#endif
