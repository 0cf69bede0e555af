/* SPDX-License-Identifier: MIT */
/* Tests of split-conformal prediction sets: scores, the finite-sample quantile against exact
 * reference values, sets by hand, the window, and coverage on held-out synthetic data. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "calibration_reference.h"
#include "core/conformal.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* reference.py's generator: xorshift64 (13, 7, 17), doubles from the top 53 bits. */
static uint64_t next_u64(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}
static double next_unit(uint64_t *s) { return (double)(next_u64(s) >> 11) * 0x1p-53; }

static void test_rank_and_min_n(void **state) {
  (void)state;
  assert_int_equal(hitl_conformal_min_n(0.9), 9);
  assert_int_equal(hitl_conformal_min_n(0.95), 19);
  assert_int_equal(hitl_conformal_min_n(0.8), 4);
  assert_int_equal(hitl_conformal_min_n(0.99), 99);
  assert_int_equal(hitl_conformal_min_n(0.5), 1);
  assert_int_equal(hitl_conformal_rank(9, 0.9), 9);   /* 10 * 0.9 is 9, whole. */
  assert_int_equal(hitl_conformal_rank(8, 0.9), 9);   /* 8.1 rounds up: too few scores. */
  assert_int_equal(hitl_conformal_rank(412, 0.9), 372);
  for (size_t n = 1; n < 2000; n++) {
    /* The definition, with exact integers: the smallest r with r >= (n + 1) c, c = 9/10. */
    size_t r = ((n + 1) * 9 + 9) / 10;
    assert_int_equal(hitl_conformal_rank(n, 0.9), r);
  }
}

/* The quantile of n reference scores equals the ceil((n+1) coverage)-th smallest (Python with
 * exact fractions). */
static void test_quantile_matches_reference(void **state) {
  (void)state;
  for (size_t i = 0; i < N(REF_QUANTILE); i++) {
    const ref_quantile *r = &REF_QUANTILE[i];
    hitl_conformal *c = hitl_conformal_new(HITL_CONFORMAL_LAC, r->coverage, 0);
    uint64_t s = 42 + (uint64_t)r->n;
    for (int j = 0; j < r->n; j++) hitl_conformal_add_score(c, next_unit(&s));
    assert_int_equal(hitl_conformal_rank((size_t)r->n, r->coverage), r->rank);
    double q = -7;
    bool ok = hitl_conformal_quantile(c, &q);
    if (r->qhat < 0) {
      assert_false(ok);
      assert_int_equal(hitl_conformal_set(c, (double[]){0.5, 0.5}, 2, (size_t[2]){0}), (size_t)-1);
    } else {
      assert_true(ok);
      assert_true(q == r->qhat);
    }
    hitl_conformal_free(c);
  }
}

static void test_scores_by_hand(void **state) {
  (void)state;
  double p[] = {0.2, 0.5, 0.3};
  assert_true(fabs(hitl_conformal_score_of(HITL_CONFORMAL_LAC, p, 3, 1) - 0.5) < 1e-15);
  assert_true(fabs(hitl_conformal_score_of(HITL_CONFORMAL_LAC, p, 3, 0) - 0.8) < 1e-15);
  assert_true(fabs(hitl_conformal_score_of(HITL_CONFORMAL_LAC, p, 3, 3) - 1.0) < 1e-15);
  /* APS: mass ranked at or above the label: 0.5 | 0.5 + 0.3 | all. */
  assert_true(fabs(hitl_conformal_score_of(HITL_CONFORMAL_APS, p, 3, 1) - 0.5) < 1e-15);
  assert_true(fabs(hitl_conformal_score_of(HITL_CONFORMAL_APS, p, 3, 2) - 0.8) < 1e-15);
  assert_true(fabs(hitl_conformal_score_of(HITL_CONFORMAL_APS, p, 3, 0) - 1.0) < 1e-15);
  assert_true(fabs(hitl_conformal_score_of(HITL_CONFORMAL_APS, p, 3, 3) - 1.0) < 1e-15);
  /* Ties rank by lower index. */
  double t[] = {0.4, 0.4, 0.2};
  assert_true(fabs(hitl_conformal_score_of(HITL_CONFORMAL_APS, t, 3, 0) - 0.4) < 1e-15);
  assert_true(fabs(hitl_conformal_score_of(HITL_CONFORMAL_APS, t, 3, 1) - 0.8) < 1e-15);
}

