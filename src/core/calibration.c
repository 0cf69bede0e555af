/* SPDX-License-Identifier: MIT */
/* Calibrated auto-approval: evidence in a fixed score grid, the certification schemes, routing
 * tags, the CUSUM drift test and the risk views. */
#include "core/calibration.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/binomial.h"
#include "util/xmalloc.h"

/* The grid: bucket b >= 1 starts at 1 - 10^(-b / 256), so resolution follows the distance to 1
 * (about 0.009 near 0, 0.0009 near 0.9, 9e-6 near 0.999); the top bucket starts at 1 - 1e-8 and
 * holds 1. Bucket 0 starts at 0 and also holds negative scores. */
#define GRID_PER_DECADE 256.0
#define TOP (HITL_CALIB_BUCKETS - 1)

static double edge(int b) {
  return b <= 0 ? 0.0 : -expm1(-(double)b / GRID_PER_DECADE * M_LN10);
}

/* The bucket of score: the largest b with edge(b) <= score, so that "score >= edge(b)" and
 * "bucket(score) >= b" always agree (the leaf compares scores, the certificate buckets). */
static int bucket_of(double score) {
  if (!(score > 0)) return 0; /* Also NaN, which the API never lets through. */
  if (score >= 1) return TOP;
  double x = -log10(1 - score) * GRID_PER_DECADE;
  int b = x >= TOP ? TOP : (int)x;
  while (b < TOP && score >= edge(b + 1)) b++;
  while (b > 0 && score < edge(b)) b--;
  return b;
}

double hitl__calibration_bucket_edge(double score) { return edge(bucket_of(score)); }

/* need[j]: the fewest items above a threshold that certify it with j errors among them at this
 * level (need[0] is ln(level)/ln(1 - max_error) rounded up). Grown on demand; j never passes
 * max_error times the evidence, so it stays small. */
typedef struct need_table {
  double level;
  long *need;
  size_t n, cap;
} need_table;

/* MULTI_START runs at most this many sequences. */
#define MAX_STARTS 16

struct hitl_calibration {
  hitl_calib_params p;
  double delta;       /* 1 - confidence. */
  double drift_up;    /* CUSUM increment for a wrong answer: ln(a1 / a0). */
  double drift_down;  /* ... for a right one: ln((1 - a1) / (1 - a0)), negative. */
  double drift_limit; /* ln(drift_arl). */
  /* Evidence of the current epoch per bucket, weighted per p.weighting (1 per uniform pair for
   * UNIFORM, so w and wk are exact counts there): sum of weights, of weights of wrong pairs, of
   * squared weights (for the effective sample size). */
  double w[HITL_CALIB_BUCKETS], wk[HITL_CALIB_BUCKETS], w2[HITL_CALIB_BUCKETS];
  double total;  /* Sum of w[]. */
  double w2sum; /* Sum of w2[]. */
  double rel_w[HITL_CALIB_RELIABILITY_BINS], rel_right[HITL_CALIB_RELIABILITY_BINS],
      rel_score[HITL_CALIB_RELIABILITY_BINS];
  /* Tables of the fewest items above a threshold that certify it with j errors among them:
   * [0] at level delta, [1] at the level of MULTI_START's tests. */
  need_table tables[2];
  hitl_calib_certificate cert;
  int cert_bucket;  /* Bucket of cert.threshold when certified. */
  bool bound_stale; /* cert.bound is out of date. */
  /* MULTI_START: evidence_for_starts[k] is the evidence needed for k + 1 starts (the first
   * count that can pass at delta / (k + 1), times start_ratio^k). */
  double evidence_for_starts[MAX_STARTS];
  hitl_calib_stats stats;
};

/* Is P(Bin(n, max_error) <= k) <= level: may a threshold with k errors in n be certified? */
static bool binomial_test(const hitl_calibration *c, double k, double n, double level) {
  return hitl__binomial_cdf(k, n, c->p.max_error) <= level;
}

/* Returns need[j] of table t, extending it as far as j. need[j] >= need[j-1]: the CDF grows
 * with k. */
