/* SPDX-License-Identifier: MIT */
/* What a queue's decisions say about its model, for calibration: see calib_evidence.h. */
#include "core/calib_evidence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy.h"
#include "util/buf.h"
#include "util/id.h"
#include "util/xmalloc.h"

#define HOUR_MS 3600000LL

bool hitl_calib_wanted(const hitl_queue_config *q) {
  hitl_calib_params p;
  return q->conformal || hitl_policy_calibration(q->policy, &p);
}

int hitl_calib_verdict(const hitl_queue_config *q, const hitl_calib_answer *answers,
                       const char *predicted) {
  for (size_t i = 0; i < q->n_questions; i++) {
    const char *kind = answers[i].kind;
    if (kind == NULL) continue;
    if (q->questions[i].type == HITL_QUESTION_APPROVE) {
      if (strcmp(kind, "approve") == 0) return 1;
      if (strcmp(kind, "reject") == 0 || strcmp(kind, "modify") == 0) return 0;
    } else if (q->questions[i].type == HITL_QUESTION_LABEL && strcmp(kind, "label") == 0) {
      if (answers[i].value && predicted) return strcmp(answers[i].value, predicted) == 0;
    }
  }
  return -1;
}

const char *hitl_calib_decided_label(const hitl_queue_config *q, const hitl_calib_answer *answers) {
  for (size_t i = 0; i < q->n_questions; i++)
    if (q->questions[i].type == HITL_QUESTION_LABEL && answers[i].kind &&
        strcmp(answers[i].kind, "label") == 0)
      return answers[i].value;
  return NULL;
}

double hitl_calib_audit_draw(const char *task_id) {
  char key[HITL_ID_LEN + 32];
  uint8_t h[HITL_HASH_LEN];
  int n = snprintf(key, sizeof key, "calibration-audit\n%s", task_id);
  if (n < 0 || (size_t)n >= sizeof key) n = (int)sizeof key - 1;
  hitl_hash(key, (size_t)n, h);
  uint64_t x = 0;
  for (int i = 0; i < 7; i++) x = (x << 8) | h[i]; /* 56 bits: exact in a double. */
  return (double)x / 72057594037927936.0;             /* 2^56 */
}

int64_t hitl_calib_hour(int64_t now_ms) { return now_ms / HOUR_MS; }

const char *hitl_calib_event_type(hitl_calib_change change, bool was_certified, bool certified) {
  if (change == HITL_CALIB_WITHDRAWN && was_certified) return "calibration.withdrawn";
  if (certified && !was_certified) return "calibration.certified";
  return NULL;
}

void hitl_calib_params_text(const hitl_calib_params *p, char out[HITL_CALIB_PARAMS_TEXT]) {
  snprintf(out, HITL_CALIB_PARAMS_TEXT, "%.17g %.17g %.17g %d %d %.17g %d %.17g", p->max_error,
           p->confidence, p->audit_percent, (int)p->scheme, (int)p->weighting, p->start_ratio,
           p->start_errors, p->drift_arl);
}

char *hitl_calib_state_text(const hitl_calibration *c) {
  size_t n = hitl_calibration_snapshot_size();
  double *state = hitl_xmalloc(n * sizeof *state);
  hitl_calibration_snapshot(c, state);
  hitl_buf b = HITL_BUF_INIT;
  for (size_t i = 0; i < n; i++) {
    if (state[i] == 0) /* Most buckets are empty: "0" keeps the text short. */
      hitl_buf_puts(&b, i ? " 0" : "0");
    else
      hitl_buf_printf(&b, "%s%.17g", i ? " " : "", state[i]);
  }
  free(state);
  return hitl_buf_detach(&b);
}

int hitl_calib_state_restore_text(hitl_calibration *c, const char *text, hitl_err *err) {
  size_t n = hitl_calibration_snapshot_size(), got = 0;
  double *state = hitl_xmalloc(n * sizeof *state);
  const char *p = text;
  while (got < n) {
    char *end;
    state[got] = strtod(p, &end);
    if (end == p) break;
    got++;
    p = end;
  }
  while (*p == ' ') p++;
  int rc = got == n && *p == '\0'
               ? hitl_calibration_restore(c, state, n, err)
               : hitl_err_set(err, HITL_EVALIDATION, "snapshot",
                              "calibration snapshot text of another length");
  free(state);
  return rc;
}
