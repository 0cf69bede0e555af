/* SPDX-License-Identifier: MIT */
/* Load clients for crash tests: child processes, each on its own keep-alive connection, that
 * report every acknowledged write on a pipe the moment its answer arrives; and the ledger the
 * test reads those reports into. */
#ifndef HITL_TESTS_API_LOAD_H
#define HITL_TESTS_API_LOAD_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

#define LOAD_ID_MAX 40
#define LOAD_CLIENT_MAX_OPS 100000 /* Bounds for a client that the server never stops. */
#define LOAD_CLIENT_MAX_MS 60000

typedef struct load_client {
  CURL *curl;
  struct curl_slist *headers;
  int port;
  int fd;             /* Where acknowledged operations are reported, one line each. */
  const char *name;
  char *data;         /* The last answer's body. */
  size_t len;
} load_client;

/* A client's work: runs until the server goes away (see load_stopped) or its own bound. */
typedef void (*load_main_fn)(load_client *c, void *arg);

/* Milliseconds of a monotonic clock. */
int64_t load_mono_ms(void);
/* Forks a client that sends as token to 127.0.0.1:port and reports on fd; returns its pid. */
pid_t load_start(int port, int fd, const char *name, const char *token, load_main_fn fn,
                 void *arg);
/* Sends one request on the client's connection; returns the status, 0 when the connection
 * failed. *out gets the parsed body (NULL when none); the caller frees it. */
long load_send(load_client *c, const char *method, const char *path, const char *body,
               json_t **out);
/* Reports one line: a kind letter and its fields, e.g. load_report(c, "S %s %s", id, key).
 * Lines of different clients never interleave. */
void load_report(load_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True, after reporting "X name conn|503", when status says the server went away (the
 * connection failed, or it is stopping); the client should then end. */
bool load_stopped(load_client *c, long status);
/* The string at o.a (or o.a.b), "" when there is none. */
const char *load_jstr(const json_t *o, const char *a, const char *b);

/* What load_reviewer_main does: claim in queue, approve, and keep every hold_every-th claim
 * unanswered. */
typedef struct load_reviewer_arg {
  const char *queue;
  int hold_every;
} load_reviewer_arg;

/* A reviewer (arg: a load_reviewer_arg). Reports "C id lease who" for each claim acknowledged,
 * "H id lease who" for the claims it keeps unanswered and "A id lease who" for each approval
 * acknowledged. */
void load_reviewer_main(load_client *c, void *arg);

/* One acknowledged operation as a client reported it: a kind letter and up to three words. */
typedef struct load_ack {
  char kind;
  char a[LOAD_ID_MAX], b[64], c[32];
} load_ack;

typedef struct load_ledger {
  load_ack *v;
  size_t n, cap;
  size_t count[128];   /* Per kind. */
  int stopped_conn, stopped_503, stopped_cap, errors;
  char pending[4096];  /* An incomplete line read from the pipe. */
  size_t pending_len;
} load_ledger;

/* Adds an acknowledged operation (also used for the test's own requests). */
void load_ledger_add(load_ledger *l, char kind, const char *a, const char *b, const char *c);
/* Reads what is available on fd within timeout_ms into the ledger; returns false at end of
 * file. "X" lines count how clients stopped, "E" lines (an unexpected answer) count as errors
 * and are printed; any other line is an acknowledgement. */
bool load_ledger_read(load_ledger *l, int fd, int timeout_ms);
/* True when the ledger holds an acknowledgement of kind about a. */
bool load_ledger_has(const load_ledger *l, char kind, const char *a);
void load_ledger_free(load_ledger *l);
/* After the server went away: reads the clients' last reports from fd (bounded), closes it and
 * reaps the n clients, which must have ended normally. */
void load_finish(load_ledger *l, int fd, const pid_t *kids, size_t n);

/* Stops the server with sig, like ts_stop, and checks how it ended: killed by SIGKILL, or for
 * any other signal a clean exit (status 0, which under the sanitizers also means no leak). */
void load_stop(test_server *s, int sig);
/* The first column of the first row of a query (printf-formatted) on the database file db,
 * read beside the server. */
long long load_sql_count(const char *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