static long need(const hitl_calibration *c, need_table *t, size_t j) {
  while (t->n <= j) {
    size_t i = t->n;
    long lo = i == 0 ? 0 : t->need[i - 1] - 1; /* Fails for i - 1, so for i too. */
    long hi = lo + 1, step = 16;
    while (!binomial_test(c, (double)i, (double)hi, t->level)) {
      lo = hi;
      hi += step;
      step *= 2;
    }
    while (hi - lo > 1) { /* Invariant: lo fails, hi passes; the CDF falls as n grows. */
      long mid = lo + (hi - lo) / 2;
      if (binomial_test(c, (double)i, (double)mid, t->level)) hi = mid;
      else lo = mid;
    }
    if (t->n == t->cap) {
      t->cap = t->cap ? 2 * t->cap : 64;
      t->need = hitl_xrealloc(t->need, t->cap * sizeof *t->need);
    }
    t->need[t->n++] = hi;
  }
  return t->need[j];
}

/* Points t at level, emptying it when it held another. */
static void table_level(need_table *t, double level) {
  if (t->level != level) {
    t->level = level;
    t->n = 0;
  }
}

/* Effective (n, k) of evidence with these sums: counts for UNIFORM and UNWEIGHTED, Kish's
 * effective sample size (sum w)^2 / sum w^2 with the weighted error share for IPW. */
static void effective(const hitl_calibration *c, double w, double wk, double w2, double *n,
                      double *k) {
  if (c->p.weighting != HITL_CALIB_INVERSE_PROPENSITY || w <= 0) {
    *n = w;
    *k = wk;
    return;
  }
  *n = w * w / w2;
  *k = wk / w * *n;
}

/* Does the evidence (n, k) pass the test at level? With whole counts at the level of a table,
 * one comparison answers; otherwise one incomplete beta evaluation. */
static bool passes(hitl_calibration *c, double n, double k, double level) {
  if (!(k < n * c->p.max_error)) return false; /* The CDF is >= 1/2 > delta there. */
  if (c->p.weighting != HITL_CALIB_INVERSE_PROPENSITY)
    for (int i = 0; i < 2; i++)
      if (c->tables[i].level == level) return n >= (double)need(c, &c->tables[i], (size_t)k);
  return binomial_test(c, k, n, level);
}

/* The result of a scheme: the loosest passing bucket (or -1) and the level it passed at. */
typedef struct found {
  int bucket;
  double level;
} found;

/* Fixed-sequence testing from strict to loose at level, (re)started at each of the label-free
 * points starts[0..n_starts) (ascending evidence counts): a sequence dies at its first failure,
 * and the next start begins a new one. The loosest threshold any sequence reached wins. */
static int fixed_sequences(hitl_calibration *c, const double *starts, int n_starts,
                           double level) {
  int best = -1, next = 0;
  double w = 0, wk = 0, w2 = 0;
  bool alive = false;
  for (int b = TOP; b >= 0; b--) {
    if (c->w[b] <= 0) continue;
    w += c->w[b];
    wk += c->wk[b];
    w2 += c->w2[b];
    double n, k;
    effective(c, w, wk, w2, &n, &k);
    for (; next < n_starts && n >= starts[next]; next++) alive = true;
    if (!alive) continue;
    if (passes(c, n, k, level)) best = b;
    else alive = false;
  }
  return best;
}

static found scheme_fixed_sequence(hitl_calibration *c) {
  double start = (double)need(c, &c->tables[0], (size_t)c->p.start_errors);
  return (found){fixed_sequences(c, &start, 1, c->delta), c->delta};
}

/* Fixed sequences started at K points spaced by start_ratio, from the first count that can pass
 * at delta / K up to the evidence held; Bonferroni over the K sequences. K is the largest that
 * fits, so it grows with the evidence (it depends on counts only, never on labels). */
static found scheme_multi_start(hitl_calibration *c) {
  double n_total, k_total, starts[MAX_STARTS];
  effective(c, c->total, 0, c->w2sum, &n_total, &k_total);
  int k = 1;
  while (k < MAX_STARTS && c->evidence_for_starts[k] <= n_total) k++;
  double level = c->delta / k;
  table_level(&c->tables[1], level);
  starts[0] = (double)need(c, &c->tables[1], 0);
  for (int i = 1; i < k; i++) starts[i] = starts[i - 1] * c->p.start_ratio;
  return (found){fixed_sequences(c, starts, k, level), level};
}

/* The bucket holding the z-th unit of evidence from the top, and the sums from there up. */
static int bucket_at_rank(const hitl_calibration *c, double z, double *w, double *wk,
                          double *w2) {
  *w = *wk = *w2 = 0;
  for (int b = TOP; b >= 0; b--) {
    *w += c->w[b];
    *wk += c->wk[b];
    *w2 += c->w2[b];
    if (*w >= z && c->w[b] > 0) return b;
  }
  return -1;
}

