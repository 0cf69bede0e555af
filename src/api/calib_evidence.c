/* SPDX-License-Identifier: MIT */
/* Calibration evidence from human decisions, on the writer thread: each decided task's verified
 * pair stored with it in the deciding transaction, added to its queue's state (undone when the
 * transaction does not commit), and the events a certificate's issue or withdrawal calls for. */
#include "api/calib_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xmalloc.h"

/* Puts the state back as it was before the last transaction's adds (it did not commit). */
static void undo_pending(hitl_calib_set *c) {
  for (size_t i = 0; i < c->n_pending; i++) {
    hitl_calib_entry *e = c->pending[i];
    pthread_mutex_lock(&e->lock);
    if (e->cal && e->undo)
      hitl_calibration_restore(e->cal, e->undo, hitl_calibration_snapshot_size(), NULL);
    e->saved = false;
    e->certified = e->undo_certified;
    e->last_seq = e->undo_last_seq;
    e->since_snapshot = e->undo_since_snapshot;
    pthread_mutex_unlock(&e->lock);
    free(e->undo);
    e->undo = NULL;
  }
  c->n_pending = 0;
  c->n_conf_adds = 0;
}

void hitl__calib_committed(hitl_calib_set *c) {
  for (size_t i = 0; i < c->n_conf_adds; i++) {
    hitl_calib_entry *e = c->conf_adds[i].e;
    pthread_mutex_lock(&e->lock);
    if (e->conf) hitl_conformal_add_score(e->conf, c->conf_adds[i].score);
    pthread_mutex_unlock(&e->lock);
  }
  c->n_conf_adds = 0;
  for (size_t i = 0; i < c->n_pending; i++) {
    free(c->pending[i]->undo);
    c->pending[i]->undo = NULL;
    c->pending[i]->saved = false;
  }
  c->n_pending = 0;
}

/* Keeps e's state so that undo_pending can put it back. Under e->lock. */
static void save_undo(hitl_calib_set *c, hitl_calib_entry *e) {
  if (e->saved) return;
  e->saved = true;
  if (e->cal) {
    e->undo = hitl_xmalloc(hitl_calibration_snapshot_size() * sizeof *e->undo);
    hitl_calibration_snapshot(e->cal, e->undo);
  }
  e->undo_certified = e->certified;
  e->undo_last_seq = e->last_seq;
  e->undo_since_snapshot = e->since_snapshot;
  if (c->n_pending == c->cap_pending) {
    c->cap_pending = c->cap_pending ? 2 * c->cap_pending : 8;
    c->pending = hitl_xrealloc(c->pending, c->cap_pending * sizeof *c->pending);
  }
  c->pending[c->n_pending++] = e;
}

static void put_cert(hitl_buf *b, const hitl_calib_certificate *cert) {
  static const char *const keys[] = {"threshold", "n", "k", "bound"};
  hitl__calib_put_numbers(b, keys, (double[]){cert->threshold, cert->n, cert->k, cert->bound}, 4);
}

/* One task people decided in the open transaction. */
typedef struct decided {
  char task_id[HITL_ID_LEN];
  int64_t seq;       /* The event that decided it. */
  int64_t queue_id;  /* Its queue; 0 once it turned out to have no pair. */
  char *queue;
} decided;

/* Adds one stored pair of queue (store id queue_id) to its state. When own is not NULL (the
 * pair's task was decided in this transaction) appends the event the outcome calls for; a pair
 * another server stored was announced by that server. */
