/* SPDX-License-Identifier: MIT */
/* Calibrated auto-approval: human-verified (score, model was right) pairs, the certified
 * threshold above which the selective error is at most max_error with probability at least
 * confidence, the audit stream's drift test that withdraws it, and the risk views.
 * docs/calibration.md states the guarantee, its assumption and the schemes. */
#ifndef HITL_CORE_CALIBRATION_H
#define HITL_CORE_CALIBRATION_H

#include <stdbool.h>
#include <stddef.h>

#include "hitl/error.h"

/* Scores are counted in a fixed grid of this many buckets (edges in calibration.c): the
 * candidate thresholds are the bucket edges, so they are chosen before any data is seen. */
#define HITL_CALIB_BUCKETS 2048
/* Equal-width bins of the reliability diagram over [0, 1]. */
#define HITL_CALIB_RELIABILITY_BINS 10

/* How the family of candidate thresholds is tested (docs/calibration.md, "Schemes"). */
typedef enum hitl_calib_scheme {
  /* Fixed-sequence testing from strict to loose, restarted at K label-free points (the first
   * where a certificate is possible at all, then each start_ratio times more evidence), the K
   * sequences at delta / K each. The default: bench/calibration/README.md has the comparison. */
  HITL_CALIB_MULTI_START,
  /* Fixed-sequence testing (Learn-then-Test) from strict to loose at level delta each, started
   * at the strictest threshold with enough verified items above it for `start_errors` errors to
   * be tolerated; stops at the first threshold that fails. */
  HITL_CALIB_FIXED_SEQUENCE,
  /* Geifman and El-Yaniv's SGR: binary search over the ranks of the verified items, delta split
   * evenly over its steps. */
  HITL_CALIB_SGR,
  /* Every nonempty bucket tested at delta / (number of nonempty buckets). */
  HITL_CALIB_BONFERRONI,
} hitl_calib_scheme;

/* Which verified pairs are evidence, and how they count (docs/calibration.md, "Sampling bias"). */
typedef enum hitl_calib_weighting {
  /* Only pairs whose review was independent of their score (tag.uniform): the exact default. */
  HITL_CALIB_UNIFORM,
  /* Every pair weighted 1 / propensity; the binomial bound uses Kish's effective sample size.
   * Approximate: kept for the bench. */
  HITL_CALIB_INVERSE_PROPENSITY,
  /* Every pair counted once as if uniform: biased once a threshold is in force. Bench only. */
  HITL_CALIB_UNWEIGHTED,
} hitl_calib_weighting;

typedef struct hitl_calib_params {
  double max_error;      /* The selective error to certify, in (0, 0.5). */
  double confidence;     /* 1 - delta, in (0.5, 1). */
  double audit_percent;  /* Share of would-be-accepted items still sent to people, [0, 100]. */
  hitl_calib_scheme scheme;
  hitl_calib_weighting weighting;
  double start_ratio;    /* MULTI_START: evidence grows this much from one start to the next,
                            [1.5, 1000]. */
  int start_errors;      /* FIXED_SEQUENCE: the sequence starts where this many errors could
                            still certify (0: at ln(delta)/ln(1 - max_error) items), 0..100. */
  double drift_arl;      /* Drift test: audits expected between false alarms at an error rate of
                            exactly max_error is at least this (CUSUM threshold ln(drift_arl)), >= 2. */
} hitl_calib_params;

/* Fills *p with the defaults: max_error 0.02, confidence 0.95, audit_percent 5, MULTI_START
 * with start_ratio 4, UNIFORM weighting, start_errors 0, drift_arl 1000 (docs/calibration.md). */
void hitl_calibration_params_default(hitl_calib_params *p);

/* Returns 0 when p is usable, else HITL_EVALIDATION with the offending field named in err
 * ("max_error", "confidence", "audit_percent", "scheme", "weighting", "start_ratio",
 * "start_errors", "drift_arl"). */
