/* SPDX-License-Identifier: MIT */
/* Per-queue calibration state: the set of queues' states, their configuration and rebuild from
 * the stored evidence, and the routing reads of the policy workers. */
#include "api/calib_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xmalloc.h"

hitl_calib_set *hitl__calib_new(unsigned snapshot_every) {
  hitl_calib_set *c = hitl_xcalloc(1, sizeof *c);
  c->snapshot_every = snapshot_every ? snapshot_every : HITL__CALIB_SNAPSHOT_EVERY;
  pthread_mutex_init(&c->lock, NULL);
  pthread_mutex_init(&c->lanes_lock, NULL);
  return c;
}

void hitl__calib_free(hitl_calib_set *c) {
  if (c == NULL) return;
  for (size_t i = 0; i < c->n; i++) {
    hitl_calibration_free(c->entries[i]->cal);
    hitl_conformal_free(c->entries[i]->conf);
    free(c->entries[i]->undo);
    pthread_mutex_destroy(&c->entries[i]->lock);
    free(c->entries[i]);
  }
  free(c->entries);
  free(c->pending);
  free(c->conf_adds);
  free(c->gained);
  free(c->notes);
  pthread_mutex_destroy(&c->lock);
  pthread_mutex_destroy(&c->lanes_lock);
  free(c);
}

hitl_calib_entry *hitl__calib_entry(hitl_calib_set *c, int64_t queue_id, bool create) {
  hitl_calib_entry *e = NULL;
  pthread_mutex_lock(&c->lock);
  for (size_t i = 0; i < c->n && e == NULL; i++)
    if (c->entries[i]->queue_id == queue_id) e = c->entries[i];
  if (e == NULL && create) {
    if (c->n == c->cap) {
      c->cap = c->cap ? 2 * c->cap : 8;
      c->entries = hitl_xrealloc(c->entries, c->cap * sizeof *c->entries);
    }
    e = hitl_xcalloc(1, sizeof *e);
    e->queue_id = queue_id;
    pthread_mutex_init(&e->lock, NULL);
    c->entries[c->n++] = e;
  }
  pthread_mutex_unlock(&c->lock);
  return e;
}

static bool same_params(const hitl_calib_params *a, const hitl_calib_params *b) {
  char ta[HITL_CALIB_PARAMS_TEXT], tb[HITL_CALIB_PARAMS_TEXT];
  hitl_calib_params_text(a, ta);
  hitl_calib_params_text(b, tb);
  return strcmp(ta, tb) == 0;
}

/* Restores cal from the queue's stored snapshot when there is one taken under p; returns the
 * decided_seq it goes up to (0: none, every pair is to be replayed). */
static int64_t from_snapshot(hitl_store *st, int64_t queue_id, const hitl_calib_params *p,
                             hitl_calibration *cal) {
  hitl_calib_snapshot snap = {0};
  if (st->vt->calib_snapshot_get(st, queue_id, &snap) != 0) return 0;
  char params[HITL_CALIB_PARAMS_TEXT];
  hitl_calib_params_text(p, params);
  int64_t upto = 0;
  hitl_err err = {0};
  if (snap.params && snap.state && strcmp(snap.params, params) == 0) {
    if (hitl_calib_state_restore_text(cal, snap.state, &err) == 0) {
      upto = snap.last_seq;
      hitl_log(HITL_LOG_INFO, "msg=\"calibration resumed from its snapshot\" queue_id=%lld "
               "last_seq=%lld", (long long)queue_id, (long long)upto);
    } else {
      hitl_log(HITL_LOG_WARN, "msg=\"calibration snapshot unreadable: replaying every pair\" "
               "queue_id=%lld", (long long)queue_id);
    }
  }
  hitl_calib_snapshot_clear(&snap);
  return upto;
}

