/* SPDX-License-Identifier: MIT */
/* Tests of calibration: the binomial statistics against SciPy's values, the certificate on
 * hand-made and reference cases, routing tags, the risk views, and property tests of the
 * guarantee (repeated synthetic trials, a threshold in force for a long time, injected drift). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "calibration_reference.h"
#include "core/binomial.h"
#include "core/calibration.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The generator reference.py uses: xorshift64 (13, 7, 17), doubles from the top 53 bits. */
static uint64_t next_u64(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}
static double next_unit(uint64_t *s) { return (double)(next_u64(s) >> 11) * 0x1p-53; }

static const hitl_calib_tag UNIFORM = {.propensity = 1, .uniform = true};

static hitl_calibration *make(hitl_calib_scheme scheme) {
  hitl_calib_params p;
  hitl_calibration_params_default(&p);
  p.scheme = scheme;
  return hitl_calibration_new(&p);
}

static void test_clopper_pearson_matches_scipy(void **state) {
  (void)state;
  for (size_t i = 0; i < N(REF_CP); i++) {
    const ref_cp *r = &REF_CP[i];
    double up = hitl__binomial_upper(r->k, r->n, r->delta);
    double lo = hitl__binomial_lower(r->k, r->n, r->delta);
    if (fabs(up - r->upper) > 1e-9 || fabs(lo - r->lower) > 1e-9)
      fail_msg("k=%g n=%g delta=%g: upper %.15g (scipy %.15g), lower %.15g (scipy %.15g)", r->k,
               r->n, r->delta, up, r->upper, lo, r->lower);
    /* Rounded outward: never tighter than the exact bound. */
    assert_true(up >= r->upper - 1e-12);
    assert_true(lo <= r->lower + 1e-12);
  }
}

static void test_cdf_and_incbeta_match_scipy(void **state) {
  (void)state;
  for (size_t i = 0; i < N(REF_CDF); i++) {
    const ref_cdf *r = &REF_CDF[i];
    double v = hitl__binomial_cdf(r->k, r->n, r->p);
    if (fabs(v - r->cdf) > 1e-12 + 1e-9 * r->cdf)
      fail_msg("cdf(%g; %g, %g) = %.17g, scipy %.17g", r->k, r->n, r->p, v, r->cdf);
  }
  for (size_t i = 0; i < N(REF_BETA); i++) {
    const ref_beta *r = &REF_BETA[i];
    double v = hitl__binomial_incbeta(r->a, r->b, r->x);
    if (fabs(v - r->value) > 1e-12 + 1e-9 * r->value)
      fail_msg("I_%g(%g, %g) = %.17g, scipy %.17g", r->x, r->a, r->b, v, r->value);
  }
  assert_true(isnan(hitl__binomial_incbeta(0, 1, 0.5)));
  assert_true(isnan(hitl__binomial_incbeta(1, 1, 1.5)));
  assert_true(hitl__binomial_cdf(5, 5, 0.3) == 1.0);
  assert_true(hitl__binomial_cdf(-1, 5, 0.3) == 0.0);
  assert_true(hitl__binomial_upper(3, 3, 0.05) == 1.0);
  assert_true(hitl__binomial_lower(0, 3, 0.05) == 0.0);
}

static void test_min_trials(void **state) {
  (void)state;
  assert_int_equal(hitl__binomial_min_trials(0.02, 0.05), 149); /* The figure. */
  assert_int_equal(hitl__binomial_min_trials(0.05, 0.05), 59);
  assert_int_equal(hitl__binomial_min_trials(0.01, 0.05), 299);
  assert_int_equal(hitl__binomial_min_trials(0.5, 0.25), 2); /* ln .25 / ln .5 is exactly 2. */
  hitl_calibration *c = make(HITL_CALIB_FIXED_SEQUENCE);
  hitl_calib_stats s;
  hitl_calibration_stats(c, &s);
  assert_int_equal(s.min_items, 149);
  hitl_calibration_free(c);
}

