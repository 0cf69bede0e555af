/* SPDX-License-Identifier: MIT */
/* Per-queue calibration state: routing reads, evidence from human decisions, restart rebuild. */
#include "api/calib.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/conformal.h"
#include "util/id.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define HOURS 24             /* The auto-accepted share is counted per hour over a day. */
#define HOUR_MS 3600000LL
#define LOAD_PAGE 5000       /* Evidence rows read at a time when a state is rebuilt. */
#define CURVE_POINTS 20      /* Points of the risk-coverage curve in the view. */
#define MAX_SET_SIZE 16      /* Prediction-set sizes are counted up to this (and "more"). */
#define MAX_CLASSES 1000     /* Probabilities a task may give for a prediction set. */

typedef struct calib_entry {
  int64_t queue_id;
  pthread_mutex_t lock;     /* Guards everything below but undo*. */
  hitl_calibration *cal;    /* NULL: the queue's policy has no calibrated leaf. */
  hitl_calib_params params;
  bool certified;           /* Whether a certificate was in force after the last add. */
  int64_t last_seq;         /* decided_seq of the newest pair added. */
  int64_t hour_at[HOURS];   /* Which hour each slot counts (ms / HOUR_MS). */
  int64_t routed[HOURS], accepted[HOURS];
  hitl_conformal *conf;     /* NULL: no conformal prediction sets. */
  int conf_kind;            /* Its hitl_conformal_score and coverage. */
  double conf_coverage;
  int64_t set_sizes[MAX_SET_SIZE + 2]; /* Sets given by size (last: larger), and none. */
  bool saved;               /* Writer only: the open transaction changed the entry, and */
  double *undo;             /* the calibration state before its adds (NULL without one). */
  bool undo_certified;
  int64_t undo_last_seq;
} calib_entry;

struct hitl_calib_set {
  pthread_mutex_t lock;     /* Guards the entries array; entries live until the set is freed. */
  calib_entry **entries;
  size_t n, cap;
  calib_entry **pending;    /* Writer only: entries with an undo snapshot. */
  size_t n_pending, cap_pending;
  struct conf_add {         /* Writer only: conformal scores to add once the transaction commits. */
    calib_entry *e;
    double score;
  } *conf_adds;
  size_t n_conf_adds, cap_conf_adds;
  struct decided *prepared; /* Writer only: the open transaction's decisions (prepare). */
  size_t n_prepared;
  bool is_prepared;
};

hitl_calib_set *hitl__calib_new(void) {
  hitl_calib_set *c = hitl_xcalloc(1, sizeof *c);
  pthread_mutex_init(&c->lock, NULL);
  return c;
}

static void drop_prepared(hitl_calib_set *c);

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
  drop_prepared(c);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