static void test_sets_by_hand(void **state) {
  (void)state;
  /* Scores 0.1 .. 0.9 (nine of them): at coverage 0.9 the quantile is the 9th, 0.9. */
  hitl_conformal *lac = hitl_conformal_new(HITL_CONFORMAL_LAC, 0.9, 0);
  for (int i = 9; i >= 1; i--) hitl_conformal_add_score(lac, i / 10.0);
  double q;
  assert_true(hitl_conformal_quantile(lac, &q) && q == 0.9);
  size_t labels[4];
  memset(labels, 0xab, sizeof labels);
  /* LAC: labels with p >= 1 - 0.9 = 0.1 (up to rounding of 1 - 0.9), most probable first. */
  double p[] = {0.05, 0.6, 0.15, 0.2};
  assert_int_equal(hitl_conformal_set(lac, p, 4, labels), 3);
  assert_int_equal(labels[0], 1);
  assert_int_equal(labels[1], 3);
  assert_int_equal(labels[2], 2);
  hitl_conformal_free(lac);

  hitl_conformal *aps = hitl_conformal_new(HITL_CONFORMAL_APS, 0.8, 0);
  for (int i = 0; i < 4; i++) hitl_conformal_add_score(aps, 0.85);
  /* n = 4 at 0.8: rank ceil(5 * 0.8) = 4, the quantile 0.85. APS keeps ranked labels while the
   * mass up to and including them is <= 0.85: 0.6, then 0.8; 0.95 is over. */
  assert_int_equal(hitl_conformal_set(aps, p, 4, labels), 2);
  assert_int_equal(labels[0], 1);
  assert_int_equal(labels[1], 3);
  /* A task the model is unsure of gets a bigger set; a sure one may get an empty set. */
  double flat[] = {0.25, 0.25, 0.25, 0.25};
  assert_int_equal(hitl_conformal_set(aps, flat, 4, labels), 3);
  double sure[] = {0.9, 0.05, 0.03, 0.02};
  assert_int_equal(hitl_conformal_set(aps, sure, 4, labels), 0);
  hitl_conformal_free(aps);
}

static void test_window_keeps_the_latest(void **state) {
  (void)state;
  hitl_conformal *c = hitl_conformal_new(HITL_CONFORMAL_LAC, 0.5, 3);
  double in[] = {0.9, 0.1, 0.5, 0.7, 0.3, 0.3, 0.8};
  for (size_t i = 0; i < N(in); i++) {
    hitl_conformal_add_score(c, in[i]);
    assert_int_equal(hitl_conformal_count(c), i < 3 ? i + 1 : 3);
  }
  /* The last three: 0.3, 0.3, 0.8; rank ceil(4 * 0.5) = 2: 0.3. */
  double q;
  assert_true(hitl_conformal_quantile(c, &q) && q == 0.3);
  hitl_conformal_add_score(c, 0.95); /* 0.3, 0.8, 0.95 */
  assert_true(hitl_conformal_quantile(c, &q) && q == 0.8);
  hitl_conformal_add_score(c, NAN); /* Ignored. */
  assert_int_equal(hitl_conformal_count(c), 3);
  hitl_conformal_free(c);
}

/* Adding many scores at once gives the same calibrator as adding them one by one, with a window
 * and without. */
static void test_add_scores_in_bulk(void **state) {
  (void)state;
  double in[500];
  unsigned x = 12345;
  for (size_t i = 0; i < N(in); i++) {
    x = x * 1103515245u + 12345u;
    in[i] = i % 50 == 7 ? NAN : (double)(x >> 8 & 0xffff) / 65536.0;
  }
  for (size_t window = 0; window <= 40; window += 40) {
    hitl_conformal *one = hitl_conformal_new(HITL_CONFORMAL_APS, 0.9, window);
    hitl_conformal *bulk = hitl_conformal_new(HITL_CONFORMAL_APS, 0.9, window);
    for (size_t i = 0; i < N(in); i++) hitl_conformal_add_score(one, in[i]);
    hitl_conformal_add_scores(bulk, NULL, 0); /* Nothing, into an empty calibrator. */
    hitl_conformal_add_scores(bulk, in, 300);
    hitl_conformal_add_scores(bulk, in + 300, N(in) - 300);
    assert_int_equal(hitl_conformal_count(bulk), hitl_conformal_count(one));
    for (double cov = 0.05; cov < 1; cov += 0.05) {
      hitl_conformal *a = hitl_conformal_new(HITL_CONFORMAL_APS, cov, window);
      hitl_conformal *b = hitl_conformal_new(HITL_CONFORMAL_APS, cov, window);
      for (size_t i = 0; i < N(in); i++) hitl_conformal_add_score(a, in[i]);
      hitl_conformal_add_scores(b, in, N(in));
      double qa = -1, qb = -2;
      assert_int_equal(hitl_conformal_quantile(a, &qa), hitl_conformal_quantile(b, &qb));
      assert_true(qa == qb);
      hitl_conformal_free(a);
      hitl_conformal_free(b);
    }
    hitl_conformal_free(one);
    hitl_conformal_free(bulk);
  }
}