static void test_grid_edges(void **state) {
  (void)state;
  assert_true(hitl__calibration_bucket_edge(0) == 0);
  assert_true(hitl__calibration_bucket_edge(-3) == 0);
  double top = hitl__calibration_bucket_edge(1);
  assert_true(top > 1 - 1.1e-8 && top < 1);
  assert_true(hitl__calibration_bucket_edge(7) == top);
  uint64_t s = 7;
  for (int i = 0; i < 20000; i++) {
    double x = i % 2 ? next_unit(&s) : 1 - pow(10, -8 * next_unit(&s));
    double e = hitl__calibration_bucket_edge(x);
    assert_true(e <= x);
    /* The edge is a fixed point: the bucket starts exactly there. */
    assert_true(hitl__calibration_bucket_edge(e) == e);
    /* Resolution follows the distance to 1: at most 1% of it (2^(1/256) per bucket). */
    assert_true(x - e <= 0.0091 * (1 - e) + 1e-15);
  }
}

/* 148 right answers at 0.99 certify nothing; the 149th certifies exactly that bucket with the
 * bound of 0 errors in 149; a wrong answer lower down leaves it (150 with 1 error fails). */
static void test_certificate_hand_made(void **state) {
  (void)state;
  hitl_calibration *c = make(HITL_CALIB_FIXED_SEQUENCE);
  for (int i = 0; i < 148; i++)
    assert_int_equal(hitl_calibration_add(c, 0.99, true, &UNIFORM), HITL_CALIB_UNCHANGED);
  assert_false(hitl_calibration_certificate(c)->certified);
  assert_int_equal(hitl_calibration_add(c, 0.99, true, &UNIFORM), HITL_CALIB_CHANGED);
  const hitl_calib_certificate *cert = hitl_calibration_certificate(c);
  assert_true(cert->certified);
  assert_true(cert->threshold == hitl__calibration_bucket_edge(0.99));
  assert_true(cert->threshold <= 0.99 && cert->threshold > 0.989);
  assert_true(cert->n == 149 && cert->k == 0);
  assert_true(fabs(cert->bound - 0.019904816220685073) < 1e-9); /* beta.ppf(.95, 1, 149) */
  assert_true(fabs(cert->level - 0.05) < 1e-15 && cert->share == 1);
  assert_int_equal(hitl_calibration_add(c, 0.5, false, &UNIFORM), HITL_CALIB_UNCHANGED);
  assert_true(cert->threshold == hitl__calibration_bucket_edge(0.99));
  assert_true(fabs(cert->share - 149.0 / 150) < 1e-12);
  /* 150 right answers at 0.6: from strict to loose, 0.99 (149, 0 wrong) passes, 0.6 (299, 0)
   * passes, 0.5 (300, 1) passes too: P(Bin(300, .02) <= 1) = 0.0166 <= 0.05. */
  assert_int_equal(hitl_calibration_add(c, 0.6, true, &UNIFORM), HITL_CALIB_CHANGED); /* 0.6 */
  for (int i = 1; i < 150; i++) hitl_calibration_add(c, 0.6, true, &UNIFORM);
  assert_true(cert->threshold == hitl__calibration_bucket_edge(0.5));
  assert_true(cert->n == 300 && cert->k == 1 && cert->share == 1);
  cert = hitl_calibration_certificate(c);
  assert_true(fabs(cert->bound - hitl__binomial_upper(1, 300, 0.05)) < 1e-9);
  hitl_calibration_free(c);

  /* One error among the strictest 149 stops the sequence at its start: fixed-sequence testing
   * certifies nothing however good the rest is, which is why start_errors exists. */
  c = make(HITL_CALIB_FIXED_SEQUENCE);
  hitl_calibration_add(c, 0.999, false, &UNIFORM);
  for (int i = 0; i < 148; i++) hitl_calibration_add(c, 0.998, true, &UNIFORM);
  for (int i = 0; i < 2000; i++) hitl_calibration_add(c, 0.99, true, &UNIFORM);
  assert_false(hitl_calibration_certificate(c)->certified);
  hitl_calibration_free(c);
  hitl_calib_params p;
  hitl_calibration_params_default(&p);
  p.start_errors = 2;
  c = hitl_calibration_new(&p);
  hitl_calibration_add(c, 0.999, false, &UNIFORM);
  for (int i = 0; i < 148; i++) hitl_calibration_add(c, 0.998, true, &UNIFORM);
  for (int i = 0; i < 2000; i++) hitl_calibration_add(c, 0.99, true, &UNIFORM);
  assert_true(hitl_calibration_certificate(c)->certified);
  assert_true(hitl_calibration_certificate(c)->n == 2149);
  assert_true(hitl_calibration_certificate(c)->k == 1);
  hitl_calibration_free(c);
}