static int add_pair(hitl_calib_set *c, hitl_txn *x, hitl_calib_entry *e, const decided *own,
                    const hitl_calib_row *row) {
  const char *type = NULL;
  hitl_calib_certificate before = {0}, after = {0};
  hitl_calib_stats stats = {0};
  pthread_mutex_lock(&e->lock);
  double conf_score = e->conf_kind == HITL_CONFORMAL_APS ? row->aps : row->lac;
  if (e->conf && row->decided_seq > e->last_seq && !isnan(conf_score)) {
    /* Added when the transaction commits: the conformal state has no undo. */
    if (c->n_conf_adds == c->cap_conf_adds) {
      c->cap_conf_adds = c->cap_conf_adds ? 2 * c->cap_conf_adds : 16;
      c->conf_adds = hitl_xrealloc(c->conf_adds, c->cap_conf_adds * sizeof *c->conf_adds);
    }
    c->conf_adds[c->n_conf_adds++] = (struct hitl_calib_conf_add){e, conf_score};
  }
  if (e->cal && row->decided_seq > e->last_seq) {
    save_undo(c, e);
    before = *hitl_calibration_certificate(e->cal);
    hitl_calib_tag tag = {row->propensity, row->uniform, row->audit};
    hitl_calib_change ch = hitl_calibration_add(e->cal, row->score, row->correct == 1, &tag);
    after = *hitl_calibration_certificate(e->cal);
    e->since_snapshot++;
    hitl_calibration_stats(e->cal, &stats);
    type = hitl_calib_event_type(ch, e->certified, after.certified);
    e->certified = after.certified;
  }
  if (row->decided_seq > e->last_seq) {
    save_undo(c, e);
    e->last_seq = row->decided_seq;
  }
  pthread_mutex_unlock(&e->lock);
  if (type == NULL || own == NULL) return 0;
  bool ch_withdrawn = strcmp(type, "calibration.withdrawn") == 0;
  hitl_buf data = HITL_BUF_INIT;
  hitl_buf_putc(&data, '{');
  if (ch_withdrawn) {
    put_cert(&data, &before);
    hitl_buf_printf(&data, ",\"reason\":\"drift\",\"withdrawals\":%ld,\"task_id\":", stats.withdrawals);
    hitl_buf_json_cstr(&data, own->task_id);
  } else {
    put_cert(&data, &after);
  }
  hitl_buf_putc(&data, '}');
  hitl_event_spec spec = {
      .type = type,
      .queue = own->queue,
      .queue_id = own->queue_id,
      .actor = "system",
      .data = hitl_buf_cstr(&data),
      .from_state = -1,
      .to_state = -1,
  };
  int rc = hitl_chain_append(x->chain, x->store, x->now, &spec);
  hitl_buf_free(&data);
  if (ch_withdrawn)
    hitl_log(HITL_LOG_WARN, "msg=\"calibration withdrawn by the drift test\" queue_id=%lld",
             (long long)own->queue_id);
  return rc;
}

/* Whether decisions on the queue are evidence: its configuration keeps evidence, or it started
 * to in an open transaction (the registry learns the new configuration only once it commits):
 * of this lane, or of another whose commit may come first. */
static bool keeps_evidence(hitl_calib_set *c, hitl_registry *reg, int64_t queue_id) {
  bool gained = false;
  pthread_mutex_lock(&c->lanes_lock);
  for (size_t i = 0; i < c->n_gained && !gained; i++) gained = c->gained[i].queue_id == queue_id;
  pthread_mutex_unlock(&c->lanes_lock);
  if (gained) return true;
  const hitl_queue_config *q = hitl__registry_config_by_id(reg, queue_id);
  return q && hitl_calib_wanted(q);
}

void hitl__calib_gained(hitl_calib_set *c, int lane, int64_t queue_id) {
  pthread_mutex_lock(&c->lanes_lock);
  if (c->n_gained == c->cap_gained) {
    c->cap_gained = c->cap_gained ? 2 * c->cap_gained : 4;
    c->gained = hitl_xrealloc(c->gained, c->cap_gained * sizeof *c->gained);
  }
  c->gained[c->n_gained++] = (struct hitl_calib_gained){.queue_id = queue_id, .lane = lane};
  pthread_mutex_unlock(&c->lanes_lock);
}

/* Forgets the queues the lane's transaction gained: its precommit has used them, and its
 * commit, if it comes, tells the registry (its jobs are answered before another lane's
 * precommit begins: api/commit.c). A run again adds them again. */
static void forget_gained(hitl_calib_set *c, int lane) {
  pthread_mutex_lock(&c->lanes_lock);
  size_t kept = 0;
  for (size_t i = 0; i < c->n_gained; i++)
    if (c->gained[i].lane != lane) c->gained[kept++] = c->gained[i];
  c->n_gained = kept;
  pthread_mutex_unlock(&c->lanes_lock);
}

/* Stores the verified pair of a task people decided; sets d->queue when it has one (else clears
 * d->queue_id). */
static int record_decision(hitl_registry *reg, hitl_txn *x, decided *d) {
  hitl_task t = {0};
  json_t *decision = NULL, *payload = NULL;
  int rc = x->store->vt->task_get(x->store, d->task_id, &t);
  if (rc) goto done;
  const hitl_queue_config *q = hitl__registry_config_by_id(reg, t.queue_id);
  decision = t.decision ? json_loads(t.decision, 0, NULL) : NULL;
  payload = t.payload ? json_loads(t.payload, 0, NULL) : NULL;
  hitl_calib_row row, judged = {0};
  if (q == NULL || !hitl__calib_judge(q, decision, payload, &judged)) goto done;
  rc = x->store->vt->calib_get(x->store, t.seq, &row);
  if (rc == HITL_ENOT_FOUND) {
    /* Routed without a calibrated leaf (or before there was one): everything was reviewed. */
    double score = t.has_confidence
                       ? t.confidence
                       : hitl__calib_max_probability(json_object_get(payload, "probabilities"));
    rc = 0;
    if (isnan(score)) goto done;
    row = (hitl_calib_row){.task_seq = t.seq, .queue_id = t.queue_id, .score = score,
                           .propensity = 1, .uniform = true};
  }
  if (rc) goto done;
  row.correct = judged.correct;
  row.lac = judged.lac;
  row.aps = judged.aps;
  row.decided_seq = d->seq;
  rc = x->store->vt->calib_put(x->store, &row);
  if (rc == 0) {
    d->queue = t.queue;
    t.queue = NULL;
  }
done:
  if (d->queue == NULL) d->queue_id = 0;
  json_decref(decision);
  json_decref(payload);
  hitl_task_clear(&t);
  return rc == HITL_ENOT_FOUND ? 0 : rc;
}
/* Stores the queue's calibration state as its snapshot, in the open transaction, once
 * c->snapshot_every pairs were added since the last one (undone with the transaction). */