/* The entry of the queue, made when create; NULL when there is none. */
static calib_entry *find_entry(hitl_calib_set *c, int64_t queue_id, bool create) {
  calib_entry *e = NULL;
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
  calib_entry *e = find_entry(c, queue_id, want_cal || want_conf);
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
    int rc = st->vt->calib_list(st, queue_id, last, LOAD_PAGE, &rows, &n);
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
    if (n < LOAD_PAGE) break;
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

/* The largest of a probabilities object, NaN when it is not one or is empty. */
static double max_probability(const json_t *probs) {
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
  return max_probability(json_object_get(body, "probabilities"));
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
  calib_entry *e = find_entry(c, queue_id, false);
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
    e->set_sizes[m == (size_t)-1 ? MAX_SET_SIZE + 1 : m > MAX_SET_SIZE ? MAX_SET_SIZE : m]++;
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

/* The task's audit draw in [0, 1): fixed by its id, independent of sample_percent's buckets. */
static double audit_draw(const char *task_id) {
  char key[HITL_ID_LEN + 32];
  uint8_t h[HITL_HASH_LEN];
  int n = snprintf(key, sizeof key, "calibration-audit\n%s", task_id);
  hitl_hash(key, (size_t)n, h);
  uint64_t x = 0;
  for (int i = 0; i < 7; i++) x = (x << 8) | h[i]; /* 56 bits: exact in a double. */
  return (double)x / 72057594037927936.0;             /* 2^56 */
}

bool hitl__calib_route(hitl_calib_set *c, int64_t queue_id, double score, const char *task_id,
                       hitl_policy_calib *out) {
  calib_entry *e = find_entry(c, queue_id, false);
  if (e == NULL) return false;
  double draw = audit_draw(task_id);
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

/* The hour slot of now, emptied when it last counted another hour. Under e->lock. */
static int hour_slot(calib_entry *e, int64_t now) {
  int64_t hour = now / HOUR_MS;
  int i = (int)(hour % HOURS);
  if (e->hour_at[i] != hour) {
    e->hour_at[i] = hour;
    e->routed[i] = e->accepted[i] = 0;
  }
  return i;
}

void hitl__calib_count(hitl_calib_set *c, int64_t queue_id, bool accepted, int64_t now) {
  calib_entry *e = find_entry(c, queue_id, false);
  if (e == NULL) return;
  pthread_mutex_lock(&e->lock);
  int i = hour_slot(e, now);
  e->routed[i]++;
  e->accepted[i] += accepted;
  pthread_mutex_unlock(&e->lock);
}

/* ---- Evidence from decisions ------------------------------------------------------------- */

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

/* The label people chose on the queue's first label question, or NULL. */
static const char *decided_label(const hitl_queue_config *q, const json_t *decision) {
  const json_t *answers = json_object_get(decision, "answers");
  for (size_t i = 0; i < q->n_questions; i++) {
    if (q->questions[i].type != HITL_QUESTION_LABEL) continue;
    const json_t *a = json_object_get(answers, q->questions[i].name);
    const char *kind = json_string_value(json_object_get(a, "kind"));
    if (kind && strcmp(kind, "label") == 0) return json_string_value(json_object_get(a, "value"));
  }
  return NULL;
}

/* Whether the model was right on a decided task: 1, 0, or -1 when the decision says nothing
 * about it (no approve or label question was answered). */
static int verdict(const hitl_queue_config *q, const json_t *decision, const json_t *payload) {
  const json_t *answers = json_object_get(decision, "answers");
  for (size_t i = 0; i < q->n_questions; i++) {
    const json_t *a = json_object_get(answers, q->questions[i].name);
    const char *kind = json_string_value(json_object_get(a, "kind"));
    if (kind == NULL) continue;
    if (q->questions[i].type == HITL_QUESTION_APPROVE) {
      if (strcmp(kind, "approve") == 0) return 1;
      if (strcmp(kind, "reject") == 0 || strcmp(kind, "modify") == 0) return 0;
    } else if (q->questions[i].type == HITL_QUESTION_LABEL && strcmp(kind, "label") == 0) {
      const char *chosen = json_string_value(json_object_get(a, "value"));
      const char *predicted = predicted_label(payload);
      if (chosen && predicted) return strcmp(chosen, predicted) == 0;
    }
  }
  return -1;
}

/* Puts the state back as it was before the last transaction's adds (it did not commit). */
static void undo_pending(hitl_calib_set *c) {
  for (size_t i = 0; i < c->n_pending; i++) {
    calib_entry *e = c->pending[i];
    pthread_mutex_lock(&e->lock);
    if (e->cal && e->undo)
      hitl_calibration_restore(e->cal, e->undo, hitl_calibration_snapshot_size(), NULL);
    e->saved = false;
    e->certified = e->undo_certified;
    e->last_seq = e->undo_last_seq;
    pthread_mutex_unlock(&e->lock);
    free(e->undo);
    e->undo = NULL;
  }
  c->n_pending = 0;
  c->n_conf_adds = 0;
}

void hitl__calib_committed(hitl_calib_set *c) {
  for (size_t i = 0; i < c->n_conf_adds; i++) {
    calib_entry *e = c->conf_adds[i].e;
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
static void save_undo(hitl_calib_set *c, calib_entry *e) {
  if (e->saved) return;
  e->saved = true;
  if (e->cal) {
    e->undo = hitl_xmalloc(hitl_calibration_snapshot_size() * sizeof *e->undo);
    hitl_calibration_snapshot(e->cal, e->undo);
  }
  e->undo_certified = e->certified;
  e->undo_last_seq = e->last_seq;
  if (c->n_pending == c->cap_pending) {
    c->cap_pending = c->cap_pending ? 2 * c->cap_pending : 8;
    c->pending = hitl_xrealloc(c->pending, c->cap_pending * sizeof *c->pending);
  }
  c->pending[c->n_pending++] = e;
}

/* Appends "key":value for n numbers, comma-separated (no braces). */
static void put_numbers(hitl_buf *b, const char *const *keys, const double *values, size_t n) {
  for (size_t i = 0; i < n; i++) {
    hitl_buf_printf(b, "%s\"%s\":", i ? "," : "", keys[i]);
    hitl_buf_double(b, values[i]);
  }
}

static void put_cert(hitl_buf *b, const hitl_calib_certificate *cert) {
  static const char *const keys[] = {"threshold", "n", "k", "bound"};
  put_numbers(b, keys, (double[]){cert->threshold, cert->n, cert->k, cert->bound}, 4);
}

/* Adds one verified pair to the queue's state and appends the event its outcome calls for. */
/* One task people decided in the open transaction. */
typedef struct decided {
  char task_id[HITL_ID_LEN];
  size_t change;     /* Index of the deciding change in the transaction's chain. */
  int64_t seq;       /* The event that decided it (known once the chain is linked). */
  int64_t queue_id;  /* Set once its pair is stored (0: it has none). */
  char *queue;
  bool has_row;      /* hitl__calib_prepare found its pair: row, but for decided_seq. */
  hitl_calib_row row;
} decided;

/* Adds one stored pair of queue (store id queue_id) to its state. When own is not NULL (the
 * pair's task was decided in this transaction) appends the event the outcome calls for; a pair
 * another server stored was announced by that server. */
static int add_pair(hitl_calib_set *c, hitl_txn *x, calib_entry *e, const decided *own,
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
    c->conf_adds[c->n_conf_adds++] = (struct conf_add){e, conf_score};
  }
  if (e->cal && row->decided_seq > e->last_seq) {
    save_undo(c, e);
    before = *hitl_calibration_certificate(e->cal);
    hitl_calib_tag tag = {row->propensity, row->uniform, row->audit};
    hitl_calib_change ch = hitl_calibration_add(e->cal, row->score, row->correct == 1, &tag);
    after = *hitl_calibration_certificate(e->cal);
    hitl_calibration_stats(e->cal, &stats);
    if (ch == HITL_CALIB_WITHDRAWN && before.certified)
      type = "calibration.withdrawn";
    else if (after.certified && !e->certified)
      type = "calibration.certified";
    e->certified = after.certified;
  }
  if (row->decided_seq > e->last_seq) {
    save_undo(c, e);
    e->last_seq = row->decided_seq;
  }
  pthread_mutex_unlock(&e->lock);
  if (type == NULL || own == NULL) return 0;
  hitl_buf data = HITL_BUF_INIT;
  hitl_buf_putc(&data, '{');
  if (type[12] == 'w') {
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
  if (type[12] == 'w')
    hitl_log(HITL_LOG_WARN, "msg=\"calibration withdrawn by the drift test\" queue_id=%lld",
             (long long)own->queue_id);
  return rc;
}

/* Reads what the verified pair of a task people decided will be (d->row, all but its
 * decided_seq; d->has_row) and the task's queue (d->queue). No write: for before the chain is
 * linked, so that these reads do not hold the chain's lock (see hitl__calib_prepare). */
static int read_decision(hitl_registry *reg, hitl_txn *x, decided *d) {
  hitl_task t = {0};
  json_t *decision = NULL, *payload = NULL;
  int rc = x->store->vt->task_get(x->store, d->task_id, &t);
  if (rc) goto done;
  const hitl_queue_config *q = hitl__registry_config_by_id(reg, t.queue_id);
  decision = t.decision ? json_loads(t.decision, 0, NULL) : NULL;
  payload = t.payload ? json_loads(t.payload, 0, NULL) : NULL;
  int v = q && decision ? verdict(q, decision, payload) : -1;
  if (v < 0) goto done;
  hitl_calib_row row;
  rc = x->store->vt->calib_get(x->store, t.seq, &row);
  if (rc == HITL_ENOT_FOUND) {
    /* Routed without a calibrated leaf (or before there was one): everything was reviewed. */
    double score = t.has_confidence ? t.confidence
                                    : max_probability(json_object_get(payload, "probabilities"));
    rc = 0;
    if (isnan(score)) goto done;
    row = (hitl_calib_row){.task_seq = t.seq, .queue_id = t.queue_id, .score = score,
                           .propensity = 1, .uniform = true};
  }
  if (rc) goto done;
  row.correct = v;
  conformal_scores(payload, decided_label(q, decision), &row);
  d->row = row;
  d->has_row = true;
  d->queue = t.queue;
  t.queue = NULL;
done:
  json_decref(decision);
  json_decref(payload);
  hitl_task_clear(&t);
  return rc == HITL_ENOT_FOUND ? 0 : rc;
}

/* Stores the pair read_decision found, now that d->seq is known; sets d->queue_id. */
static int record_decision(hitl_txn *x, decided *d) {
  if (!d->has_row) return 0;
  d->row.decided_seq = d->seq;
  int rc = x->store->vt->calib_put(x->store, &d->row);
  if (rc == 0) d->queue_id = d->row.queue_id;
  return rc;
}

typedef struct backfill_row {
  hitl_calib_row row;
  int64_t decided_at;
} backfill_row;

static int by_decision(const void *a, const void *b) {
  const backfill_row *x = a, *y = b;
  if (x->decided_at != y->decided_at) return x->decided_at < y->decided_at ? -1 : 1;
  return x->row.task_seq < y->row.task_seq ? -1 : x->row.task_seq > y->row.task_seq;
}

/* The pair of a decided task for the backfill; false when it has none. */
static bool backfill_pair(const hitl_queue_config *q, const hitl_task *t, backfill_row *out) {
  if (t->decided_by == NULL ||
      (strcmp(t->decided_by, HITL_BY_HUMAN) != 0 && strcmp(t->decided_by, HITL_BY_CONSENSUS) != 0))
    return false;
  json_t *decision = t->decision ? json_loads(t->decision, 0, NULL) : NULL;
  json_t *payload = t->payload ? json_loads(t->payload, 0, NULL) : NULL;
  int v = decision ? verdict(q, decision, payload) : -1;
  double score = t->has_confidence ? t->confidence
                                   : max_probability(json_object_get(payload, "probabilities"));
  if (v < 0 || isnan(score)) {
    json_decref(decision);
    json_decref(payload);
    return false;
  }
  out->row = (hitl_calib_row){.task_seq = t->seq, .queue_id = t->queue_id, .score = score,
                              .propensity = 1, .uniform = true, .correct = v};
  out->decided_at = t->decided_at;
  conformal_scores(payload, decided_label(q, decision), &out->row);
  json_decref(decision);
  json_decref(payload);
  return true;
}

int hitl__calib_backfill(hitl_store *st, int64_t queue_id, const hitl_queue_config *config) {
  hitl_calib_row *have = NULL;
  size_t n_have = 0;
  int rc = st->vt->calib_list(st, queue_id, 0, 1, &have, &n_have);
  free(have);
  if (rc || n_have) return rc;
  backfill_row *rows = NULL;
  size_t n = 0, cap = 0;
  int64_t before = INT64_MAX;
  for (;;) {
    hitl_task *tasks = NULL;
    size_t got = 0;
    hitl_task_scan scan = {.queue_id = queue_id, .state = HITL_TASK_DECIDED, .before_seq = before};
    rc = st->vt->task_scan(st, &scan, LOAD_PAGE, &tasks, &got);
    if (rc) break;
    for (size_t i = 0; i < got; i++) {
      if (n == cap) {
        cap = cap ? 2 * cap : 256;
        rows = hitl_xrealloc(rows, cap * sizeof *rows);
      }
      if (backfill_pair(config, &tasks[i], &rows[n])) n++;
      before = tasks[i].seq;
      hitl_task_clear(&tasks[i]);
    }
    free(tasks);
    if (got < LOAD_PAGE) break;
  }
  if (rc == 0 && n) {
    /* Decision order; the numbers stay below the seq of any later decision's event, since every
     * decided task has at least two events. */
    qsort(rows, n, sizeof *rows, by_decision);
    rc = st->vt->begin(st);
    for (size_t i = 0; i < n && rc == 0; i++) {
      rows[i].row.decided_seq = (int64_t)i + 1;
      rc = st->vt->calib_put(st, &rows[i].row);
    }
    if (rc == 0) rc = st->vt->commit(st);
    if (rc) st->vt->rollback(st);
    else
      hitl_log(HITL_LOG_INFO, "msg=\"calibration evidence rebuilt from decided tasks\" "
               "queue_id=%lld pairs=%zu", (long long)queue_id, n);
  }
  free(rows);
  return rc;
}

/* Adds to the state of queue d->queue_id every stored pair it lacks, in decision order: those of
 * this transaction and those other servers sharing the database committed before it (their
 * events' seqs are lower: the chain is locked from this transaction's first event). */
static int catch_up(hitl_calib_set *c, hitl_txn *x, const decided *list, size_t n,
                    const decided *d) {
  calib_entry *e = find_entry(c, d->queue_id, false);
  if (e == NULL) return 0;
  for (;;) {
    pthread_mutex_lock(&e->lock);
    bool on = e->cal || e->conf;
    int64_t after = e->last_seq;
    pthread_mutex_unlock(&e->lock);
    if (!on) return 0;
    hitl_calib_row *rows = NULL;
    size_t got = 0;
    int rc = x->store->vt->calib_list(x->store, d->queue_id, after, LOAD_PAGE, &rows, &got);
    for (size_t i = 0; i < got && rc == 0; i++) {
      const decided *own = NULL;
      for (size_t k = 0; k < n && own == NULL; k++)
        if (list[k].seq == rows[i].decided_seq) own = &list[k];
      rc = add_pair(c, x, e, own, &rows[i]);
    }
    free(rows);
    if (rc || got < LOAD_PAGE) return rc;
  }
}

/* Forgets the prepared decisions. */
static void drop_prepared(hitl_calib_set *c) {
  for (size_t i = 0; i < c->n_prepared; i++) free(c->prepared[i].queue);
  free(c->prepared);
  c->prepared = NULL;
  c->n_prepared = 0;
  c->is_prepared = false;
}

int hitl__calib_prepare(hitl_calib_set *c, hitl_registry *reg, hitl_txn *x) {
  drop_prepared(c);
  size_t n = 0, total = x->chain->n_changes;
  decided *list = NULL;
  for (size_t i = 0; i < total; i++) {
    const hitl_change *ch = &x->chain->changes[i];
    if (ch->to_state != HITL_TASK_DECIDED || ch->from_state < 0 || ch->decided_by == NULL ||
        !ch->task_id[0] ||
        (strcmp(ch->decided_by, HITL_BY_HUMAN) != 0 && strcmp(ch->decided_by, HITL_BY_CONSENSUS) != 0))
      continue;
    if (list == NULL) list = hitl_xcalloc(total, sizeof *list);
    memcpy(list[n].task_id, ch->task_id, HITL_ID_LEN);
    list[n++].change = i;
  }
  c->prepared = list;
  c->n_prepared = n;
  c->is_prepared = true;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) rc = read_decision(reg, x, &list[i]);
  return rc;
}

int hitl__calib_precommit(hitl_calib_set *c, hitl_registry *reg, hitl_txn *x) {
  undo_pending(c); /* What the last transaction added did not commit. */
  int rc = c->is_prepared ? 0 : hitl__calib_prepare(c, reg, x);
  /* Appending events moves the chain's change array: take the seqs from it first. */
  decided *list = c->prepared;
  size_t n = c->n_prepared;
  for (size_t i = 0; i < n; i++) list[i].seq = x->chain->changes[list[i].change].seq;
  for (size_t i = 0; i < n && rc == 0; i++) rc = record_decision(x, &list[i]);
  /* Then each queue touched catches up once. */
  for (size_t i = 0; i < n && rc == 0; i++) {
    bool first = list[i].queue_id != 0;
    for (size_t k = 0; k < i && first; k++) first = list[k].queue_id != list[i].queue_id;
    if (first) rc = catch_up(c, x, list, n, &list[i]);
  }
  drop_prepared(c);
  return rc;
}

/* ---- The view ---------------------------------------------------------------------------- */

static void put_number_or_null(hitl_buf *b, double x) {
  if (isfinite(x))
    hitl_buf_double(b, x);
  else
    hitl_buf_puts(b, "null");
}

/* The conformal part of the view. Under e->lock. */
static void put_conformal_view(calib_entry *e, hitl_buf *b) {
  if (e == NULL || e->conf == NULL) {
    hitl_buf_puts(b, ",\"conformal\":null");
    return;
  }
  double q = NAN;
  bool has_q = hitl_conformal_quantile(e->conf, &q);
  hitl_buf_puts(b, ",\"conformal\":{\"coverage\":");
  hitl_buf_double(b, e->conf_coverage);
  hitl_buf_printf(b, ",\"score\":\"%s\",\"n_calibration\":%zu,\"min_calibration\":%zu,"
                     "\"quantile\":",
                  e->conf_kind == HITL_CONFORMAL_APS ? "aps" : "lac", hitl_conformal_count(e->conf),
                  hitl_conformal_min_n(e->conf_coverage));
  put_number_or_null(b, has_q ? q : NAN);
  hitl_buf_puts(b, ",\"set_sizes\":{");
  for (int i = 0; i <= MAX_SET_SIZE; i++)
    hitl_buf_printf(b, "%s\"%d%s\":%lld", i ? "," : "", i, i == MAX_SET_SIZE ? "+" : "",
                    (long long)e->set_sizes[i]);
  hitl_buf_printf(b, ",\"none\":%lld}}", (long long)e->set_sizes[MAX_SET_SIZE + 1]);
}

void hitl__calib_view(hitl_calib_set *c, int64_t queue_id, int64_t now, hitl_buf *b) {
  calib_entry *e = find_entry(c, queue_id, false);
  if (e) pthread_mutex_lock(&e->lock);
  if (e == NULL || e->cal == NULL) {
    hitl_buf_puts(b, "\"enabled\":false,\"certified\":false,\"threshold\":null,"
                     "\"reason\":\"the queue's policy has no calibrated condition\"");
    put_conformal_view(e, b);
    if (e) pthread_mutex_unlock(&e->lock);
    return;
  }
  const hitl_calib_certificate *cert = hitl_calibration_certificate(e->cal);
  hitl_calib_stats st;
  hitl_calibration_stats(e->cal, &st);
  hitl_buf_printf(b, "\"enabled\":true,\"certified\":%s,", cert->certified ? "true" : "false");
  if (cert->certified) {
    static const char *const keys[] = {"threshold", "n", "k", "bound", "level", "share_above"};
    put_numbers(b, keys,
                (double[]){cert->threshold, cert->n, cert->k, cert->bound, cert->level,
                           cert->share},
                6);
    hitl_buf_puts(b, ",\"reason\":null");
  } else {
    hitl_buf_puts(b, "\"threshold\":null,\"n\":null,\"k\":null,\"bound\":null,\"reason\":");
    char why[256];
    if (st.uniform < st.min_items)
      snprintf(why, sizeof why,
               "%snot enough evidence yet: %ld verified pairs in the uniform sample; a threshold "
               "needs at least %ld above it",
               st.withdrawals ? "withdrawn by the drift test, and " : "", st.uniform, st.min_items);
    else
      snprintf(why, sizeof why, "%sno threshold passes the test at this max_error and confidence",
               st.withdrawals ? "withdrawn by the drift test, and " : "");
    hitl_buf_json_cstr(b, why);
  }
  static const char *const param_keys[] = {"max_error", "confidence", "audit_percent"};
  hitl_buf_puts(b, ",\"params\":{");
  put_numbers(b, param_keys,
              (double[]){e->params.max_error, e->params.confidence, e->params.audit_percent}, 3);
  hitl_buf_printf(b, "},\"evidence\":{\"pairs\":%ld,\"uniform\":%ld,\"wrong\":%ld,\"min_items\":%ld}",
                  st.pairs, st.uniform, st.wrong, st.min_items);
  int64_t routed = 0, accepted = 0, hour = now / HOUR_MS;
  for (int i = 0; i < HOURS; i++)
    if (e->hour_at[i] > hour - HOURS) {
      routed += e->routed[i];
      accepted += e->accepted[i];
    }
  hitl_buf_printf(b, ",\"last_day\":{\"routed\":%lld,\"auto_accepted\":%lld,\"share\":",
                  (long long)routed, (long long)accepted);
  put_number_or_null(b, routed ? (double)accepted / (double)routed : NAN);
  hitl_buf_printf(b, "},\"audit\":{\"percent\":");
  hitl_buf_double(b, e->params.audit_percent);
  hitl_buf_printf(b, ",\"audits\":%ld,\"drift_statistic\":", st.audits);
  hitl_buf_double(b, st.drift_statistic);
  hitl_buf_puts(b, ",\"drift_limit\":");
  hitl_buf_double(b, st.drift_limit);
  hitl_buf_printf(b, ",\"withdrawals\":%ld}", st.withdrawals);
  hitl_calib_risk_point pts[CURVE_POINTS];
  size_t np = hitl_calibration_risk_curve(e->cal, pts, CURVE_POINTS);
  hitl_buf_puts(b, ",\"risk_coverage\":[");
  static const char *const point_keys[] = {"threshold", "share", "error", "upper", "n"};
  for (size_t i = 0; i < np; i++) {
    hitl_buf_puts(b, i ? ",{" : "{");
    put_numbers(b, point_keys,
                (double[]){pts[i].threshold, pts[i].share, pts[i].error, pts[i].upper, pts[i].n},
                5);
    hitl_buf_putc(b, '}');
  }
  hitl_calib_reliability_bin bins[HITL_CALIB_RELIABILITY_BINS];
  double ece = hitl_calibration_reliability(e->cal, bins);
  hitl_buf_puts(b, "],\"reliability\":{\"ece\":");
  hitl_buf_double(b, ece);
  hitl_buf_puts(b, ",\"bins\":[");
  static const char *const bin_keys[] = {"lower", "upper", "n", "mean_score", "accuracy"};
  for (int i = 0; i < HITL_CALIB_RELIABILITY_BINS; i++) {
    hitl_buf_puts(b, i ? ",{" : "{");
    put_numbers(b, bin_keys,
                (double[]){bins[i].lower, bins[i].upper, bins[i].n, bins[i].mean_score,
                           bins[i].accuracy},
                5);
    hitl_buf_putc(b, '}');
  }
  hitl_buf_puts(b, "]}");
  put_conformal_view(e, b);
  pthread_mutex_unlock(&e->lock);
}