static void test_parse(void **state) {
  (void)state;
  hitl_conformal_score k;
  hitl_err err;
  assert_int_equal(hitl_conformal_parse("lac", 0.9, &k, &err), 0);
  assert_int_equal(k, HITL_CONFORMAL_LAC);
  assert_int_equal(hitl_conformal_parse("aps", 0.9, &k, &err), 0);
  assert_int_equal(k, HITL_CONFORMAL_APS);
  assert_int_equal(hitl_conformal_parse("raps", 0.9, &k, &err), HITL_EVALIDATION);
  assert_string_equal(err.field, "score");
  assert_int_equal(hitl_conformal_parse(NULL, 0.9, &k, &err), HITL_EVALIDATION);
  assert_int_equal(hitl_conformal_parse("lac", 1, &k, &err), HITL_EVALIDATION);
  assert_string_equal(err.field, "coverage");
  assert_int_equal(hitl_conformal_parse("lac", NAN, &k, &err), HITL_EVALIDATION);
}

/* A synthetic 6-class task: probabilities a softmax of random logits; the true label drawn from a
 * flatter distribution than the model states (an overconfident, miscalibrated model), so
 * coverage holds by the conformal argument alone, not by the model being calibrated. */
static void draw_task(uint64_t *s, double *probs, size_t *label) {
  double logits[6], sum = 0, sharp[6], ssum = 0;
  for (int j = 0; j < 6; j++) logits[j] = 3 * next_unit(s) * (j == 0 ? 2 : 1);
  for (int j = 0; j < 6; j++) sum += probs[j] = exp(logits[j]);
  for (int j = 0; j < 6; j++) {
    probs[j] /= sum;
    ssum += sharp[j] = exp(0.6 * logits[j]);
  }
  double u = next_unit(s) * ssum;
  size_t y = 0;
  while (y < 5 && u >= sharp[y]) u -= sharp[y++];
  *label = y;
}

/* Over many trials of n calibration tasks and 1,000 held-out ones, mean coverage is at least
 * the configured one (minus sampling error) and at most coverage + 1/(n + 1) (plus it). */
static void run_coverage(hitl_conformal_score kind, double coverage, size_t n_cal) {
  const int trials = 100, n_test = 1000;
  double covered = 0, size = 0;
  for (int t = 0; t < trials; t++) {
    hitl_conformal *c = hitl_conformal_new(kind, coverage, 0);
    uint64_t s = 0xC0FFEE00ULL + (uint64_t)t * 2654435761ULL;
    double p[6];
    size_t y, set[6];
    for (size_t i = 0; i < n_cal; i++) {
      draw_task(&s, p, &y);
      hitl_conformal_add(c, p, 6, y);
    }
    for (int i = 0; i < n_test; i++) {
      draw_task(&s, p, &y);
      size_t m = hitl_conformal_set(c, p, 6, set);
      assert_true(m <= 6);
      size += (double)m;
      for (size_t j = 0; j < m; j++) covered += set[j] == y;
    }
    hitl_conformal_free(c);
  }
  double mean = covered / (trials * n_test);
  /* Trial-to-trial spread of coverage is about sqrt(c(1-c)/n_cal); over 100 trials the mean's
   * is a tenth of that: 4 of those is the slack. */
  double slack = 4 * sqrt(coverage * (1 - coverage) / (double)n_cal) / 10 + 0.002;
  print_message("%s coverage %.2f n=%zu: held-out coverage %.4f, mean set size %.2f\n",
                kind == HITL_CONFORMAL_LAC ? "lac" : "aps", coverage, n_cal, mean,
                size / (trials * n_test));
  assert_true(mean >= coverage - slack);
  assert_true(mean <= coverage + 1.0 / (double)(n_cal + 1) + slack);
}

static void test_property_coverage(void **state) {
  (void)state;
  run_coverage(HITL_CONFORMAL_LAC, 0.9, 200);
  run_coverage(HITL_CONFORMAL_APS, 0.9, 200);
  run_coverage(HITL_CONFORMAL_LAC, 0.95, 60);
  run_coverage(HITL_CONFORMAL_APS, 0.8, 30);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rank_and_min_n),
      cmocka_unit_test(test_quantile_matches_reference),
      cmocka_unit_test(test_scores_by_hand),
      cmocka_unit_test(test_sets_by_hand),
      cmocka_unit_test(test_window_keeps_the_latest),
      cmocka_unit_test(test_add_scores_in_bulk),
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_property_coverage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
