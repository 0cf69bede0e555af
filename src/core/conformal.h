/* SPDX-License-Identifier: MIT */
/* Split-conformal prediction sets for classification queues: nonconformity scores (LAC, APS) of
 * human-labelled tasks, the finite-sample quantile, and the set of labels for a new task. */
#ifndef HITL_CORE_CONFORMAL_H
#define HITL_CORE_CONFORMAL_H

#include <stdbool.h>
#include <stddef.h>

#include "hitl/error.h"

typedef enum hitl_conformal_score {
  HITL_CONFORMAL_LAC, /* 1 - p(label): least ambiguous set-valued classifier. */
  HITL_CONFORMAL_APS, /* Probability mass ranked at or above the label: adaptive prediction sets
                         (non-randomized: the label's own mass is counted whole). */
} hitl_conformal_score;

/* Returns the nonconformity score of `label` for a task with class probabilities probs[n]
 * (taken as given, not renormalized; a label the model did not score gets probability 0 by
 * passing label == n). Ranking for APS: higher probability first, ties by lower index; APS costs
 * O(n) per label, so a whole set O(n^2): meant for label lists of up to a few hundred. */
double hitl_conformal_score_of(hitl_conformal_score kind, const double *probs, size_t n,
                               size_t label);

/* Returns the fewest calibration scores for which the quantile exists at this coverage:
 * the smallest n with ceil((n + 1) coverage) <= n, i.e. ceil(coverage / (1 - coverage)) (9 at
 * 0.9, 19 at 0.95). coverage in (0, 1). */
size_t hitl_conformal_min_n(double coverage);

/* Returns the 1-based rank ceil((n + 1) coverage) of the calibration quantile among n sorted
 * scores (greater than n when n is too small). Decimal coverages are treated exactly: 0.9 * 10
 * is 9, not 9.000000000000002. */
size_t hitl_conformal_rank(size_t n, double coverage);

typedef struct hitl_conformal hitl_conformal;

/* Returns a calibrator for one queue. window > 0 keeps only the most recent `window` scores
 * (a window of an exchangeable sequence is exchangeable too); 0 keeps all. Free with
 * hitl_conformal_free. */
hitl_conformal *hitl_conformal_new(hitl_conformal_score kind, double coverage, size_t window);
/* Frees c; NULL is a no-op. */
void hitl_conformal_free(hitl_conformal *c);

/* Returns 0, or HITL_EVALIDATION (field "coverage" or "score") for a coverage outside (0, 1)
 * or a score name other than "lac" and "aps"; on success *kind is set. */
int hitl_conformal_parse(const char *score, double coverage, hitl_conformal_score *kind,
                         hitl_err *err);

/* Adds a human-labelled task: its probabilities and the label the people chose (label == n for
 * a label the model did not score). Cost O(log n) to find the place plus a memmove of the
 * scores after it. */
void hitl_conformal_add(hitl_conformal *c, const double *probs, size_t n, size_t label);
/* Adds a nonconformity score directly. */
void hitl_conformal_add_score(hitl_conformal *c, double score);
/* Adds scores[0..n) as n calls of hitl_conformal_add_score would (NaN ignored), in O((c's count
 * + n) log) without a window instead of a memmove each: for loading stored scores. */
void hitl_conformal_add_scores(hitl_conformal *c, const double *scores, size_t n);

/* Returns the number of calibration scores held. */
size_t hitl_conformal_count(const hitl_conformal *c);

/* Sets *qhat to the calibration quantile (the rank-th smallest score, hitl_conformal_rank) and
 * returns true; false while fewer than hitl_conformal_min_n scores are held. */
bool hitl_conformal_quantile(const hitl_conformal *c, double *qhat);

/* The prediction set of a task: writes the labels whose score is <= the quantile to
 * labels[0..], most probable first, and returns how many (at most n; it may be 0 when the
 * model puts little mass everywhere). Returns (size_t)-1 while no quantile exists. Under
 * exchangeability the set holds the true label with probability at least coverage. */
size_t hitl_conformal_set(const hitl_conformal *c, const double *probs, size_t n,
                          size_t *labels);

#endif