static int snapshot_if_due(hitl_calib_set *c, hitl_txn *x, hitl_calib_entry *e) {
  char params[HITL_CALIB_PARAMS_TEXT];
  hitl_calib_snapshot snap = {.queue_id = e->queue_id, .params = params};
  pthread_mutex_lock(&e->lock);
  if (e->cal && e->since_snapshot >= (int64_t)c->snapshot_every) {
    save_undo(c, e);
    hitl_calib_params_text(&e->params, params);
    snap.state = hitl_calib_state_text(e->cal);
    snap.last_seq = e->last_seq;
    e->since_snapshot = 0;
  }
  pthread_mutex_unlock(&e->lock);
  if (snap.state == NULL) return 0;
  int rc = x->store->vt->calib_snapshot_put(x->store, &snap);
  free(snap.state);
  return rc;
}

/* Adds to the state of queue d->queue_id every stored pair it lacks, in decision order: those of
 * this transaction and those other servers sharing the database committed before it (their
 * events' seqs are lower: the chain is locked from this transaction's first event). */
static int catch_up(hitl_calib_set *c, hitl_txn *x, const decided *list, size_t n,
                    const decided *d) {
  hitl_calib_entry *e = hitl__calib_entry(c, d->queue_id, false);
  if (e == NULL) return 0;
  for (;;) {
    pthread_mutex_lock(&e->lock);
    bool on = e->cal || e->conf;
    int64_t after = e->last_seq;
    pthread_mutex_unlock(&e->lock);
    if (!on) return 0;
    hitl_calib_row *rows = NULL;
    size_t got = 0;
    int rc = x->store->vt->calib_list(x->store, d->queue_id, after, HITL__CALIB_LOAD_PAGE, &rows,
                                      &got);
    for (size_t i = 0; i < got && rc == 0; i++) {
      const decided *own = NULL;
      for (size_t k = 0; k < n && own == NULL; k++)
        if (list[k].seq == rows[i].decided_seq) own = &list[k];
      rc = add_pair(c, x, e, own, &rows[i]);
    }
    free(rows);
    if (rc) return rc;
    if (got < HITL__CALIB_LOAD_PAGE) return snapshot_if_due(c, x, e);
  }
}

int hitl__calib_precommit(hitl_calib_set *c, hitl_registry *reg, hitl_txn *x) {
  undo_pending(c); /* What the last transaction added did not commit. */
  /* Appending events moves the chain's change array: copy what is needed from it first. */
  size_t n = 0, total = x->chain->n_changes;
  decided *list = NULL;
  for (size_t i = 0; i < total; i++) {
    const hitl_change *ch = &x->chain->changes[i];
    if (ch->to_state != HITL_TASK_DECIDED || ch->from_state < 0 || ch->decided_by == NULL ||
        !ch->task_id[0] ||
        (strcmp(ch->decided_by, HITL_BY_HUMAN) != 0 && strcmp(ch->decided_by, HITL_BY_CONSENSUS) != 0))
      continue;
    /* Queues that keep no evidence pay nothing more for a decision than this check. */
    if (!keeps_evidence(c, reg, ch->queue_id)) continue;
    if (list == NULL) list = hitl_xcalloc(total, sizeof *list);
    memcpy(list[n].task_id, ch->task_id, HITL_ID_LEN);
    list[n].queue_id = ch->queue_id;
    list[n++].seq = ch->seq;
  }
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) rc = record_decision(reg, x, &list[i]);
  /* Then each queue touched catches up once. */
  for (size_t i = 0; i < n && rc == 0; i++) {
    bool first = list[i].queue_id != 0;
    for (size_t k = 0; k < i && first; k++) first = list[k].queue_id != list[i].queue_id;
    if (first) rc = catch_up(c, x, list, n, &list[i]);
  }
  for (size_t i = 0; i < n; i++) free(list[i].queue);
  free(list);
  if (rc == 0) rc = hitl__calib_tally_flush(c, x);
  forget_gained(c, x->lane);
  return rc;
}

