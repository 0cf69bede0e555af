/* SPDX-License-Identifier: MIT */
/* Calibration's reading of task JSON: a task's score and probabilities when it is submitted, its
 * conformal prediction set, and what its decision says about the model. */
#include "api/calib_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

#define MAX_CLASSES HITL__CALIB_MAX_CLASSES

double hitl__calib_max_probability(const json_t *probs) {
  double best = NAN;
  const char *key;
  const json_t *v;
  if (!json_is_object(probs)) return NAN;
  json_object_foreach((json_t *)probs, key, v) {
    if (json_is_number(v) && (isnan(best) || json_number_value(v) > best))
      best = json_number_value(v);
  }
  return best;
}

double hitl__calib_score_of_body(const json_t *body) {
  const json_t *conf = json_object_get(body, "confidence");
  if (json_is_number(conf)) return json_number_value(conf);
  return hitl__calib_max_probability(json_object_get(body, "probabilities"));
}

int hitl__calib_check_body(const hitl_queue_config *q, const json_t *body, const char *prefix,
                           hitl_err *err) {
  const json_t *probs = json_object_get(body, "probabilities");
  if (!json_is_object(probs)) return 0;
  char field[160];
  snprintf(field, sizeof field, "%sprobabilities", prefix);
  const hitl_question *label = NULL;
  for (size_t i = 0; i < q->n_questions && label == NULL; i++)
    if (q->questions[i].type == HITL_QUESTION_LABEL) label = &q->questions[i];
  double sum = 0;
  const char *key;
  const json_t *v;
  json_object_foreach((json_t *)probs, key, v) {
    sum += json_number_value(v);
    bool known = label == NULL;
    for (size_t i = 0; label && i < label->n_labels && !known; i++)
      known = strcmp(label->labels[i], key) == 0;
    if (!known)
      return hitl_err_set(err, HITL_EVALIDATION, field,
                          "\"%.64s\" is not a label of question \"%s\"; a calibrated queue "
                          "needs probabilities over its labels", key, label->name);
  }
  if (fabs(sum - 1) > 1e-6)
    return hitl_err_set(err, HITL_EVALIDATION, field,
                        "probabilities add up to %g; a calibrated queue needs them to add up to 1",
                        sum);
  return 0;
}

typedef struct class_prob {
  const char *label;
  double p;
} class_prob;

static int by_label(const void *a, const void *b) {
  return strcmp(((const class_prob *)a)->label, ((const class_prob *)b)->label);
}

/* The classes of a probabilities object in label order (so that the order is the same at
 * routing and at decision), at most MAX_CLASSES; returns how many (0 when it is none). The
 * labels are borrowed from probs. */
static size_t classes_of(const json_t *probs, class_prob *out) {
  size_t n = 0;
  const char *key;
  const json_t *v;
  if (!json_is_object(probs) || json_object_size(probs) > MAX_CLASSES) return 0;
  json_object_foreach((json_t *)probs, key, v) {
    out[n].label = key;
    out[n++].p = json_number_value(v);
  }
  qsort(out, n, sizeof *out, by_label);
  return n;
}

bool hitl__calib_prediction_set(hitl_calib_set *c, int64_t queue_id, const json_t *body,
                                hitl_buf *json, int *size) {
  hitl_calib_entry *e = hitl__calib_entry(c, queue_id, false);
  if (e == NULL) return false;
  class_prob *classes = hitl_xmalloc(MAX_CLASSES * sizeof *classes);
  double *probs = hitl_xmalloc(MAX_CLASSES * sizeof *probs);
  size_t *labels = hitl_xmalloc(MAX_CLASSES * sizeof *labels);
  size_t n = classes_of(json_object_get(body, "probabilities"), classes);
  for (size_t i = 0; i < n; i++) probs[i] = classes[i].p;
  size_t m = (size_t)-1, calibration = 0;
  double coverage = 0;
  pthread_mutex_lock(&e->lock);
  if (e->conf && n) {
    m = hitl_conformal_set(e->conf, probs, n, labels);
    calibration = hitl_conformal_count(e->conf);
    coverage = e->conf_coverage;
    if (m == (size_t)-1) *size = -1;
  }
  pthread_mutex_unlock(&e->lock);
  bool given = m != (size_t)-1;
  if (given) {
    hitl_buf_puts(json, "{\"labels\":[");
    for (size_t i = 0; i < m; i++) {
      if (i) hitl_buf_putc(json, ',');
      hitl_buf_json_cstr(json, classes[labels[i]].label);
    }
    hitl_buf_puts(json, "],\"coverage\":");
    hitl_buf_double(json, coverage);
    hitl_buf_printf(json, ",\"n_calibration\":%zu}", calibration);
    *size = (int)m;
  }
  free(classes);
  free(probs);
  free(labels);
  return given;
}

/* Sets the row's LAC and APS scores of the label people chose (NaN when there is none). */
static void conformal_scores(const json_t *payload, const char *chosen, hitl_calib_row *row) {
  row->lac = row->aps = NAN;
  if (chosen == NULL) return;
  class_prob *classes = hitl_xmalloc(MAX_CLASSES * sizeof *classes);
  double *probs = hitl_xmalloc(MAX_CLASSES * sizeof *probs);
  size_t n = classes_of(json_object_get(payload, "probabilities"), classes), label = n;
  for (size_t i = 0; i < n; i++) {
    probs[i] = classes[i].p;
    if (strcmp(classes[i].label, chosen) == 0) label = i;
  }
  if (n) {
    row->lac = hitl_conformal_score_of(HITL_CONFORMAL_LAC, probs, n, label);
    row->aps = hitl_conformal_score_of(HITL_CONFORMAL_APS, probs, n, label);
  }
  free(classes);
  free(probs);
}

/* The model's predicted label: output.label, else the label of the largest probability. */
static const char *predicted_label(const json_t *payload) {
  const json_t *out = json_object_get(payload, "output");
  const json_t *label = json_is_object(out) ? json_object_get(out, "label") : NULL;
  if (json_is_string(label)) return json_string_value(label);
  const json_t *probs = json_object_get(payload, "probabilities");
  const char *best = NULL, *key;
  double top = -1;
  const json_t *v;
  if (!json_is_object(probs)) return NULL;
  json_object_foreach((json_t *)probs, key, v) {
    if (json_is_number(v) && json_number_value(v) > top) {
      top = json_number_value(v);
      best = key;
    }
  }
  return best;
}

/* The answers of a decision to q's questions, borrowed from it, in out[q->n_questions]. */
static void answers_of(const hitl_queue_config *q, const json_t *decision, hitl_calib_answer *out) {
  const json_t *answers = json_object_get(decision, "answers");
  for (size_t i = 0; i < q->n_questions; i++) {
    const json_t *a = json_object_get(answers, q->questions[i].name);
    out[i].kind = json_string_value(json_object_get(a, "kind"));
    out[i].value = json_string_value(json_object_get(a, "value"));
  }
}

bool hitl__calib_judge(const hitl_queue_config *q, const json_t *decision, const json_t *payload,
                       hitl_calib_row *row) {
  if (decision == NULL || q->n_questions == 0) return false;
  hitl_calib_answer *answers = hitl_xcalloc(q->n_questions, sizeof *answers);
  answers_of(q, decision, answers);
  int v = hitl_calib_verdict(q, answers, predicted_label(payload));
  if (v >= 0) {
    row->correct = v;
    conformal_scores(payload, hitl_calib_decided_label(q, answers), row);
  }
  free(answers);
  return v >= 0;
}