/* The table of fewest items per error count decides exactly as the binomial CDF does: one
 * bucket holding n pairs with k wrong is certified iff P(Bin(n, 0.02) <= k) <= 0.05. */
static void test_table_agrees_with_cdf(void **state) {
  (void)state;
  static const int sizes[] = {149, 150, 235, 236, 237, 300, 389, 500, 1000, 3000};
  static hitl_calib_pair pairs[3000];
  int certified = 0, checked = 0;
  for (size_t i = 0; i < N(sizes); i++) {
    int n = sizes[i];
    for (int k = 0; k <= n * 0.03; k++) {
      for (int j = 0; j < n; j++) pairs[j] = (hitl_calib_pair){0.9, j >= k, UNIFORM};
      hitl_calibration *c = make(HITL_CALIB_FIXED_SEQUENCE);
      hitl_calibration_add_batch(c, pairs, (size_t)n);
      bool expect = hitl__binomial_cdf(k, n, 0.02) <= 1 - 0.95;
      if (hitl_calibration_certificate(c)->certified != expect)
        fail_msg("n=%d k=%d: certified %d, cdf %.17g", n, k,
                 hitl_calibration_certificate(c)->certified, hitl__binomial_cdf(k, n, 0.02));
      certified += expect;
      checked++;
      hitl_calibration_free(c);
    }
  }
  assert_true(certified > 50 && checked - certified > 50); /* Both outcomes were exercised. */
}

/* The certificate on reference.py's synthetic cases, computed there with scipy.stats.binom. */
static void test_certificate_matches_reference(void **state) {
  (void)state;
  for (size_t i = 0; i < N(REF_CERT); i++) {
    const ref_cert *r = &REF_CERT[i];
    hitl_calibration *c = make(r->sgr ? HITL_CALIB_SGR : HITL_CALIB_FIXED_SEQUENCE);
    uint64_t s = r->seed;
    for (int j = 0; j < r->n; j++) {
      double score = 0.5 + 0.5 * next_unit(&s);
      double u = next_unit(&s);
      hitl_calibration_add(c, score, u >= r->slope * (1 - score) * (1 - score), &UNIFORM);
    }
    const hitl_calib_certificate *cert = hitl_calibration_certificate(c);
    if (cert->certified != (bool)r->certified ||
        (r->certified && (cert->threshold != r->threshold || cert->n != r->n_above ||
                          cert->k != r->k_above || fabs(cert->bound - r->bound) > 1e-9)))
      fail_msg("case %zu: certified %d threshold %.17g n %g k %g bound %.12g; reference %d %.17g "
               "%g %g %.12g",
               i, cert->certified, cert->threshold, cert->n, cert->k, cert->bound, r->certified,
               r->threshold, r->n_above, r->k_above, r->bound);
    hitl_calibration_free(c);
  }
}