int hitl_calibration_params_check(const hitl_calib_params *p, hitl_err *err);

/* How an item reached (or did not reach) a person, fixed when it is routed and handed back with
 * the human answer. */
typedef struct hitl_calib_tag {
  double propensity; /* Probability that the item was sent to a person, (0, 1]. */
  bool uniform;      /* Sent to a person independently of its score: before any threshold, or
                        by the audit draw (also below the threshold, where it is only marked). */
  bool audit;        /* The leaf held and the audit draw sent it to a person anyway. */
} hitl_calib_tag;

typedef enum hitl_calib_route {
  HITL_CALIB_ROUTE_NO,     /* The leaf does not hold: below the threshold, or none certified. */
  HITL_CALIB_ROUTE_ACCEPT, /* The leaf holds. */
  HITL_CALIB_ROUTE_AUDIT,  /* The leaf would hold, but the item goes to a reviewer as an audit. */
} hitl_calib_route;

/* The certificate in force. */
typedef struct hitl_calib_certificate {
  bool certified;     /* False until a threshold is certified, and after a withdrawal. */
  double threshold;   /* The leaf holds for scores >= threshold (a bucket edge). */
  double n;           /* Evidence scoring >= threshold: pairs (effective number when weighted). */
  double k;           /* Of them, the model was wrong on this many (weighted likewise). */
  double bound;       /* Clopper-Pearson upper bound on the selective error at `level`. */
  double level;       /* The error probability the test at this threshold was run at: delta,
                         or delta split over SGR's steps or Bonferroni's tests. */
  double share;       /* Estimated share of all items scoring >= threshold. */
} hitl_calib_certificate;

/* What an added answer changed. */
typedef enum hitl_calib_change {
  HITL_CALIB_UNCHANGED,
  HITL_CALIB_CHANGED,   /* The certificate was issued or moved. */
  HITL_CALIB_WITHDRAWN, /* The drift test fired: certificate withdrawn, evidence started afresh. */
} hitl_calib_change;

typedef struct hitl_calibration hitl_calibration;

/* Returns a new, empty calibration state with parameters *p (checked by the caller with
 * hitl_calibration_params_check). Free with hitl_calibration_free. */
hitl_calibration *hitl_calibration_new(const hitl_calib_params *p);
/* Frees c; NULL is a no-op. */
void hitl_calibration_free(hitl_calibration *c);

/* Routes an item with this score: `draw` is the item's audit draw, uniform in [0, 1) and fixed
 * per item (the same key gives the same draw, as sample_percent does). Fills *tag, which the
 * caller stores with the item and hands to hitl_calibration_add with the human answer (an item
 * the leaf accepts never gets one). Assumes an item the leaf does not accept is reviewed. A NaN
 * score never passes the threshold. */
hitl_calib_route hitl_calibration_route(const hitl_calibration *c, double score, double draw,
                                        hitl_calib_tag *tag);

/* Adds one verified pair: the item's score, whether the model was right, and its routing tag
 * (a pair with a NaN score is ignored).
 * Feeds the drift test with uniform pairs scoring at or above the threshold in force, and
 * recomputes the certificate from per-bucket counts (no pair is rescanned; amortized cost
 * O(HITL_CALIB_BUCKETS) integer steps for the default scheme). */
hitl_calib_change hitl_calibration_add(hitl_calibration *c, double score, bool correct,
                                       const hitl_calib_tag *tag);

/* One verified pair, for hitl_calibration_add_batch. */
typedef struct hitl_calib_pair {
  double score;
  bool correct;
  hitl_calib_tag tag;
} hitl_calib_pair;

/* Adds pairs[0..n) as hitl_calibration_add would, one by one (the drift test sees each against
 * the certificate in force when the batch began), but recomputes the certificate once at the
 * end: for loading stored evidence. Returns WITHDRAWN if the drift test fired, else whether the
 * certificate changed. */