static found scheme_sgr(hitl_calibration *c) {
  found f = {-1, c->delta};
  long first = need(c, &c->tables[0], 0);
  /* Ranks below need[0] cannot pass at any level <= delta: search [need[0], m]. lo stands for a
   * virtual pass, hi for a virtual failure; the step count is fixed before any test runs. */
  double m = floor(c->total);
  long lo = first - 1, hi = (long)m + 1;
  if (hi - lo < 2) return f;
  int steps = (int)ceil(log2((double)(hi - lo)));
  f.level = c->delta / steps;
  while (hi - lo > 1) {
    long z = lo + (hi - lo) / 2;
    double w, wk, w2, n, k;
    int b = bucket_at_rank(c, (double)z, &w, &wk, &w2);
    effective(c, w, wk, w2, &n, &k);
    if (b >= 0 && passes(c, n, k, f.level)) {
      lo = z;
      if (f.bucket < 0 || b < f.bucket) f.bucket = b;
    } else {
      hi = z;
    }
  }
  return f;
}

static found scheme_bonferroni(hitl_calibration *c) {
  found f = {-1, c->delta};
  double min_n = (double)need(c, &c->tables[0], 0);
  /* The tests: nonempty buckets with enough evidence above them to pass at all (label-free). */
  int tests = 0;
  double w = 0, wk = 0, w2 = 0, n, k;
  for (int b = TOP; b >= 0; b--) {
    if (c->w[b] <= 0) continue;
    w += c->w[b];
    w2 += c->w2[b];
    effective(c, w, 0, w2, &n, &k);
    if (n >= min_n) tests++;
  }
  if (tests == 0) return f;
  f.level = c->delta / tests;
  w = w2 = 0;
  for (int b = TOP; b >= 0; b--) {
    if (c->w[b] <= 0) continue;
    w += c->w[b];
    wk += c->wk[b];
    w2 += c->w2[b];
    effective(c, w, wk, w2, &n, &k);
    if (n >= min_n && passes(c, n, k, f.level)) f.bucket = b;
  }
  return f;
}

/* Sums of evidence scoring in bucket b or above. */
static void suffix(const hitl_calibration *c, int b, double *w, double *wk, double *w2) {
  *w = *wk = *w2 = 0;
  for (int i = TOP; i >= b; i--) {
    *w += c->w[i];
    *wk += c->wk[i];
    *w2 += c->w2[i];
  }
}

/* Recomputes the certificate; returns whether its threshold (or being certified) changed. */
static bool recompute(hitl_calibration *c) {
  found f;
  switch (c->p.scheme) {
  case HITL_CALIB_MULTI_START: f = scheme_multi_start(c); break;
  case HITL_CALIB_SGR: f = scheme_sgr(c); break;
  case HITL_CALIB_BONFERRONI: f = scheme_bonferroni(c); break;
  default: f = scheme_fixed_sequence(c); break;
  }
  hitl_calib_certificate *cert = &c->cert;
  bool was = cert->certified;
  int old_bucket = c->cert_bucket;
  if (f.bucket < 0) {
    memset(cert, 0, sizeof *cert);
    c->cert_bucket = -1;
    return was;
  }
  double w, wk, w2, n, k;
  suffix(c, f.bucket, &w, &wk, &w2);
  effective(c, w, wk, w2, &n, &k);
  /* The bound is a bisection of some 45 CDF evaluations: computed when it is read, if its
   * inputs moved since. */
  if (!was || n != cert->n || k != cert->k || f.level != cert->level) c->bound_stale = true;
  cert->certified = true;
  cert->threshold = edge(f.bucket);
  cert->n = n;
  cert->k = k;
  cert->level = f.level;
  cert->share = w / c->total;
  c->cert_bucket = f.bucket;
  return !was || old_bucket != f.bucket;
}

void hitl_calibration_params_default(hitl_calib_params *p) {
  memset(p, 0, sizeof *p);
  p->max_error = 0.02;
  p->confidence = 0.95;
  p->audit_percent = 5;
  p->scheme = HITL_CALIB_MULTI_START;
  p->weighting = HITL_CALIB_UNIFORM;
  p->start_errors = 0;
  p->start_ratio = 4;
  p->drift_arl = 1000;
}