static void test_route_tags(void **state) {
  (void)state;
  hitl_calibration *c = make(HITL_CALIB_FIXED_SEQUENCE);
  hitl_calib_tag t;
  memset(&t, 0xab, sizeof t);
  /* Nothing certified: the leaf holds for nothing, and every reviewed item is uniform. */
  assert_int_equal(hitl_calibration_route(c, 0.999, 0.9, &t), HITL_CALIB_ROUTE_NO);
  assert_true(t.propensity == 1 && t.uniform && !t.audit);
  for (int i = 0; i < 200; i++) hitl_calibration_add(c, 0.95, true, &UNIFORM);
  double th = hitl_calibration_certificate(c)->threshold;
  assert_true(th > 0.94 && th <= 0.95);
  memset(&t, 0xab, sizeof t);
  assert_int_equal(hitl_calibration_route(c, 0.97, 0.5, &t), HITL_CALIB_ROUTE_ACCEPT);
  assert_false(t.uniform);
  assert_int_equal(hitl_calibration_route(c, th, 0.5, &t), HITL_CALIB_ROUTE_ACCEPT); /* At it. */
  assert_int_equal(hitl_calibration_route(c, 0.97, 0.049, &t), HITL_CALIB_ROUTE_AUDIT);
  assert_true(t.propensity == 0.05 && t.uniform && t.audit);
  /* Below: reviewed; uniform only when the audit draw would have picked it. */
  assert_int_equal(hitl_calibration_route(c, nextafter(th, 0), 0.01, &t), HITL_CALIB_ROUTE_NO);
  assert_true(t.propensity == 1 && t.uniform && !t.audit);
  assert_int_equal(hitl_calibration_route(c, 0.5, 0.05, &t), HITL_CALIB_ROUTE_NO);
  assert_true(!t.uniform && !t.audit);
  /* No score never passes, even a threshold at 0; a pair without a score is ignored. */
  hitl_calibration *all = make(HITL_CALIB_FIXED_SEQUENCE);
  for (int i = 0; i < 149; i++) hitl_calibration_add(all, 0.001, true, &UNIFORM);
  assert_true(hitl_calibration_certificate(all)->threshold == 0);
  assert_int_equal(hitl_calibration_route(all, 0, 0.5, &t), HITL_CALIB_ROUTE_ACCEPT);
  assert_int_equal(hitl_calibration_route(all, NAN, 0.5, &t), HITL_CALIB_ROUTE_NO);
  assert_int_equal(hitl_calibration_add(all, NAN, false, &UNIFORM), HITL_CALIB_UNCHANGED);
  hitl_calib_stats st0;
  hitl_calibration_stats(all, &st0);
  assert_int_equal(st0.pairs, 149);
  hitl_calibration_free(all);
  /* A pair that is not uniform is not evidence under the default weighting. */
  hitl_calib_stats st;
  hitl_calibration_add(c, 0.5, false, &t);
  hitl_calibration_stats(c, &st);
  assert_int_equal(st.pairs, 201);
  assert_int_equal(st.uniform, 200);
  assert_int_equal(st.wrong, 1);
  assert_true(hitl_calibration_certificate(c)->n == 200);
  hitl_calibration_free(c);
}

static void test_params_check(void **state) {
  (void)state;
  hitl_calib_params p;
  hitl_err err;
  hitl_calibration_params_default(&p);
  assert_int_equal(hitl_calibration_params_check(&p, &err), 0);
  p.max_error = 0;
  assert_int_equal(hitl_calibration_params_check(&p, &err), HITL_EVALIDATION);
  assert_string_equal(err.field, "max_error");
  hitl_calibration_params_default(&p);
  p.confidence = 1;
  assert_int_equal(hitl_calibration_params_check(&p, &err), HITL_EVALIDATION);
  assert_string_equal(err.field, "confidence");
  hitl_calibration_params_default(&p);
  p.audit_percent = NAN;
  assert_int_equal(hitl_calibration_params_check(&p, &err), HITL_EVALIDATION);
  assert_string_equal(err.field, "audit_percent");
  hitl_calibration_params_default(&p);
  p.start_errors = -1;
  assert_int_equal(hitl_calibration_params_check(&p, &err), HITL_EVALIDATION);
  assert_string_equal(err.field, "start_errors");
  hitl_calibration_params_default(&p);
  p.drift_arl = 1;
  assert_int_equal(hitl_calibration_params_check(&p, &err), HITL_EVALIDATION);
  assert_string_equal(err.field, "drift_arl");
}

