/* SPDX-License-Identifier: MIT */
/* Keeping what a server caches (queues, their counts, tokens, waiters) in step with the database:
 * at start, around each commit of its writer, and with the changes of other servers. */
#include "api/sync.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/calib.h"
#include "api/feed.h"
#include "api/queue_json.h"
#include "api/run_cache.h"
#include "api/server_internal.h"
#include "util/log.h"

/* Counts and waiters follow changes: this server's own commits (on_commit) and, on a database
 * several servers share, the others' (from the change feed's thread). */
static void apply_changes(void *ctx, const hitl_change *changes, size_t n) {
  hitl_server *s = ctx;
  hitl__registry_apply(s->registry, changes, n);
  if (n) hitl__waiters_wake(s->waiters, HITL_EVENTS_KEY);
  for (size_t i = 0; i < n; i++) {
    int to = changes[i].to_state;
    if (changes[i].task_id[0] && changes[i].from_state >= 0 &&
        (to == HITL_TASK_DECIDED || to == HITL_TASK_EXPIRED || to == HITL_TASK_CANCELLED))
      hitl__waiters_wake(s->waiters, changes[i].task_id);
    /* A run's command long-polls wait under the run id (api/runs.c); what heartbeats know of
     * it is out of date. */
    if (changes[i].run_id[0]) {
      if (s->run_cache) hitl__run_cache_forget(s->run_cache, changes[i].run_id);
      hitl__waiters_wake(s->waiters, changes[i].run_id);
    }
  }
}

void hitl__sync_on_commit(void *ctx, const hitl_change *changes, size_t n) {
  hitl_server *s = ctx;
  apply_changes(s, changes, n);
  hitl__calib_committed(s->calib);
  hitl__webhooks_committed(s->webhooks);
}

int hitl__sync_before_commit(void *ctx, hitl_txn *x, const hitl_change *changes, size_t n) {
  hitl_server *s = ctx;
  (void)changes;
  (void)n;
  /* What follows needs the events' seqs: link them (which takes the chain's lock until the
   * commit). Calibration may append events (a withdrawal): the outbox and the feed read the
   * changes anew. */
  int rc = hitl_chain_link(x->chain, x->store);
  if (rc == 0) rc = hitl__calib_precommit(s->calib, s->registry, x);
  if (rc == 0) rc = hitl__webhooks_outbox(s->webhooks, x, x->chain->changes, x->chain->n_changes);
  if (rc == 0) rc = hitl__feed_publish(s->feed, x, x->chain->changes, x->chain->n_changes);
  return rc;
}

const hitl_queue_config *hitl__sync_sweep_config(void *ctx, int64_t queue_id) {
  hitl_server *s = ctx;
  return hitl__registry_config_by_id(s->registry, queue_id);
}

int hitl__sync_load_queues(hitl_server *s, hitl_store *st, int64_t only_id, bool created,
                           hitl_err *err) {
  hitl_queue_row *rows = NULL;
  size_t n = 0;
  int rc = st->vt->queue_list(st, &rows, &n);
  if (rc) return hitl_err_set(err, rc, NULL, "cannot list the stored queues");
  for (size_t i = 0; i < n && rc == 0; i++) {
    if (only_id && rows[i].id != only_id) continue;
    bool known = only_id && hitl__registry_config_by_id(s->registry, only_id) != NULL;
    json_error_t je;
    json_t *body = json_loads(rows[i].config, 0, &je);
    hitl_queue_config *config = NULL;
    hitl_queue_stats stats = {0};
    if (body == NULL || hitl__queue_config_from_json(body, &config, err) != 0) {
      rc = hitl_err_set(err, HITL_ESTORE, NULL, "stored queue \"%s\" has an unreadable configuration",
                        rows[i].name);
    } else if (!known && !created && (rc = st->vt->queue_stats(st, rows[i].id, &stats)) != 0) {
      hitl_err_set(err, rc, NULL, "cannot count the tasks of queue \"%s\"", rows[i].name);
      hitl_queue_config_free(config);
    } else {
      /* Before the writer starts, a database from before calibration gets its evidence. */
      if (s->committer == NULL && stats.decided_human + stats.decided_consensus > 0)
        rc = hitl__calib_backfill_at_start(st, rows[i].id, config);
      if (rc == 0) rc = hitl__calib_configure(s->calib, st, rows[i].id, config);
      if (rc) hitl_err_set(err, rc, NULL, "cannot read the calibration evidence of queue \"%s\"",
                           rows[i].name);
      hitl__registry_put(s->registry, rows[i].id, rows[i].name, config, rows[i].created_at,
                         rows[i].updated_at, known ? NULL : &stats);
    }
    json_decref(body);
  }
  for (size_t i = 0; i < n; i++) hitl_queue_row_clear(&rows[i]);
  free(rows);
  return rc;
}

/* Another server's changes (the change feed's thread): counts and waiters as for our own, and
 * what this server caches of queues and tokens is read again when they changed. */
void hitl__sync_apply_remote(void *ctx, const hitl_change *changes, size_t n) {
  hitl_server *s = ctx;
  size_t from = 0; /* Changes before i not applied yet: applied in order around queue loads. */
  for (size_t i = 0; i < n; i++) {
    const char *type = changes[i].type;
    bool queue = strcmp(type, "queue.created") == 0 || strcmp(type, "queue.updated") == 0;
    if (queue || strcmp(type, "token.revoked") == 0) {
      apply_changes(s, changes + from, i - from);
      from = i + 1;
    }
    if (queue) {
      hitl_store *st = hitl__server_reader(s);
      hitl_err err = {0};
      /* Notifications come in commit order: the tasks of a new queue come after it. */
      bool created = strcmp(type, "queue.created") == 0;
      if (st == NULL || hitl__sync_load_queues(s, st, changes[i].queue_id, created, &err) != 0)
        hitl_log(HITL_LOG_ERROR, "msg=\"cannot load a queue another server changed\" queue_id=%lld",
                 (long long)changes[i].queue_id);
    } else if (strcmp(type, "token.revoked") == 0) {
      hitl__auth_forget(s->auth, NULL); /* The change does not name the token: forget them all. */
    }
  }
  apply_changes(s, changes + from, n - from);
}

/* The change feed missed changes (its connection was lost): every queue is read again with its
 * counts, cached tokens are forgotten, and every waiter looks again: event streams for what they
 * missed, long-polls at their task (answered when it was decided meanwhile, else waiting on). */
void hitl__sync_resync(void *ctx) {
  hitl_server *s = ctx;
  hitl_store *st = hitl__server_reader(s);
  hitl_err err = {0};
  if (st == NULL || hitl__sync_load_queues(s, st, 0, false, &err) != 0)
    hitl_log(HITL_LOG_ERROR, "msg=\"cannot read the queues again\" detail=\"%s\"", err.message);
  hitl__auth_forget(s->auth, NULL);
  hitl__waiters_wake_all(s->waiters);
}
