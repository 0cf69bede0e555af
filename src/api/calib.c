/* SPDX-License-Identifier: MIT */
/* Per-queue calibration state: the set of queues' states, their configuration and rebuild from
 * the stored evidence, and the routing reads of the policy workers. */
#include "api/calib_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

hitl_calib_set *hitl__calib_new(void) {
  hitl_calib_set *c = hitl_xcalloc(1, sizeof *c);
  pthread_mutex_init(&c->lock, NULL);
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
  pthread_mutex_destroy(&c->lock);
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
  return a->max_error == b->max_error && a->confidence == b->confidence &&
         a->audit_percent == b->audit_percent;
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
  pthread_mutex_unlock(&e->lock);
  if (keep_cal && keep_conf) return 0;
  hitl_calibration *cal = want_cal && !keep_cal ? hitl_calibration_new(&p) : NULL;
  hitl_conformal *conf = want_conf && !keep_conf
                             ? hitl_conformal_new((hitl_conformal_score)config->conformal_score,
                                                  config->conformal_coverage, 0)
                             : NULL;
  int64_t last = 0;
  /* Replays the evidence in decision order: the same adds give the same state, drift statistic
   * and withdrawals included. */
  for (;;) {
    hitl_calib_row *rows = NULL;
    size_t n = 0;
    int rc = st->vt->calib_list(st, queue_id, last, HITL__CALIB_LOAD_PAGE, &rows, &n);
    if (rc) {
      hitl_calibration_free(cal);
      hitl_conformal_free(conf);
      return rc;
    }
    for (size_t i = 0; i < n; i++) {
      hitl_calib_tag tag = {rows[i].propensity, rows[i].uniform, rows[i].audit};
      if (cal) hitl_calibration_add(cal, rows[i].score, rows[i].correct == 1, &tag);
      double s = config->conformal_score == HITL_CONFORMAL_APS ? rows[i].aps : rows[i].lac;
      if (conf && !isnan(s)) hitl_conformal_add_score(conf, s);
      last = rows[i].decided_seq;
    }
    free(rows);
    if (n < HITL__CALIB_LOAD_PAGE) break;
  }
  pthread_mutex_lock(&e->lock);
  if (!keep_cal) {
    hitl_calibration_free(e->cal);
    e->cal = cal;
    e->params = p;
    e->certified = cal && hitl_calibration_certificate(cal)->certified;
  }
  if (!keep_conf) {
    hitl_conformal_free(e->conf);
    e->conf = conf;
    e->conf_kind = config->conformal_score;
    e->conf_coverage = config->conformal_coverage;
    memset(e->set_sizes, 0, sizeof e->set_sizes);
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