static void test_risk_curve_and_reliability(void **state) {
  (void)state;
  hitl_calibration *c = make(HITL_CALIB_FIXED_SEQUENCE);
  hitl_calib_risk_point pts[8];
  hitl_calib_reliability_bin bins[HITL_CALIB_RELIABILITY_BINS];
  assert_int_equal(hitl_calibration_risk_curve(c, pts, 8), 0);
  assert_true(hitl_calibration_reliability(c, bins) == 0);
  /* 100 at 0.95 (5 wrong), 100 at 0.75 (20 wrong), 100 at 0.15 (60 wrong). */
  for (int i = 0; i < 100; i++) {
    hitl_calibration_add(c, 0.95, i >= 5, &UNIFORM);
    hitl_calibration_add(c, 0.75, i >= 20, &UNIFORM);
    hitl_calibration_add(c, 0.15, i >= 60, &UNIFORM);
  }
  size_t n = hitl_calibration_risk_curve(c, pts, 8);
  assert_int_equal(n, 3);
  double share[] = {1.0 / 3, 2.0 / 3, 1}, err[] = {0.05, 0.125, 85.0 / 300}, cnt[] = {100, 200, 300};
  for (size_t i = 0; i < n; i++) {
    assert_true(fabs(pts[i].share - share[i]) < 1e-12);
    assert_true(fabs(pts[i].error - err[i]) < 1e-12);
    assert_true(pts[i].n == cnt[i]);
    assert_true(fabs(pts[i].upper - hitl__binomial_upper(err[i] * cnt[i], cnt[i], 0.05)) < 1e-15);
  }
  assert_true(pts[0].threshold == hitl__calibration_bucket_edge(0.95));
  assert_true(pts[2].threshold == hitl__calibration_bucket_edge(0.15));
  double ece = hitl_calibration_reliability(c, bins);
  assert_true(bins[9].n == 100 && fabs(bins[9].accuracy - 0.95) < 1e-12);
  assert_true(fabs(bins[9].mean_score - 0.95) < 1e-12);
  assert_true(bins[7].n == 100 && fabs(bins[7].accuracy - 0.80) < 1e-12);
  assert_true(bins[1].n == 100 && fabs(bins[1].accuracy - 0.40) < 1e-12);
  assert_true(bins[0].n == 0 && bins[0].lower == 0 && bins[9].upper == 1);
  /* |0.95-0.95|, |0.8-0.75|, |0.4-0.15| averaged. */
  assert_true(fabs(ece - (0 + 0.05 + 0.25) / 3) < 1e-12);
  hitl_calibration_free(c);
}

static void assert_same_certificate(const hitl_calib_certificate *x,
                                    const hitl_calib_certificate *y) {
  assert_int_equal(x->certified, y->certified);
  assert_true(x->threshold == y->threshold && x->n == y->n && x->k == y->k);
  assert_true(x->bound == y->bound && x->level == y->level && x->share == y->share);
}

/* A snapshot restored into a fresh state gives the same certificate, counters and drift
 * statistic, and the two behave alike afterwards; bad snapshots are refused and change nothing. */