int hitl_calibration_params_check(const hitl_calib_params *p, hitl_err *err) {
  if (!(p->max_error > 0 && p->max_error < 0.5))
    return hitl_err_set(err, HITL_EVALIDATION, "max_error", "max_error must be in (0, 0.5)");
  if (!(p->confidence > 0.5 && p->confidence < 1))
    return hitl_err_set(err, HITL_EVALIDATION, "confidence", "confidence must be in (0.5, 1)");
  if (!(p->audit_percent >= 0 && p->audit_percent <= 100))
    return hitl_err_set(err, HITL_EVALIDATION, "audit_percent",
                        "audit_percent must be in [0, 100]");
  if (p->scheme < HITL_CALIB_MULTI_START || p->scheme > HITL_CALIB_BONFERRONI)
    return hitl_err_set(err, HITL_EVALIDATION, "scheme", "unknown scheme");
  if (p->weighting < HITL_CALIB_UNIFORM || p->weighting > HITL_CALIB_UNWEIGHTED)
    return hitl_err_set(err, HITL_EVALIDATION, "weighting", "unknown weighting");
  if (!(p->start_ratio >= 1.5 && p->start_ratio <= 1000))
    return hitl_err_set(err, HITL_EVALIDATION, "start_ratio", "start_ratio must be in [1.5, 1000]");
  if (p->start_errors < 0 || p->start_errors > 100)
    return hitl_err_set(err, HITL_EVALIDATION, "start_errors", "start_errors must be in [0, 100]");
  if (!(p->drift_arl >= 2 && p->drift_arl <= 1e12))
    return hitl_err_set(err, HITL_EVALIDATION, "drift_arl", "drift_arl must be in [2, 1e12]");
  return 0;
}

hitl_calibration *hitl_calibration_new(const hitl_calib_params *p) {
  hitl_calibration *c = hitl_xcalloc(1, sizeof *c);
  c->p = *p;
  c->delta = 1 - p->confidence;
  /* The drift test's alternative: twice max_error (capped below 1). */
  double a0 = p->max_error, a1 = fmin(2 * a0, 0.5 * (1 + a0));
  c->drift_up = log(a1 / a0);
  c->drift_down = log1p(-a1) - log1p(-a0);
  c->drift_limit = log(p->drift_arl);
  c->cert_bucket = -1;
  for (int k = 1; k < MAX_STARTS; k++)
    c->evidence_for_starts[k] =
        (double)hitl__binomial_min_trials(p->max_error, c->delta / (k + 1)) *
        pow(p->start_ratio, k);
  c->tables[0].level = c->delta;
  c->tables[1].level = -1;
  c->stats.drift_limit = c->drift_limit;
  c->stats.min_items = need(c, &c->tables[0], 0);
  return c;
}

void hitl_calibration_free(hitl_calibration *c) {
  if (c == NULL) return;
  free(c->tables[0].need);
  free(c->tables[1].need);
  free(c);
}

hitl_calib_route hitl_calibration_route(const hitl_calibration *c, double score, double draw,
                                        hitl_calib_tag *tag) {
  double a = c->p.audit_percent / 100;
  bool drawn = draw < a;
  if (!c->cert.certified || isnan(score) || bucket_of(score) < c->cert_bucket) {
    /* Reviewed as usual; part of the uniform sample if no threshold is in force (everything is
     * reviewed then) or if the audit draw would have picked it above the threshold. */
    *tag = (hitl_calib_tag){.propensity = 1, .uniform = !c->cert.certified || drawn};
    return HITL_CALIB_ROUTE_NO;
  }
  *tag = (hitl_calib_tag){.propensity = a > 0 ? a : 1, .uniform = drawn, .audit = drawn};
  return drawn ? HITL_CALIB_ROUTE_AUDIT : HITL_CALIB_ROUTE_ACCEPT;
}

/* Starts a new epoch: the evidence no longer describes the data, so none of it is kept. */
static void withdraw(hitl_calibration *c) {
  memset(c->w, 0, sizeof c->w);
  memset(c->wk, 0, sizeof c->wk);
  memset(c->w2, 0, sizeof c->w2);
  c->total = c->w2sum = 0;
  memset(c->rel_w, 0, sizeof c->rel_w);
  memset(c->rel_right, 0, sizeof c->rel_right);
  memset(c->rel_score, 0, sizeof c->rel_score);
  memset(&c->cert, 0, sizeof c->cert);
  c->cert_bucket = -1;
  c->stats.pairs = c->stats.uniform = c->stats.wrong = c->stats.audits = 0;
  c->stats.drift_statistic = 0;
  c->stats.withdrawals++;
}