hitl_calib_change hitl_calibration_add_batch(hitl_calibration *c, const hitl_calib_pair *pairs,
                                             size_t n);

/* Returns the certificate in force (borrowed: its fields change with later calls on c). The
 * bound is brought up to date here, not on every answer (a bisection of some 45 CDF
 * evaluations); it is the only thing that makes this call not const. */
const hitl_calib_certificate *hitl_calibration_certificate(hitl_calibration *c);

/* Counters for the calibration view. */
typedef struct hitl_calib_stats {
  long pairs;       /* Verified pairs added in this epoch. */
  long uniform;     /* Of them, uniform. */
  long wrong;       /* Of them, the model was wrong. */
  long audits;      /* Uniform pairs fed to the drift test since the last withdrawal. */
  double drift_statistic; /* The CUSUM statistic, 0..drift_limit. */
  double drift_limit;     /* ln(drift_arl): the statistic withdraws the threshold at this. */
  long withdrawals; /* Times the drift test withdrew a threshold. */
  long min_items;   /* Items above a threshold needed for any certificate at all. */
} hitl_calib_stats;

/* Fills *s. */
void hitl_calibration_stats(const hitl_calibration *c, hitl_calib_stats *s);

/* One point of the risk-coverage curve. */
typedef struct hitl_calib_risk_point {
  double threshold; /* Accept scores >= threshold. */
  double share;     /* Estimated share of items accepted. */
  double error;     /* Estimated selective error among them. */
  double upper;     /* Its Clopper-Pearson upper bound at the configured confidence (pointwise,
                       not simultaneous over the curve). */
  double n;         /* Evidence behind the point. */
} hitl_calib_risk_point;

/* Writes at most max points of the risk-coverage curve, strictest first, at about evenly spaced
 * shares of the evidence. Returns the number written (0 without evidence). */
size_t hitl_calibration_risk_curve(const hitl_calibration *c, hitl_calib_risk_point *out,
                                   size_t max);

/* One bin of the reliability diagram. */
typedef struct hitl_calib_reliability_bin {
  double lower, upper; /* Scores in [lower, upper); the last bin also holds 1. */
  double n;            /* Evidence in the bin (weighted like the certificate). */
  double mean_score;   /* Mean score of it (0 when empty). */
  double accuracy;     /* Share of it the model got right (0 when empty). */
} hitl_calib_reliability_bin;

/* Fills out[HITL_CALIB_RELIABILITY_BINS] and returns the expected calibration error (the
 * n-weighted mean of |accuracy - mean_score|; 0 without evidence). */
double hitl_calibration_reliability(const hitl_calibration *c,
                                    hitl_calib_reliability_bin out[HITL_CALIB_RELIABILITY_BINS]);

/* Snapshots: the whole state as an array of doubles (a version number first, then the
 * counters, the drift statistic and the per-bucket sums), so that a store can keep it and a
 * restart resumes exactly where it was, drift statistic included, without replaying every pair.
 * The parameters are not in it: they come from the queue's configuration. */
#define HITL_CALIB_SNAPSHOT_VERSION 1

/* Returns the number of doubles in a snapshot. */
size_t hitl_calibration_snapshot_size(void);
/* Writes c's state to out[hitl_calibration_snapshot_size()]. */
void hitl_calibration_snapshot(const hitl_calibration *c, double *out);
/* Replaces c's state with a snapshot of n doubles and recomputes the certificate from it (under
 * c's parameters, which may differ from those it was taken under). Returns 0, or
 * HITL_EVALIDATION (c unchanged) for a wrong size or version or a negative or non-finite value. */
int hitl_calibration_restore(hitl_calibration *c, const double *in, size_t n, hitl_err *err);

/* Returns the lower edge of the grid bucket that holds score: the threshold that a certificate
 * covering this score would carry. Exposed for the tests and the bench. */
double hitl__calibration_bucket_edge(double score);

#endif