static void test_snapshot_round_trip(void **state) {
  (void)state;
  hitl_calibration *a = make(HITL_CALIB_MULTI_START);
  uint64_t s = 99;
  for (int i = 0; i < 3000; i++) {
    double score = next_unit(&s);
    hitl_calibration_add(a, score, next_unit(&s) >= 0.3 * (1 - score) * (1 - score), &UNIFORM);
  }
  hitl_calib_tag audit = {.propensity = 0.05, .uniform = true, .audit = true};
  hitl_calibration_add(a, 0.999, false, &audit); /* A nonzero drift statistic. */
  size_t n = hitl_calibration_snapshot_size();
  double *snap = malloc(n * sizeof *snap);
  hitl_calibration_snapshot(a, snap);
  hitl_calibration *b = make(HITL_CALIB_MULTI_START);
  hitl_err err;
  assert_int_equal(hitl_calibration_restore(b, snap, n, &err), 0);
  hitl_calib_certificate ca = *hitl_calibration_certificate(a);
  const hitl_calib_certificate *cb = hitl_calibration_certificate(b);
  assert_true(ca.certified);
  assert_same_certificate(&ca, cb);
  hitl_calib_stats sa, sb;
  hitl_calibration_stats(a, &sa);
  hitl_calibration_stats(b, &sb);
  assert_memory_equal(&sa, &sb, sizeof sa);
  assert_true(sa.drift_statistic > 0);
  for (int i = 0; i < 500; i++) {
    double score = next_unit(&s);
    bool right = next_unit(&s) >= 0.05;
    assert_int_equal(hitl_calibration_add(a, score, right, &audit),
                     hitl_calibration_add(b, score, right, &audit));
  }
  assert_same_certificate(hitl_calibration_certificate(a), hitl_calibration_certificate(b));
  /* Refused: wrong size, wrong version, a negative count. */
  hitl_calibration_snapshot(a, snap);
  assert_int_equal(hitl_calibration_restore(b, snap, n - 1, &err), HITL_EVALIDATION);
  snap[0] = 2;
  assert_int_equal(hitl_calibration_restore(b, snap, n, &err), HITL_EVALIDATION);
  snap[0] = HITL_CALIB_SNAPSHOT_VERSION;
  snap[100] = -1;
  assert_int_equal(hitl_calibration_restore(b, snap, n, &err), HITL_EVALIDATION);
  assert_string_equal(err.field, "snapshot");
  assert_same_certificate(hitl_calibration_certificate(a), hitl_calibration_certificate(b));
  free(snap);
  hitl_calibration_free(a);
  hitl_calibration_free(b);
}

/* --- Property tests. The known error curve: scores uniform on [0, 1), the model wrong with
 * probability 0.3 (1 - s)^2, so the selective error above t is 0.1 (1 - t)^2: 0.02 at
 * t = 1 - sqrt(0.2) = 0.553, an oracle share of 44.7%. */
static double true_risk(double t) { return 0.1 * (1 - t) * (1 - t); }

static bool draw_pair(uint64_t *s, double *score) {
  *score = next_unit(s);
  return next_unit(s) >= 0.3 * (1 - *score) * (1 - *score);
}

/* Over many trials the certified threshold's true selective error exceeds max_error in at most
 * about 1 - confidence of them (binomial slack: 5% of 300 trials is 15, 3 sigma is 26). */
static void run_validity(hitl_calib_scheme scheme, int start_errors) {
  enum { trials = 300, n = 3000 };
  static hitl_calib_pair pairs[n];
  int certified = 0, violations = 0;
  double share = 0;
  for (int trial = 0; trial < trials; trial++) {
    hitl_calib_params p;
    hitl_calibration_params_default(&p);
    p.scheme = scheme;
    p.start_errors = start_errors;
    hitl_calibration *c = hitl_calibration_new(&p);
    uint64_t s = 0x5EED0000ULL + (uint64_t)trial * 7919;
    for (int i = 0; i < n; i++) {
      pairs[i].correct = draw_pair(&s, &pairs[i].score);
      pairs[i].tag = UNIFORM;
    }
    hitl_calibration_add_batch(c, pairs, n);
    const hitl_calib_certificate *cert = hitl_calibration_certificate(c);
    if (cert->certified) {
      certified++;
      share += 1 - cert->threshold;
      violations += true_risk(cert->threshold) > 0.02;
    }
    hitl_calibration_free(c);
  }
  static const char *names[] = {"multi-start", "fixed-sequence", "SGR", "Bonferroni"};
  print_message("%s (start_errors %d): certified %d/%d, mean share %.3f (oracle 0.447), "
                "violations %d\n",
                names[scheme], start_errors, certified, trials, certified ? share / certified : 0,
                violations);
  assert_true(violations <= 26);
  /* The guarantee is not bought by certifying nothing. */
  assert_true(certified >= trials * 6 / 10);
}

static void test_property_validity_fixed_sequence(void **state) {
  (void)state;
  run_validity(HITL_CALIB_FIXED_SEQUENCE, 0);
  run_validity(HITL_CALIB_FIXED_SEQUENCE, 3);
}

static void test_property_validity_multi_start(void **state) {
  (void)state;
  run_validity(HITL_CALIB_MULTI_START, 0);
}