/* Adds one pair without recomputing the certificate. Returns whether the drift test withdrew
 * the threshold; sets *evidence when the pair counts as evidence. */
static bool add_one(hitl_calibration *c, double score, bool correct, const hitl_calib_tag *tag,
                    bool *evidence) {
  if (isnan(score)) return false; /* No score, nothing to learn about thresholds. */
  int b = bucket_of(score);
  /* The drift test watches uniform pairs at or above the threshold in force: a uniform sample of
   * exactly the items the leaf accepts. CUSUM of the log-likelihood ratio of error rate
   * 2 max_error against max_error, reset at 0 (docs/calibration.md, "Drift"). */
  if (c->cert.certified && tag->uniform && b >= c->cert_bucket) {
    double s = c->stats.drift_statistic + (correct ? c->drift_down : c->drift_up);
    c->stats.drift_statistic = s > 0 ? s : 0;
    c->stats.audits++;
    if (c->stats.drift_statistic >= c->drift_limit) {
      withdraw(c);
      return true;
    }
  }
  double weight;
  switch (c->p.weighting) {
  case HITL_CALIB_INVERSE_PROPENSITY:
    /* A propensity outside (0, 1] cannot come from routing: count the pair once. */
    weight = tag->propensity > 0 && tag->propensity <= 1 ? 1 / tag->propensity : 1;
    break;
  case HITL_CALIB_UNWEIGHTED: weight = 1; break;
  default: weight = tag->uniform ? 1 : 0; break;
  }
  c->stats.pairs++;
  c->stats.uniform += tag->uniform;
  c->stats.wrong += !correct;
  if (!(weight > 0)) return false;
  *evidence = true;
  c->w[b] += weight;
  c->total += weight;
  c->wk[b] += correct ? 0 : weight;
  c->w2[b] += weight * weight;
  c->w2sum += weight * weight;
  double s = score < 0 ? 0 : score > 1 ? 1 : score;
  int r = (int)(s * HITL_CALIB_RELIABILITY_BINS);
  if (r >= HITL_CALIB_RELIABILITY_BINS) r = HITL_CALIB_RELIABILITY_BINS - 1;
  c->rel_w[r] += weight;
  c->rel_right[r] += correct ? weight : 0;
  c->rel_score[r] += weight * s;
  return false;
}

hitl_calib_change hitl_calibration_add(hitl_calibration *c, double score, bool correct,
                                       const hitl_calib_tag *tag) {
  bool evidence = false;
  if (add_one(c, score, correct, tag, &evidence)) return HITL_CALIB_WITHDRAWN;
  if (!evidence) return HITL_CALIB_UNCHANGED;
  return recompute(c) ? HITL_CALIB_CHANGED : HITL_CALIB_UNCHANGED;
}

hitl_calib_change hitl_calibration_add_batch(hitl_calibration *c, const hitl_calib_pair *pairs,
                                             size_t n) {
  bool evidence = false, withdrawn = false;
  for (size_t i = 0; i < n; i++)
    withdrawn |= add_one(c, pairs[i].score, pairs[i].correct, &pairs[i].tag, &evidence);
  bool moved = evidence && recompute(c);
  return withdrawn ? HITL_CALIB_WITHDRAWN : moved ? HITL_CALIB_CHANGED : HITL_CALIB_UNCHANGED;
}

const hitl_calib_certificate *hitl_calibration_certificate(hitl_calibration *c) {
  if (c->cert.certified && c->bound_stale)
    c->cert.bound = hitl__binomial_upper(c->cert.k, c->cert.n, c->cert.level);
  c->bound_stale = false;
  return &c->cert;
}

void hitl_calibration_stats(const hitl_calibration *c, hitl_calib_stats *s) { *s = c->stats; }

size_t hitl_calibration_risk_curve(const hitl_calibration *c, hitl_calib_risk_point *out,
                                   size_t max) {
  double total = c->total;
  if (max == 0 || total <= 0) return 0;
  size_t written = 0, next = 1;
  double w = 0, wk = 0, w2 = 0;
  for (int b = TOP; b >= 0 && written < max; b--) {
    if (c->w[b] <= 0) continue;
    w += c->w[b];
    wk += c->wk[b];
    w2 += c->w2[b];
    if (w < total * (double)next / (double)max && b > 0) continue;
    while (next <= max && w >= total * (double)next / (double)max) next++;
    double n, k;
    effective(c, w, wk, w2, &n, &k);
    out[written++] = (hitl_calib_risk_point){.threshold = edge(b),
                                             .share = w / total,
                                             .error = k / n,
                                             .upper = hitl__binomial_upper(k, n, c->delta),
                                             .n = n};
  }
  return written;
}

