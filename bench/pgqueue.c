/* SPDX-License-Identifier: MIT */
/* bench_pgqueue: the review queue a team would build by hand on PostgreSQL, driven directly through
 * libpq, as the yardstick of hitl's lifecycle mode on the same database. Producers insert a task of
 * ~1 KB input; reviewers claim one with UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED
 * LIMIT 1) RETURNING, then mark it decided. Every statement is its own transaction, committed with
 * synchronous_commit on. No HTTP, no audit chain, no policy, no events, no counters. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "args.h"
#include "hist.h"
#include "util/clock.h"

#define PGQ_MAX_CONNECTIONS 256
#define PGQ_EMPTY_BACKOFF_US 1000 /* Before claiming again when none is pending (as bench_lifecycle). */

typedef enum pgq_op { PGQ_SUBMIT, PGQ_CLAIM, PGQ_RESPOND, PGQ_OPS } pgq_op;
static const char *const pgq_op_names[PGQ_OPS] = {"submit", "claim", "respond"};

static const char pgq_schema[] =
    "SET client_min_messages = warning;"
    "DROP TABLE IF EXISTS bare_task;"
    "CREATE TABLE bare_task ("
    "  id bigserial PRIMARY KEY,"
    "  input jsonb NOT NULL,"
    "  state text NOT NULL DEFAULT 'pending',"
    "  lease_id uuid,"
    "  leased_at timestamptz,"
    "  decision text,"
    "  decided_at timestamptz,"
    "  created_at timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX bare_task_pending ON bare_task (id) WHERE state = 'pending';";

static const char pgq_sql_submit[] = "INSERT INTO bare_task (input) VALUES ($1::jsonb) RETURNING id";
static const char pgq_sql_claim[] =
    "UPDATE bare_task SET state = 'leased', lease_id = gen_random_uuid(), leased_at = now() "
    "WHERE id = (SELECT id FROM bare_task WHERE state = 'pending' ORDER BY id "
    "FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id, lease_id, input";
static const char pgq_sql_respond[] =
    "UPDATE bare_task SET state = 'decided', decision = 'approve', decided_at = now() "
    "WHERE id = $1::bigint AND lease_id = $2::uuid AND state = 'leased'";

typedef struct pgq_config {
  const char *url;
  double duration_s;
  int producers;
  int reviewers;
  int task_bytes;
} pgq_config;

typedef struct pgq_shared {
  const pgq_config *cfg;
  const char *input; /* The task's JSON input. */
  int64_t start_us;
  int64_t deadline_us;
  atomic_bool abort;
} pgq_shared;

typedef struct pgq_worker {
  pgq_shared *sh;
  bool reviewer;
  pthread_t thread;
  bench_hist hist[PGQ_OPS];
  uint64_t ok[PGQ_OPS];
  uint64_t failed[PGQ_OPS];
  uint64_t empty_claims;
  int64_t end_us;
} pgq_worker;

static void pgq_sleep_us(long us) {
  struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Opens a session with synchronous_commit on; NULL (and a message) on failure. */
static PGconn *pgq_connect(const char *url) {
  PGconn *db = PQconnectdb(url);
  if (PQstatus(db) != CONNECTION_OK) {
    fprintf(stderr, "bench_pgqueue: connect: %s", PQerrorMessage(db));
    PQfinish(db);
    return NULL;
  }
  PGresult *r = PQexec(db, "SET synchronous_commit = on");
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (!ok) {
    fprintf(stderr, "bench_pgqueue: SET synchronous_commit: %s", PQerrorMessage(db));
    PQfinish(db);
    return NULL;
  }
  return db;
}

static bool pgq_prepare(PGconn *db, const char *name, const char *sql) {
  PGresult *r = PQprepare(db, name, sql, 0, NULL);
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) fprintf(stderr, "bench_pgqueue: prepare %s: %s", name, PQerrorMessage(db));
  PQclear(r);
  return ok;
}

/* Counts one statement's outcome; false when the connection is gone (the run is aborted). */
static bool pgq_done(pgq_worker *w, PGconn *db, pgq_op op, PGresult *r, ExecStatusType want,
                     int64_t sent_us) {
  if (PQresultStatus(r) == want) {
    w->ok[op]++;
    bench_hist_record(&w->hist[op], (uint64_t)(hitl_mono_us() - sent_us));
    return true;
  }
  if (w->failed[op]++ == 0) fprintf(stderr, "bench_pgqueue: %s: %s", pgq_op_names[op], PQerrorMessage(db));
  return PQstatus(db) == CONNECTION_OK;
}