static void test_property_validity_sgr(void **state) {
  (void)state;
  run_validity(HITL_CALIB_SGR, 0);
}

/* A threshold in force for a long time: items above it reach people only through audits. The
 * certificate built from uniform pairs stays valid, and so does the error of what was accepted. */
static void test_property_valid_under_long_deployment(void **state) {
  (void)state;
  const int trials = 60, items = 30000;
  int violations = 0, run_violations = 0, certified = 0;
  for (int trial = 0; trial < trials; trial++) {
    hitl_calib_params p;
    hitl_calibration_params_default(&p);
    hitl_calibration *c = hitl_calibration_new(&p);
    uint64_t s = 0xAB5EED00ULL + (uint64_t)trial * 104729;
    long accepted = 0, accepted_wrong = 0;
    for (int i = 0; i < items; i++) {
      double score;
      bool right = draw_pair(&s, &score);
      hitl_calib_tag tag;
      if (hitl_calibration_route(c, score, next_unit(&s), &tag) == HITL_CALIB_ROUTE_ACCEPT) {
        accepted++;
        accepted_wrong += !right;
      } else {
        hitl_calibration_add(c, score, right, &tag);
      }
    }
    const hitl_calib_certificate *cert = hitl_calibration_certificate(c);
    if (cert->certified) {
      certified++;
      violations += true_risk(cert->threshold) > 0.02;
    }
    /* The realized error of everything auto-accepted during the run. */
    run_violations += accepted > 0 && (double)accepted_wrong / (double)accepted > 0.02;
    hitl_calibration_free(c);
  }
  print_message("long deployment: certified %d/%d, final violations %d, run violations %d\n",
                certified, trials, violations, run_violations);
  assert_true(certified == trials);
  assert_true(violations <= 8);     /* 5% of 60 is 3; 3 sigma above is 8. */
  assert_true(run_violations <= 8);
}

/* The CUSUM alone: with 200,000 right answers at 0.99 as evidence, wrong audits cannot move
 * the certificate, so only the drift test can act. Each wrong audit adds ln(2 max_error /
 * max_error) = ln 2 to the statistic; the limit is ln(1000) = 6.91: the 10th withdraws. */
static void test_drift_cusum_exact(void **state) {
  (void)state;
  hitl_calibration *c = make(HITL_CALIB_FIXED_SEQUENCE);
  static hitl_calib_pair pairs[200000];
  for (size_t i = 0; i < N(pairs); i++) pairs[i] = (hitl_calib_pair){0.99, true, UNIFORM};
  assert_int_equal(hitl_calibration_add_batch(c, pairs, N(pairs)), HITL_CALIB_CHANGED);
  hitl_calib_tag audit = {.propensity = 0.05, .uniform = true, .audit = true};
  hitl_calib_stats st;
  /* A right audit brings the statistic back down, never below 0. */
  hitl_calibration_add(c, 0.995, true, &audit);
  hitl_calibration_stats(c, &st);
  assert_true(st.drift_statistic == 0 && st.audits == 1);
  for (int i = 1; i <= 9; i++) {
    assert_int_equal(hitl_calibration_add(c, 0.995, false, &audit), HITL_CALIB_UNCHANGED);
    assert_true(hitl_calibration_certificate(c)->certified);
  }
  hitl_calibration_stats(c, &st);
  assert_true(fabs(st.drift_statistic - 9 * log(2)) < 1e-12);
  assert_true(fabs(st.drift_limit - log(1000)) < 1e-12);
  /* Pairs below the threshold, or not uniform, are not audits of it. */
  hitl_calibration_add(c, 0.5, false, &UNIFORM);
  hitl_calibration_add(c, 0.995, false, &(hitl_calib_tag){.propensity = 1});
  hitl_calibration_stats(c, &st);
  assert_int_equal(st.audits, 10);
  assert_int_equal(hitl_calibration_add(c, 0.995, false, &audit), HITL_CALIB_WITHDRAWN);
  hitl_calibration_stats(c, &st);
  assert_false(hitl_calibration_certificate(c)->certified);
  assert_int_equal(st.pairs, 0); /* The evidence starts afresh. */
  assert_int_equal(st.withdrawals, 1);
  assert_true(st.drift_statistic == 0);
  hitl_calib_tag tag;
  assert_int_equal(hitl_calibration_route(c, 0.9999, 0.9, &tag), HITL_CALIB_ROUTE_NO);
  hitl_calibration_free(c);
}

