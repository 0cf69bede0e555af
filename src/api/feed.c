/* SPDX-License-Identifier: MIT */
/* The change feed between servers: the changes of each transaction as text, published through the
 * store (NOTIFY on PostgreSQL) and read back by every other server's feed thread. */
#include "api/feed.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/lifecycle.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define WAIT_MS 250 /* How long the thread waits for news before it looks at `stopping`. */

/* A text is a header line, "hitl-changes 1 <node>", then one line per change:
 * "<seq> <queue_id> <from_state> <to_state> <decider> <task_id, run_id or -> <type>", decider an index
 * into deciders (0: not decided). The node id lets a server skip its own texts. */
static const char *const deciders[] = {NULL, HITL_BY_POLICY, HITL_BY_HUMAN, HITL_BY_CONSENSUS,
                                       HITL_BY_SLA};
#define N_DECIDERS (sizeof deciders / sizeof deciders[0])

/* The event types, so that a change read back has a static type string as its contract says;
 * one this version does not know (a newer server's) reads as "other". */
static const char *const types[] = {
    "queue.created", "queue.updated", "token.created", "token.revoked", "task.submitted",
    "task.leased", "task.lease_renewed", "task.lease_expired", "task.released", "task.responded",
    "task.skipped", "task.escalated", "task.decided", "task.expired", "task.cancelled",
    "run.started", "run.command", "run.command_acked", "run.lost", "run.found", "run.finished"};

static const char *static_type(const char *type) {
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (strcmp(type, types[i]) == 0) return types[i];
  return "other";
}

struct hitl_feed {
  hitl_store *store;     /* The listening handle, used by the thread only. */
  hitl_commit_fn apply;
  hitl_resync_fn resync;
  void *ctx;
  char node[HITL_ID_LEN]; /* This server's id in the texts it publishes. */
  pthread_t thread;
  int stopping;           /* Read and written atomically. */
};

static int decider_index(const char *by) {
  for (size_t i = 1; by && i < N_DECIDERS; i++)
    if (strcmp(by, deciders[i]) == 0) return (int)i;
  return 0;
}

int hitl__feed_publish(hitl_feed *f, hitl_txn *x, const hitl_change *changes, size_t n) {
  if (f == NULL || n == 0) return 0;
  hitl_buf text = HITL_BUF_INIT;
  char line[160];
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const hitl_change *c = &changes[i];
    int len = snprintf(line, sizeof line, "%" PRId64 " %" PRId64 " %d %d %d %s %.40s\n", c->seq,
                       c->queue_id, c->from_state, c->to_state, decider_index(c->decided_by),
                       c->task_id[0] ? c->task_id : c->run_id[0] ? c->run_id : "-",
                       c->type ? c->type : "other");
    /* A text is sent when the next line would not fit, and at the end. */
    if (text.len > 0 && text.len + (size_t)len > HITL_CHANGES_MAX) {
      rc = x->store->vt->changes_publish(x->store, hitl_buf_cstr(&text));
      hitl_buf_reset(&text);
    }
    if (text.len == 0) hitl_buf_printf(&text, "hitl-changes 1 %s\n", f->node);
    hitl_buf_append(&text, line, (size_t)len);
  }
  if (rc == 0 && text.len > 0) rc = x->store->vt->changes_publish(x->store, hitl_buf_cstr(&text));
  hitl_buf_free(&text);
  return rc;
}