static void pgq_produce(pgq_worker *w, PGconn *db) {
  const char *params[1] = {w->sh->input};
  int64_t t0 = hitl_mono_us();
  PGresult *r = PQexecPrepared(db, "submit", 1, params, NULL, NULL, 0);
  if (!pgq_done(w, db, PGQ_SUBMIT, r, PGRES_TUPLES_OK, t0)) atomic_store(&w->sh->abort, true);
  PQclear(r);
}

static void pgq_review(pgq_worker *w, PGconn *db) {
  int64_t t0 = hitl_mono_us();
  PGresult *r = PQexecPrepared(db, "claim", 0, NULL, NULL, NULL, 0);
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0) {
    PQclear(r);
    w->empty_claims++;
    pgq_sleep_us(PGQ_EMPTY_BACKOFF_US);
    return;
  }
  if (!pgq_done(w, db, PGQ_CLAIM, r, PGRES_TUPLES_OK, t0) || PQresultStatus(r) != PGRES_TUPLES_OK) {
    if (PQstatus(db) != CONNECTION_OK) atomic_store(&w->sh->abort, true);
    PQclear(r);
    return;
  }
  char id[32], lease[64];
  snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
  snprintf(lease, sizeof lease, "%s", PQgetvalue(r, 0, 1));
  PQclear(r);
  const char *params[2] = {id, lease};
  t0 = hitl_mono_us();
  r = PQexecPrepared(db, "respond", 2, params, NULL, NULL, 0);
  if (PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdTuples(r), "1") != 0) {
    if (w->failed[PGQ_RESPOND]++ == 0) fprintf(stderr, "bench_pgqueue: respond: lease %s not held\n", lease);
  } else if (!pgq_done(w, db, PGQ_RESPOND, r, PGRES_COMMAND_OK, t0)) {
    atomic_store(&w->sh->abort, true);
  }
  PQclear(r);
}

static void *pgq_worker_main(void *arg) {
  pgq_worker *w = arg;
  PGconn *db = pgq_connect(w->sh->cfg->url);
  if (db == NULL || !pgq_prepare(db, "submit", pgq_sql_submit) || !pgq_prepare(db, "claim", pgq_sql_claim) ||
      !pgq_prepare(db, "respond", pgq_sql_respond)) {
    atomic_store(&w->sh->abort, true);
    PQfinish(db);
    w->end_us = hitl_mono_us();
    return NULL;
  }
  while (!atomic_load(&w->sh->abort) && hitl_mono_us() < w->sh->deadline_us) {
    if (w->reviewer) pgq_review(w, db);
    else pgq_produce(w, db);
  }
  w->end_us = hitl_mono_us();
  PQfinish(db);
  return NULL;
}

/* The task input: {"text": "<task_bytes of words>", as bench_lifecycle's, without the suggestion. */
static char *pgq_input(int task_bytes) {
  static const char words[] = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do ";
  char *s = malloc((size_t)task_bytes + 16);
  if (s == NULL) return NULL;
  size_t n = 0;
  memcpy(s, "{\"text\":\"", 9);
  n = 9;
  for (int i = 0; i < task_bytes; i++) s[n++] = words[(size_t)i % (sizeof words - 1)];
  memcpy(s + n, "\"}", 3);
  return s;
}

/* libpq URL to a loopback server or a local socket only. */
static bool pgq_url_local(const char *url) {
  char *err = NULL;
  PQconninfoOption *opts = PQconninfoParse(url, &err);
  if (opts == NULL) {
    fprintf(stderr, "bench_pgqueue: bad URL: %s", err ? err : "\n");
    PQfreemem(err);
    return false;
  }
  bool ok = true;
  for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
    if (o->val == NULL || *o->val == '\0') continue;
    if (strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0) {
      const char *v = o->val;
      ok &= strncmp(v, "127.", 4) == 0 || strcmp(v, "localhost") == 0 || v[0] == '/';
    }
  }
  PQconninfoFree(opts);
  if (!ok) fprintf(stderr, "bench_pgqueue: the server must be on 127.0.0.0/8 or a local socket\n");
  return ok;
}