/* Whether a threshold is in force, without bringing the bound up to date: a score of 1 is at or
 * above any threshold. */
static bool in_force(const hitl_calibration *c) {
  hitl_calib_tag tag;
  return hitl_calibration_route(c, 1, 0.99, &tag) != HITL_CALIB_ROUTE_NO;
}

/* Drift on synthetic data: once certified, the error above the threshold turns to 20%. Within a
 * bounded number of audits the threshold is gone: withdrawn by the drift test, or no longer
 * certified by the evidence the audits add. Without drift (error 1%, half of max_error) it stays
 * for 5,000 audits. */
static void test_property_drift_withdraws(void **state) {
  (void)state;
  const int trials = 30;
  int gone = 0, by_cusum = 0, false_alarms = 0;
  long worst = 0;
  for (int trial = 0; trial < trials; trial++) {
    for (int drift = 0; drift <= 1; drift++) {
      hitl_calib_params p;
      hitl_calibration_params_default(&p);
      p.scheme = HITL_CALIB_MULTI_START;
      hitl_calibration *c = hitl_calibration_new(&p);
      uint64_t s = 0xD21F7000ULL + (uint64_t)trial * 31 + (uint64_t)drift;
      static hitl_calib_pair pairs[5000];
      for (int i = 0; i < 5000; i++) {
        pairs[i].correct = draw_pair(&s, &pairs[i].score);
        pairs[i].tag = UNIFORM;
      }
      assert_int_equal(hitl_calibration_add_batch(c, pairs, 5000), HITL_CALIB_CHANGED);
      double th = hitl_calibration_certificate(c)->threshold;
      long audits = 0;
      bool fired = false;
      for (; audits < 5000 && in_force(c); audits++) {
        double score = th + (1 - th) * next_unit(&s);
        bool right = next_unit(&s) >= (drift ? 0.2 : 0.01);
        hitl_calib_tag tag = {.propensity = 0.05, .uniform = true, .audit = true};
        fired |= hitl_calibration_add(c, score, right, &tag) == HITL_CALIB_WITHDRAWN;
      }
      bool certified = in_force(c);
      if (drift) {
        gone += !certified;
        by_cusum += fired;
        if (audits > worst) worst = audits;
      } else {
        false_alarms += !certified;
      }
      hitl_calibration_free(c);
    }
  }
  print_message("drift: threshold gone %d/%d (%d by the drift test), slowest after %ld audits; "
                "without drift gone %d/%d\n",
                gone, trials, by_cusum, worst, false_alarms, trials);
  assert_int_equal(gone, trials);
  assert_true(worst <= 300);
  assert_int_equal(false_alarms, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_clopper_pearson_matches_scipy),
      cmocka_unit_test(test_cdf_and_incbeta_match_scipy),
      cmocka_unit_test(test_min_trials),
      cmocka_unit_test(test_grid_edges),
      cmocka_unit_test(test_certificate_hand_made),
      cmocka_unit_test(test_table_agrees_with_cdf),
      cmocka_unit_test(test_certificate_matches_reference),
      cmocka_unit_test(test_route_tags),
      cmocka_unit_test(test_params_check),
      cmocka_unit_test(test_risk_curve_and_reliability),
      cmocka_unit_test(test_snapshot_round_trip),
      cmocka_unit_test(test_property_validity_fixed_sequence),
      cmocka_unit_test(test_property_validity_multi_start),
      cmocka_unit_test(test_property_validity_sgr),
      cmocka_unit_test(test_property_valid_under_long_deployment),
      cmocka_unit_test(test_drift_cusum_exact),
      cmocka_unit_test(test_property_drift_withdraws),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
