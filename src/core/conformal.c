/* SPDX-License-Identifier: MIT */
/* Split-conformal prediction sets: scores, the finite-sample quantile, the sets. */
#include "core/conformal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

struct hitl_conformal {
  hitl_conformal_score kind;
  double coverage;
  double *sorted;  /* The scores held, ascending. */
  size_t n, cap;
  double *ring;    /* With a window: the scores in arrival order, oldest at ring[head]. */
  size_t window, head;
};

/* Does label i rank before label j (higher probability, ties by lower index)? */
static bool ranks_before(const double *probs, size_t i, size_t j) {
  return probs[i] > probs[j] || (probs[i] == probs[j] && i < j);
}

double hitl_conformal_score_of(hitl_conformal_score kind, const double *probs, size_t n,
                               size_t label) {
  double p = label < n ? probs[label] : 0;
  if (kind == HITL_CONFORMAL_LAC) return 1 - p;
  double mass = p;
  for (size_t j = 0; j < n; j++)
    if (j != label && (label >= n || ranks_before(probs, j, label))) mass += probs[j];
  return mass;
}

size_t hitl_conformal_rank(size_t n, double coverage) {
  /* (n + 1) coverage is meant exactly; floating point may land a hair above a whole number. */
  double x = (double)(n + 1) * coverage;
  double r = ceil(x - 1e-9 * fmax(1, x));
  return r < 1 ? 1 : (size_t)r;
}

size_t hitl_conformal_min_n(double coverage) {
  size_t n = (size_t)floor(coverage / (1 - coverage));
  if (n > 0) n--; /* Step over rounding in the quotient; the loop settles it. */
  while (hitl_conformal_rank(n, coverage) > n) n++;
  return n;
}

hitl_conformal *hitl_conformal_new(hitl_conformal_score kind, double coverage, size_t window) {
  hitl_conformal *c = hitl_xcalloc(1, sizeof *c);
  c->kind = kind;
  c->coverage = coverage;
  c->window = window;
  if (window > 0) c->ring = hitl_xmalloc(window * sizeof *c->ring);
  return c;
}

void hitl_conformal_free(hitl_conformal *c) {
  if (c == NULL) return;
  free(c->sorted);
  free(c->ring);
  free(c);
}

int hitl_conformal_parse(const char *score, double coverage, hitl_conformal_score *kind,
                         hitl_err *err) {
  if (!(coverage > 0 && coverage < 1))
    return hitl_err_set(err, HITL_EVALIDATION, "coverage", "coverage must be in (0, 1)");
  if (score != NULL && strcmp(score, "lac") == 0) *kind = HITL_CONFORMAL_LAC;
  else if (score != NULL && strcmp(score, "aps") == 0) *kind = HITL_CONFORMAL_APS;
  else return hitl_err_set(err, HITL_EVALIDATION, "score", "score must be \"lac\" or \"aps\"");
  return 0;
}

/* The first index whose score is >= s (binary search). */
static size_t lower_bound(const hitl_conformal *c, double s) {
  size_t lo = 0, hi = c->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (c->sorted[mid] < s) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

void hitl_conformal_add_score(hitl_conformal *c, double score) {
  if (isnan(score)) return;
  if (c->window > 0 && c->n == c->window) {
    /* Full: drop the oldest score (one equal to it in the sorted array), reuse its ring slot. */
    size_t at = lower_bound(c, c->ring[c->head]);
    memmove(c->sorted + at, c->sorted + at + 1, (c->n - at - 1) * sizeof *c->sorted);
    c->n--;
    c->ring[c->head] = score;
    c->head = (c->head + 1) % c->window;
  } else if (c->window > 0) {
    c->ring[c->n] = score; /* Filling: head stays 0. */
  }
  if (c->n == c->cap) {
    c->cap = c->cap ? 2 * c->cap : 64;
    c->sorted = hitl_xrealloc(c->sorted, c->cap * sizeof *c->sorted);
  }
  size_t at = lower_bound(c, score);
  memmove(c->sorted + at + 1, c->sorted + at, (c->n - at) * sizeof *c->sorted);
  c->sorted[at] = score;
  c->n++;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

void hitl_conformal_add_scores(hitl_conformal *c, const double *scores, size_t n) {
  if (c->window > 0) { /* The ring keeps arrival order: one at a time. */
    for (size_t i = 0; i < n; i++) hitl_conformal_add_score(c, scores[i]);
    return;
  }
  if (c->n + n > c->cap) {
    c->cap = c->n + n;
    c->sorted = hitl_xrealloc(c->sorted, c->cap * sizeof *c->sorted);
  }
  for (size_t i = 0; i < n; i++)
    if (!isnan(scores[i])) c->sorted[c->n++] = scores[i];
  if (c->n > 1) qsort(c->sorted, c->n, sizeof *c->sorted, by_value);
}

void hitl_conformal_add(hitl_conformal *c, const double *probs, size_t n, size_t label) {
  hitl_conformal_add_score(c, hitl_conformal_score_of(c->kind, probs, n, label));
}

size_t hitl_conformal_count(const hitl_conformal *c) { return c->n; }

bool hitl_conformal_quantile(const hitl_conformal *c, double *qhat) {
  size_t r = hitl_conformal_rank(c->n, c->coverage);
  if (r > c->n) return false;
  *qhat = c->sorted[r - 1];
  return true;
}

size_t hitl_conformal_set(const hitl_conformal *c, const double *probs, size_t n,
                          size_t *labels) {
  double q;
  if (!hitl_conformal_quantile(c, &q)) return (size_t)-1;
  size_t m = 0;
  for (size_t y = 0; y < n; y++)
    if (hitl_conformal_score_of(c->kind, probs, n, y) <= q) labels[m++] = y;
  /* Most probable first (insertion sort: label sets are short). */
  for (size_t i = 1; i < m; i++) {
    size_t y = labels[i], j = i;
    for (; j > 0 && ranks_before(probs, y, labels[j - 1]); j--) labels[j] = labels[j - 1];
    labels[j] = y;
  }
  return m;
}