static int pgq_setup(const char *url) {
  PGconn *db = pgq_connect(url);
  if (db == NULL) return -1;
  PGresult *r = PQexec(db, pgq_schema);
  int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
  if (rc != 0) fprintf(stderr, "bench_pgqueue: schema: %s", PQerrorMessage(db));
  PQclear(r);
  PQfinish(db);
  return rc;
}

static double pgq_rate(uint64_t n, double secs) { return secs > 0 ? (double)n / secs : 0.0; }

static int pgq_run(const pgq_config *cfg) {
  if (pgq_setup(cfg->url) != 0) return 1;
  int n = cfg->producers + cfg->reviewers;
  pgq_shared sh = {.cfg = cfg, .input = pgq_input(cfg->task_bytes)};
  pgq_worker *ws = calloc((size_t)n, sizeof *ws);
  if (sh.input == NULL || ws == NULL) {
    free((void *)sh.input);
    free(ws);
    return 1;
  }
  atomic_init(&sh.abort, false);
  printf("bench_pgqueue: %d producers, %d reviewers, %.1f s\n", cfg->producers, cfg->reviewers, cfg->duration_s);
  sh.start_us = hitl_mono_us();
  sh.deadline_us = sh.start_us + (int64_t)(cfg->duration_s * 1e6);
  int started = 0;
  for (; started < n; started++) {
    pgq_worker *w = &ws[started];
    w->sh = &sh;
    w->reviewer = started >= cfg->producers;
    for (int k = 0; k < PGQ_OPS; k++) bench_hist_init(&w->hist[k]);
    if (pthread_create(&w->thread, NULL, pgq_worker_main, w) != 0) {
      atomic_store(&sh.abort, true);
      break;
    }
  }
  pgq_worker all;
  memset(&all, 0, sizeof all);
  for (int k = 0; k < PGQ_OPS; k++) bench_hist_init(&all.hist[k]);
  int64_t end = sh.start_us;
  for (int i = 0; i < started; i++) {
    pthread_join(ws[i].thread, NULL);
    if (ws[i].end_us > end) end = ws[i].end_us;
    for (int k = 0; k < PGQ_OPS; k++) {
      bench_hist_merge(&all.hist[k], &ws[i].hist[k]);
      all.ok[k] += ws[i].ok[k];
      all.failed[k] += ws[i].failed[k];
    }
    all.empty_claims += ws[i].empty_claims;
  }
  double secs = (double)(end - sh.start_us) / 1e6;
  uint64_t requests = all.empty_claims, errors = 0;
  for (int k = 0; k < PGQ_OPS; k++) {
    requests += all.ok[k] + all.failed[k];
    errors += all.failed[k];
  }
  bool aborted = atomic_load(&sh.abort);
  printf("  statements %10" PRIu64 "    %10.1f/s  in %.2f s  errors %" PRIu64 "%s\n", requests,
         pgq_rate(requests, secs), secs, errors, aborted ? " (aborted)" : "");
  for (int k = 0; k < PGQ_OPS; k++) {
    const bench_hist *h = &all.hist[k];
    printf("  %-8s %10" PRIu64 " ok %10.1f/s  p50 %7" PRIu64 " us  p99 %7" PRIu64 " us  max %8" PRIu64
           " us  failed %" PRIu64 "\n",
           pgq_op_names[k], all.ok[k], pgq_rate(all.ok[k], secs), bench_hist_percentile(h, 50),
           bench_hist_percentile(h, 99), h->count ? h->max : 0, all.failed[k]);
  }
  if (all.empty_claims) printf("  claims that found none pending: %" PRIu64 "\n", all.empty_claims);
  long backlog = (long)all.ok[PGQ_SUBMIT] - (long)all.ok[PGQ_CLAIM];
  printf("  lifecycles %" PRIu64 " (%.1f/s), backlog %ld\n", all.ok[PGQ_RESPOND],
         pgq_rate(all.ok[PGQ_RESPOND], secs), backlog);
  printf("{\"mode\":\"pg-bare\",\"connections\":%d,\"producers\":%d,\"reviewers\":%d,\"duration_s\":%.3f,"
         "\"elapsed_s\":%.3f,\"requests\":%" PRIu64 ",\"requests_per_s\":%.1f,\"errors\":%" PRIu64
         ",\"empty_claims\":%" PRIu64,
         n, cfg->producers, cfg->reviewers, cfg->duration_s, secs, requests, pgq_rate(requests, secs), errors,
         all.empty_claims);
  for (int k = 0; k < PGQ_OPS; k++) {
    const bench_hist *h = &all.hist[k];
    printf(",\"%s\":{\"count\":%" PRIu64 ",\"per_s\":%.1f,\"p50_us\":%" PRIu64 ",\"p90_us\":%" PRIu64
           ",\"p99_us\":%" PRIu64 ",\"p999_us\":%" PRIu64 ",\"max_us\":%" PRIu64 ",\"mean_us\":%.1f,\"failed\":%" PRIu64
           "}",
           pgq_op_names[k], all.ok[k], pgq_rate(all.ok[k], secs), bench_hist_percentile(h, 50),
           bench_hist_percentile(h, 90), bench_hist_percentile(h, 99), bench_hist_percentile(h, 99.9),
           h->count ? h->max : 0, h->count ? (double)h->sum / (double)h->count : 0.0, all.failed[k]);
  }
  printf(",\"lifecycles\":%" PRIu64 ",\"lifecycles_per_s\":%.1f,\"backlog\":%ld}\n", all.ok[PGQ_RESPOND],
         pgq_rate(all.ok[PGQ_RESPOND], secs), backlog);
  free((void *)sh.input);
  free(ws);
  return errors == 0 && !aborted && started == n ? 0 : 1;
}

