/* SPDX-License-Identifier: MIT */
/* A core test bench shared by unit tests: a fresh SQLite store in a temporary directory, one
 * queue, a chain, and transactions run at a time the test chooses (no wall clock). */
#ifndef HITL_TESTS_UNIT_CORE_FIXTURE_H
#define HITL_TESTS_UNIT_CORE_FIXTURE_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/queue_json.h"
#include "core/chain.h"
#include "core/lifecycle.h"
#include "store/store.h"
#include "util/id.h"
#include "util/xmalloc.h"

typedef struct core_bench {
  char dir[256];
  char path[300];
  hitl_store *s;
  hitl_chain chain;
  hitl_queue_config *q;
  int64_t queue_id;
} core_bench;

/* Opens a new store in a new temporary directory and creates queue "q" from config (JSON). */
static inline void bench_open(core_bench *b, const char *config) {
  memset(b, 0, sizeof *b);
  const char *tmp = getenv("TMPDIR");
  snprintf(b->dir, sizeof b->dir, "%s/hitl-core-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  if (mkdtemp(b->dir) == NULL) abort();
  snprintf(b->path, sizeof b->path, "%s/hitl.db", b->dir);
  hitl_err err = {0};
  if (hitl_store_open(b->path, &b->s, &err) != 0) {
    fprintf(stderr, "open %s: %s\n", b->path, err.message);
    abort();
  }
  hitl_chain_init(&b->chain);
  json_t *j = json_loads(config, 0, NULL);
  if (j == NULL || hitl__queue_config_from_json(j, &b->q, &err) != 0) {
    fprintf(stderr, "queue config: %s (%s)\n", err.message, err.field);
    abort();
  }
  json_decref(j);
  bool created = false;
  if (b->s->vt->begin(b->s) || b->s->vt->queue_put(b->s, "q", b->q->json, 1000, &b->queue_id,
                                                     &created) || b->s->vt->commit(b->s))
    abort();
}

/* Closes the store and removes its files and directory. */
static inline void bench_close(core_bench *b) {
  hitl_store_close(b->s);
  hitl_chain_free(&b->chain);
  hitl_queue_config_free(b->q);
  static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    char p[320];
    snprintf(p, sizeof p, "%s%s", b->path, suffixes[i]);
    unlink(p);
  }
  rmdir(b->dir);
}

/* A transaction of the bench at time now (ms since the epoch), after begin(). */
static inline hitl_txn bench_txn(core_bench *b, int64_t now) {
  return (hitl_txn){.store = b->s, .chain = &b->chain, .now = now};
}

/* Ends the transaction the way the group committer does: commit when rc is 0, else roll back.
 * Returns rc, or the commit's error. */
static inline int bench_end(core_bench *b, int rc) {
  if (rc == 0) rc = b->s->vt->commit(b->s);
  if (rc == 0) {
    hitl_chain_committed(&b->chain);
  } else {
    b->s->vt->rollback(b->s);
    hitl_chain_rolled_back(&b->chain);
  }
  return rc;
}

/* A new task of the bench's queue, routed by its policy at now (empty input), ready to submit. */
static inline void bench_task(core_bench *b, hitl_task *t, int64_t now) {
  memset(t, 0, sizeof *t);
  hitl_id_new("t", t->id);
  t->queue_id = b->queue_id;
  t->queue = hitl_xstrdup("q");
  t->created_at = now;
  t->submitted_by = hitl_xstrdup("agent");
  t->payload = hitl_xstrdup("{\"input\":{}}");
  hitl_policy_input in = {.sample_key = t->id};
  if (hitl_task_route(b->q, &in, t, now) != 0) abort();
}

#endif