/* Applies one text another server published (its own are skipped). */
static void apply_text(hitl_feed *f, const char *text) {
  char node[HITL_ID_LEN];
  int used = 0;
  if (sscanf(text, "hitl-changes 1 %31s\n%n", node, &used) != 1 || used == 0) return;
  if (strcmp(node, f->node) == 0) return;
  hitl_change *changes = NULL;
  size_t n = 0, cap = 0;
  for (const char *p = text + used; *p;) {
    hitl_change c = {0};
    int64_t seq = 0, queue_id = 0;
    int from = 0, to = 0, by = 0, len = 0;
    char task[HITL_ID_LEN], type[48];
    if (sscanf(p, "%" SCNd64 " %" SCNd64 " %d %d %d %31s %47s%n", &seq, &queue_id, &from, &to,
               &by, task, type, &len) != 7)
      break;
    c.type = static_type(type);
    p += len;
    while (*p == '\n') p++;
    if (from < -1 || from >= HITL_TASK_NSTATES || to < -1 || to >= HITL_TASK_NSTATES || by < 0 ||
        by >= (int)N_DECIDERS)
      continue; /* Not from this version of hitl: skip rather than miscount. */
    c.seq = seq;
    c.queue_id = queue_id;
    c.from_state = from;
    c.to_state = to;
    c.decided_by = deciders[by];
    /* An agent run's change carries the run id there instead ("run_..."; task ids are "t_..."):
     * it wakes the run's command long-polls on this server. */
    if (strncmp(task, "run_", 4) == 0)
      snprintf(c.run_id, sizeof c.run_id, "%s", task);
    else if (strcmp(task, "-") != 0)
      snprintf(c.task_id, sizeof c.task_id, "%s", task);
    if (n == cap) {
      cap = cap ? cap * 2 : 32;
      changes = hitl_xrealloc(changes, cap * sizeof *changes);
    }
    changes[n++] = c;
  }
  if (n) f->apply(f->ctx, changes, n);
  free(changes);
}

static void *feed_main(void *arg) {
  hitl_feed *f = arg;
  pthread_setname_np(pthread_self(), "hitl-feed");
  while (!__atomic_load_n(&f->stopping, __ATOMIC_ACQUIRE)) {
    char **texts = NULL;
    size_t n = 0;
    int rc = f->store->vt->changes_wait(f->store, WAIT_MS, &texts, &n);
    if (rc == HITL_ERETRY) {
      hitl_log(HITL_LOG_WARN, "msg=\"the change feed was cut off: reading the queues again\"");
      f->resync(f->ctx);
      continue;
    }
    if (rc != 0) {
      /* The database is away; try again shortly (the reconnection then asks for a resync). */
      struct timespec pause = {.tv_nsec = WAIT_MS * 1000000L};
      nanosleep(&pause, NULL);
      continue;
    }
    for (size_t i = 0; i < n; i++) {
      apply_text(f, texts[i]);
      free(texts[i]);
    }
    free(texts);
  }
  return NULL;
}

hitl_feed *hitl__feed_start(const char *location, hitl_commit_fn apply, hitl_resync_fn resync,
                            void *ctx) {
  hitl_store *st = NULL;
  hitl_err err = {0};
  if (hitl_store_open(location, &st, &err) != 0) {
    hitl_log(HITL_LOG_ERROR, "msg=\"the change feed cannot open the database\" detail=\"%s\"",
             err.message);
    return NULL;
  }
  char **texts = NULL;
  size_t n = 0;
  int rc = st->vt->changes_wait(st, 0, &texts, &n); /* Starts listening, or says there is no feed. */
  for (size_t i = 0; i < n; i++) free(texts[i]);
  free(texts);
  if (rc != 0) {
    if (rc != HITL_ENOT_FOUND)
      hitl_log(HITL_LOG_ERROR, "msg=\"the change feed cannot listen\" rc=%d", rc);
    hitl_store_close(st);
    return NULL;
  }
  hitl_feed *f = hitl_xcalloc(1, sizeof *f);
  f->store = st;
  f->apply = apply;
  f->resync = resync;
  f->ctx = ctx;
  hitl_id_new("n", f->node);
  pthread_create(&f->thread, NULL, feed_main, f);
  return f;
}

void hitl__feed_stop(hitl_feed *f) {
  if (f == NULL) return;
  __atomic_store_n(&f->stopping, 1, __ATOMIC_RELEASE);
  pthread_join(f->thread, NULL);
  hitl_store_close(f->store);
  free(f);
}