static void pgq_usage(FILE *out) {
  fprintf(out, "usage: bench_pgqueue [options]\n"
               "  --url URL          libpq URL of a database on 127.0.0.0/8 or a local socket\n"
               "                     (default: $HITL_PG_URL); its table bare_task is created afresh\n"
               "  --duration S       seconds of measurement (default 10)\n"
               "  --connections N    connections, one thread each (default 16)\n"
               "  --producers N      inserting connections (default half)\n"
               "  --reviewers N      claiming connections (default the rest)\n"
               "  --task-bytes N     length of each task's input text (default 1024)\n");
}

int main(int argc, char **argv) {
  pgq_config cfg = {.url = getenv("HITL_PG_URL"), .duration_s = 10, .task_bytes = 1024};
  long connections = 16, producers = -1, reviewers = -1, v = 0;
  bool connections_given = false;
  /* Every option but --help takes a value: the loop steps over both. */
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      pgq_usage(stdout);
      return 0;
    }
    if (val == NULL) goto bad;
    if (strcmp(a, "--url") == 0) cfg.url = val;
    else if (strcmp(a, "--duration") == 0) {
      if (bench_double(val, 0.1, 86400, &cfg.duration_s) != 0) goto bad;
    } else if (strcmp(a, "--connections") == 0) {
      if (bench_long(val, 2, PGQ_MAX_CONNECTIONS, &connections) != 0) goto bad;
      connections_given = true;
    } else if (strcmp(a, "--producers") == 0) {
      if (bench_long(val, 1, PGQ_MAX_CONNECTIONS, &producers) != 0) goto bad;
    } else if (strcmp(a, "--reviewers") == 0) {
      if (bench_long(val, 1, PGQ_MAX_CONNECTIONS, &reviewers) != 0) goto bad;
    } else if (strcmp(a, "--task-bytes") == 0) {
      if (bench_long(val, 1, 1 << 20, &v) != 0) goto bad;
      cfg.task_bytes = (int)v;
    } else {
      goto bad;
    }
  }
  if (cfg.url == NULL || *cfg.url == '\0') {
    fprintf(stderr, "bench_pgqueue: give --url or HITL_PG_URL\n");
    return 2;
  }
  if (producers > 0 && reviewers > 0 && !connections_given) connections = producers + reviewers;
  if (producers < 0 && reviewers < 0) producers = connections / 2;
  if (producers < 0) producers = connections - reviewers;
  if (reviewers < 0) reviewers = connections - producers;
  if (producers < 1 || reviewers < 1 || producers + reviewers != connections) {
    fprintf(stderr, "bench_pgqueue: producers >= 1 and reviewers >= 1 must add up to --connections\n");
    return 2;
  }
  cfg.producers = (int)producers;
  cfg.reviewers = (int)reviewers;
  if (!pgq_url_local(cfg.url)) return 2;
  return pgq_run(&cfg);
bad:
  pgq_usage(stderr);
  return 2;
}
