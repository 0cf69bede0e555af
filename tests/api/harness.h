/* SPDX-License-Identifier: MIT */
/* API test harness: starts the real hitl binary on 127.0.0.1, talks HTTP to it, stops it. */
#ifndef HITL_TESTS_API_HARNESS_H
#define HITL_TESTS_API_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ADMIN_TOKEN "test-admin-token-0123456789abcdef0123" /* serve wants 32 or more. */

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
/* GETs url (any scheme, host and port) from the loopback address source (NULL: any), with token
 * (NULL: none), trusting the certificate authority file ca (NULL: the system's). Returns the
 * status, 0 when the transfer failed (*curl_code, when not NULL, gets libcurl's result). headers
 * (may be NULL) receives the answer's header lines, malloc'd. The body is dropped. */
long tr_get_url(const char *url, const char *source, const char *token, const char *ca,
                int *curl_code, char **headers);

/* Shortcuts on the parsed body. */
const char *tj_str(const test_resp *r, const char *path); /* path like "error.code" or "lease.id" */
long long tj_int(const test_resp *r, const char *path);
/* The value of response header name (case-insensitive), malloc'd, or NULL. */
char *tr_header(const test_resp *r, const char *name);

/* Creates a token with roles (comma-separated) through the admin token; returns it (static
 * storage per call slot: copy it). */
char *ts_token(test_server *s, const char *name, const char *roles);

/* ---- raw HTTP: bytes written to a socket as given, for framing tests ---- */

typedef struct raw_resp {
  char *data;          /* Everything received, NUL-terminated (a body may hold more NULs). */
  size_t len;
  bool closed;         /* The server closed the connection within the wait. */
  bool answered;       /* A whole status line arrived. */
  int status;          /* Its status code, or 0. */
  long waited_ms;      /* How long until the connection closed or the wait ended. */
} raw_resp;

/* Connects to the server (blocking socket, SIGPIPE suppressed by MSG_NOSIGNAL on writes);
 * returns the descriptor. */
int raw_connect(test_server *s);
/* Writes len bytes of data to fd; returns false when the peer refused them (closed). Waits at
 * most timeout_ms for the socket to take them. */
bool raw_send(int fd, const void *data, size_t len, int timeout_ms);
/* Reads from fd until the server closes it or, after the first status line, until idle_ms pass
 * without a byte, or until timeout_ms in all. Fills out (free with raw_free). */
void raw_read(int fd, int timeout_ms, int idle_ms, raw_resp *out);
/* Connects, sends len bytes, reads the answer as raw_read does (idle_ms 300) and closes. */
void raw_exchange(test_server *s, const void *data, size_t len, int timeout_ms, raw_resp *out);
void raw_free(raw_resp *r);

#endif