int hitl__calib_configure(hitl_calib_set *c, hitl_store *st, int64_t queue_id,
                          const hitl_queue_config *config) {
  hitl_calib_params p;
  bool want_cal = hitl_policy_calibration(config->policy, &p);
  bool want_conf = config->conformal;
  hitl_calib_entry *e = hitl__calib_entry(c, queue_id, want_cal || want_conf);
  if (e == NULL) return 0;
  pthread_mutex_lock(&e->lock);
  bool keep_cal = want_cal == (e->cal != NULL) && (!want_cal || same_params(&p, &e->params));
  bool keep_conf = want_conf == (e->conf != NULL) &&
                   (!want_conf || (e->conf_kind == config->conformal_score &&
                                   e->conf_coverage == config->conformal_coverage));
  int64_t last = e->last_seq;
  pthread_mutex_unlock(&e->lock);
  if (keep_cal && keep_conf) return 0;
  hitl_calibration *cal = want_cal && !keep_cal ? hitl_calibration_new(&p) : NULL;
  hitl_conformal *conf = want_conf && !keep_conf
                             ? hitl_conformal_new((hitl_conformal_score)config->conformal_score,
                                                  config->conformal_coverage, 0)
                             : NULL;
  /* The calibration state resumes from its snapshot; the conformal scores (a rebuilt set needs
   * them all) and the pairs after the snapshot are replayed in decision order: the same adds give
   * the same state, drift statistic and withdrawals included. */
  /* A state that is kept holds the pairs up to last: the rebuilt one stops there too, and the
   * pairs after it are added to both by the next catch-up (another server may have stored
   * some). */
  int64_t upto = (keep_cal && want_cal) || (keep_conf && want_conf) ? last : INT64_MAX;
  int64_t cal_from = cal ? from_snapshot(st, queue_id, &p, cal) : 0;
  if (cal_from > upto) { /* A snapshot past the kept state: not usable here. */
    hitl_calibration_free(cal);
    cal = hitl_calibration_new(&p);
    cal_from = 0;
  }
  int64_t from = conf ? 0 : cal ? cal_from : last, since_snapshot = 0;
  last = from;
  bool done = false;
  double *scores = conf ? hitl_xmalloc(HITL__CALIB_LOAD_PAGE * sizeof *scores) : NULL;
  for (;;) {
    hitl_calib_row *rows = NULL;
    size_t n = 0, n_scores = 0;
    int rc = st->vt->calib_list(st, queue_id, last, HITL__CALIB_LOAD_PAGE, &rows, &n);
    if (rc) {
      hitl_calibration_free(cal);
      hitl_conformal_free(conf);
      free(scores);
      return rc;
    }
    for (size_t i = 0; i < n && !done; i++) {
      if (rows[i].decided_seq > upto) {
        done = true;
        break;
      }
      hitl_calib_tag tag = {rows[i].propensity, rows[i].uniform, rows[i].audit};
      if (cal && rows[i].decided_seq > cal_from) {
        hitl_calibration_add(cal, rows[i].score, rows[i].correct == 1, &tag);
        since_snapshot++;
      }
      double s = config->conformal_score == HITL_CONFORMAL_APS ? rows[i].aps : rows[i].lac;
      if (conf && !isnan(s)) scores[n_scores++] = s;
      last = rows[i].decided_seq;
    }
    /* A page at a time: one sort, not a memmove per score. */
    if (conf) hitl_conformal_add_scores(conf, scores, n_scores);
    free(rows);
    if (done || n < HITL__CALIB_LOAD_PAGE) break;
  }
  free(scores);
  if (cal_from > last) last = cal_from;
  pthread_mutex_lock(&e->lock);
  if (!keep_cal) {
    hitl_calibration_free(e->cal);
    e->cal = cal;
    e->params = p;
    e->certified = cal && hitl_calibration_certificate(cal)->certified;
    e->since_snapshot = since_snapshot;
  }
  if (!keep_conf) {
    hitl_conformal_free(e->conf);
    e->conf = conf;
    e->conf_kind = config->conformal_score;
    e->conf_coverage = config->conformal_coverage;
  }
  e->last_seq = last;
  pthread_mutex_unlock(&e->lock);
  return 0;
}

bool hitl__calib_route(hitl_calib_set *c, int64_t queue_id, double score, const char *task_id,
                       hitl_policy_calib *out) {
  hitl_calib_entry *e = hitl__calib_entry(c, queue_id, false);
  if (e == NULL) return false;
  double draw = hitl_calib_audit_draw(task_id);
  pthread_mutex_lock(&e->lock);
  bool on = e->cal != NULL;
  if (on) {
    out->score = score;
    out->route = hitl_calibration_route(e->cal, score, draw, &out->tag);
    out->cert = *hitl_calibration_certificate(e->cal);
  }
  pthread_mutex_unlock(&e->lock);
  return on;
}

void hitl__calib_row_for(const hitl_policy_calib *pc, int64_t queue_id, hitl_calib_row *row) {
  memset(row, 0, sizeof *row);
  row->queue_id = queue_id;
  row->score = pc->score;
  row->propensity = pc->tag.propensity;
  row->uniform = pc->tag.uniform;
  row->audit = pc->tag.audit;
  row->correct = -1;
  row->lac = row->aps = NAN;
  if (pc->route == HITL_CALIB_ROUTE_ACCEPT) {
    /* The leaf would have accepted it, but another rule sent it to a person first: it was
     * reviewed for sure, and is in the uniform sample only as its draw says. */
    row->propensity = 1;
    row->audit = false;
  }
}