double hitl_calibration_reliability(const hitl_calibration *c,
                                    hitl_calib_reliability_bin out[HITL_CALIB_RELIABILITY_BINS]) {
  double total = 0, ece = 0;
  for (int i = 0; i < HITL_CALIB_RELIABILITY_BINS; i++) {
    double n = c->rel_w[i];
    out[i] = (hitl_calib_reliability_bin){
        .lower = (double)i / HITL_CALIB_RELIABILITY_BINS,
        .upper = (double)(i + 1) / HITL_CALIB_RELIABILITY_BINS,
        .n = n,
        .mean_score = n > 0 ? c->rel_score[i] / n : 0,
        .accuracy = n > 0 ? c->rel_right[i] / n : 0};
    total += n;
    ece += n * fabs(out[i].accuracy - out[i].mean_score);
  }
  return total > 0 ? ece / total : 0;
}

/* Snapshot layout: version, 6 counters, then w, wk, w2 per bucket, then the reliability sums. */
#define SNAP_HEAD 7
#define SNAP_SIZE (SNAP_HEAD + 3 * HITL_CALIB_BUCKETS + 3 * HITL_CALIB_RELIABILITY_BINS)

size_t hitl_calibration_snapshot_size(void) { return SNAP_SIZE; }

void hitl_calibration_snapshot(const hitl_calibration *c, double *out) {
  const hitl_calib_stats *st = &c->stats;
  double head[SNAP_HEAD] = {HITL_CALIB_SNAPSHOT_VERSION, (double)st->pairs, (double)st->uniform,
                            (double)st->wrong, (double)st->audits, st->drift_statistic,
                            (double)st->withdrawals};
  double *o = out;
  memcpy(o, head, sizeof head);
  o += SNAP_HEAD;
  const double *arrays[] = {c->w, c->wk, c->w2};
  for (int i = 0; i < 3; i++, o += HITL_CALIB_BUCKETS)
    memcpy(o, arrays[i], HITL_CALIB_BUCKETS * sizeof *o);
  const double *rel[] = {c->rel_w, c->rel_right, c->rel_score};
  for (int i = 0; i < 3; i++, o += HITL_CALIB_RELIABILITY_BINS)
    memcpy(o, rel[i], HITL_CALIB_RELIABILITY_BINS * sizeof *o);
}

int hitl_calibration_restore(hitl_calibration *c, const double *in, size_t n, hitl_err *err) {
  if (n != SNAP_SIZE || in[0] != HITL_CALIB_SNAPSHOT_VERSION)
    return hitl_err_set(err, HITL_EVALIDATION, "snapshot",
                        "calibration snapshot of another size or version");
  for (size_t i = 1; i < n; i++)
    if (!isfinite(in[i]) || in[i] < 0)
      return hitl_err_set(err, HITL_EVALIDATION, "snapshot",
                          "calibration snapshot holds a negative or non-finite value");
  const double *p = in + SNAP_HEAD;
  double *arrays[] = {c->w, c->wk, c->w2};
  for (int i = 0; i < 3; i++, p += HITL_CALIB_BUCKETS)
    memcpy(arrays[i], p, HITL_CALIB_BUCKETS * sizeof *p);
  double *rel[] = {c->rel_w, c->rel_right, c->rel_score};
  for (int i = 0; i < 3; i++, p += HITL_CALIB_RELIABILITY_BINS)
    memcpy(rel[i], p, HITL_CALIB_RELIABILITY_BINS * sizeof *p);
  c->total = c->w2sum = 0;
  for (int b = 0; b < HITL_CALIB_BUCKETS; b++) {
    c->total += c->w[b];
    c->w2sum += c->w2[b];
  }
  c->stats.pairs = (long)in[1];
  c->stats.uniform = (long)in[2];
  c->stats.wrong = (long)in[3];
  c->stats.audits = (long)in[4];
  c->stats.drift_statistic = in[5];
  c->stats.withdrawals = (long)in[6];
  memset(&c->cert, 0, sizeof c->cert);
  c->cert_bucket = -1;
  recompute(c);
  return 0;
}
