/* SPDX-License-Identifier: MIT */
/* Calibration evidence rebuilt from decided tasks: when a queue starts keeping evidence (its
 * configuration gains a calibrated leaf or a conformal block), and at start for a database from
 * before calibration. */
#include "api/calib_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xmalloc.h"

typedef struct backfill_row {
  hitl_calib_row row;
  int64_t decided_at;
} backfill_row;

static int by_task(const void *a, const void *b) {
  const hitl_calib_row *x = a, *y = b;
  return x->task_seq < y->task_seq ? -1 : x->task_seq > y->task_seq;
}

static int by_decision(const void *a, const void *b) {
  const backfill_row *x = a, *y = b;
  if (x->decided_at != y->decided_at) return x->decided_at < y->decided_at ? -1 : 1;
  return x->row.task_seq < y->row.task_seq ? -1 : x->row.task_seq > y->row.task_seq;
}

/* The queue's stored decided pairs, sorted by task, in *out and *n. */
static int stored_pairs(hitl_store *st, int64_t queue_id, hitl_calib_row **out, size_t *n) {
  hitl_calib_row *all = NULL;
  size_t total = 0, cap = 0;
  int64_t after = 0;
  int rc = 0;
  for (;;) {
    hitl_calib_row *rows = NULL;
    size_t got = 0;
    rc = st->vt->calib_list(st, queue_id, after, HITL__CALIB_LOAD_PAGE, &rows, &got);
    if (rc) break;
    if (total + got > cap) {
      cap = 2 * (total + got);
      all = hitl_xrealloc(all, cap * sizeof *all);
    }
    if (got) memcpy(all + total, rows, got * sizeof *rows);
    total += got;
    if (got) after = rows[got - 1].decided_seq;
    free(rows);
    if (got < HITL__CALIB_LOAD_PAGE) break;
  }
  if (total) qsort(all, total, sizeof *all, by_task);
  *out = all;
  *n = total;
  return rc;
}

/* The pair of a decided task into *out: its stored pair when it has one (*fresh false); else
 * one judged from its decision (*fresh true), with the routing tag stored when the task was
 * routed, or as a uniform pair (everything was reviewed). False when it has none. */
static bool pair_of(hitl_store *st, const hitl_queue_config *q, const hitl_task *t,
                    hitl_calib_row *stored, size_t n_stored, backfill_row *out, bool *fresh) {
  *fresh = false;
  if (t->decided_by == NULL ||
      (strcmp(t->decided_by, HITL_BY_HUMAN) != 0 && strcmp(t->decided_by, HITL_BY_CONSENSUS) != 0))
    return false;
  out->decided_at = t->decided_at;
  hitl_calib_row key = {.task_seq = t->seq};
  hitl_calib_row *have = n_stored ? bsearch(&key, stored, n_stored, sizeof key, by_task) : NULL;
  if (have) { /* Kept as it is, verdict included: only its place in the order may change. */
    out->row = *have;
    have->decided_seq = -1; /* Taken. */
    return true;
  }
  json_t *decision = t->decision ? json_loads(t->decision, 0, NULL) : NULL;
  json_t *payload = t->payload ? json_loads(t->payload, 0, NULL) : NULL;
  double score = t->has_confidence
                     ? t->confidence
                     : hitl__calib_max_probability(json_object_get(payload, "probabilities"));
  if (st->vt->calib_get(st, t->seq, &out->row) != 0) /* No routing tag stored. */
    out->row = (hitl_calib_row){.task_seq = t->seq, .queue_id = t->queue_id, .score = score,
                                .propensity = 1, .uniform = true};
  out->row.correct = -1;
  bool judged = hitl__calib_judge(q, decision, payload, &out->row);
  json_decref(decision);
  json_decref(payload);
  *fresh = judged && !isnan(out->row.score);
  return *fresh;
}

int hitl__calib_backfill(hitl_store *st, int64_t queue_id, const hitl_queue_config *config) {
  hitl_calib_row *stored = NULL;
  size_t n_stored = 0;
  backfill_row *rows = NULL;
  size_t n = 0, cap = 0, n_fresh = 0;
  int64_t before = INT64_MAX;
  int rc = stored_pairs(st, queue_id, &stored, &n_stored);
  while (rc == 0) {
    hitl_task *tasks = NULL;
    size_t got = 0;
    hitl_task_scan scan = {.queue_id = queue_id, .state = HITL_TASK_DECIDED, .before_seq = before};
    rc = st->vt->task_scan(st, &scan, HITL__CALIB_LOAD_PAGE, &tasks, &got);
    if (rc) break;
    for (size_t i = 0; i < got; i++) {
      if (n == cap) {
        cap = cap ? 2 * cap : 256;
        rows = hitl_xrealloc(rows, cap * sizeof *rows);
      }
      bool fresh;
      if (pair_of(st, config, &tasks[i], stored, n_stored, &rows[n], &fresh)) n++;
      n_fresh += fresh;
      before = tasks[i].seq;
      hitl_task_clear(&tasks[i]);
    }
    free(tasks);
    if (got < HITL__CALIB_LOAD_PAGE) break;
  }
  /* A stored pair whose task was not listed keeps its verdict, ordered first. */
  for (size_t i = 0; rc == 0 && i < n_stored; i++) {
    if (stored[i].decided_seq < 0) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 256;
      rows = hitl_xrealloc(rows, cap * sizeof *rows);
    }
    rows[n++] = (backfill_row){.row = stored[i], .decided_at = 0};
  }
  /* Nothing to add: the stored pairs stay as they are. Else they are numbered anew, and a
   * snapshot of the state counts others. */
  hitl_calib_snapshot drop = {.queue_id = queue_id};
  if (rc == 0 && n_fresh) rc = st->vt->calib_snapshot_put(st, &drop);
  if (rc == 0 && n_fresh) {
    /* Decision order, numbered 1, 2, ...: below the seq of any later decision's event, since
     * every decided task has at least two events. */
    qsort(rows, n, sizeof *rows, by_decision);
    for (size_t i = 0; i < n && rc == 0; i++) {
      rows[i].row.decided_seq = (int64_t)i + 1;
      rc = st->vt->calib_put(st, &rows[i].row);
    }
    if (rc == 0)
      hitl_log(HITL_LOG_INFO, "msg=\"calibration evidence rebuilt from decided tasks\" "
               "queue_id=%lld pairs=%zu new=%zu", (long long)queue_id, n, n_fresh);
  }
  free(stored);
  free(rows);
  return rc;
}

int hitl__calib_backfill_at_start(hitl_store *st, int64_t queue_id,
                                  const hitl_queue_config *config) {
  if (!hitl_calib_wanted(config)) return 0;
  hitl_calib_row *have = NULL;
  size_t n_have = 0;
  int rc = st->vt->calib_list(st, queue_id, 0, 1, &have, &n_have);
  free(have);
  if (rc || n_have) return rc;
  rc = st->vt->begin(st);
  if (rc == 0) rc = hitl__calib_backfill(st, queue_id, config);
  if (rc == 0) rc = st->vt->commit(st);
  if (rc) st->vt->rollback(st);
  return rc;
}
