/* SPDX-License-Identifier: MIT */
/* The calibration bench: how much each certification scheme auto-accepts on real labelled data
 * (scikit-learn's digits, scored out of fold by make_scores.py) against the oracle, whether the
 * guarantee held, how the evidence weightings fare when a threshold stays in force, the drift
 * test's run lengths, and conformal coverage. Prints tables; see README.md.
 * Usage: bench_schemes DIR [--quick]   (DIR holds logreg.csv, forest.csv, bayes.csv) */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/binomial.h"
#include "core/calibration.h"
#include "core/conformal.h"

#define CLASSES 10
#define MAX_ITEMS 4096
#define ALPHA 0.02
#define CONFIDENCE 0.95

typedef struct item {
  double probs[CLASSES];
  int label;
  double score; /* The largest probability: what the leaf compares. */
  bool right;   /* The most probable class is the label. */
} item;

static item items[MAX_ITEMS];
static int n_items;

static uint64_t rng = 0x243F6A8885A308D3ULL;
static uint64_t next_u64(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static double unit(void) { return (double)(next_u64() >> 11) * 0x1p-53; }
static int pick(int n) { return (int)(unit() * n); }

static int load(const char *dir, const char *model) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.csv", dir, model);
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    perror(path);
    return -1;
  }
  n_items = 0;
  while (n_items < MAX_ITEMS) {
    item *it = &items[n_items];
    if (fscanf(f, "%d", &it->label) != 1) break;
    int best = 0;
    for (int j = 0; j < CLASSES; j++) {
      if (fscanf(f, ",%lf", &it->probs[j]) != 1) {
        fclose(f);
        fprintf(stderr, "%s: bad line %d\n", path, n_items + 1);
        return -1;
      }
      if (it->probs[j] > it->probs[best]) best = j;
    }
    it->score = it->probs[best];
    it->right = best == it->label;
    n_items++;
  }
  fclose(f);
  return 0;
}

/* --- The population: the data set itself, drawn from with replacement, so the true selective
 * error of any threshold is known exactly. */
static void population_at(double t, double *share, double *risk) {
  int n = 0, k = 0;
  for (int i = 0; i < n_items; i++)
    if (items[i].score >= t) {
      n++;
      k += !items[i].right;
    }
  *share = (double)n / n_items;
  *risk = n ? (double)k / n : 0;
}

/* The oracle: the largest share whose error is at most ALPHA, over every threshold. */
static int by_score_desc(const void *a, const void *b) {
  double x = ((const item *)a)->score, y = ((const item *)b)->score;
  return (x < y) - (x > y);
}
static double oracle_share(const item *set, int n) {
  item *s = malloc((size_t)n * sizeof *s);
  memcpy(s, set, (size_t)n * sizeof *s);
  qsort(s, (size_t)n, sizeof *s, by_score_desc);
  int k = 0, best = 0;
  for (int i = 0; i < n; i++) {
    k += !s[i].right;
    bool boundary = i + 1 == n || s[i + 1].score < s[i].score; /* Ties go together. */
    if (boundary && k <= ALPHA * (i + 1)) best = i + 1;
  }
  free(s);
  return (double)best / n;
}

/* --- The configurations compared. */
typedef struct config {
  const char *name;
  hitl_calib_scheme scheme;
  int start_errors;
  double start_ratio;
  bool from_top; /* Plain fixed-sequence from the strictest threshold: done here, not in core. */
} config;

static const config CONFIGS[] = {
    {"fixed-seq from top", HITL_CALIB_FIXED_SEQUENCE, 0, 4, true},
    {"fixed-seq n>=149", HITL_CALIB_FIXED_SEQUENCE, 0, 4, false},
    {"fixed-seq start 2 err", HITL_CALIB_FIXED_SEQUENCE, 2, 4, false},
    {"fixed-seq start 5 err", HITL_CALIB_FIXED_SEQUENCE, 5, 4, false},
    {"multi-start x2", HITL_CALIB_MULTI_START, 0, 2, false},
    {"multi-start x4", HITL_CALIB_MULTI_START, 0, 4, false},
    {"multi-start x8", HITL_CALIB_MULTI_START, 0, 8, false},
    {"SGR", HITL_CALIB_SGR, 0, 4, false},
    {"Bonferroni", HITL_CALIB_BONFERRONI, 0, 4, false},
};
#define N_CONFIGS (int)(sizeof CONFIGS / sizeof CONFIGS[0])

static hitl_calibration *make(const config *cf, hitl_calib_weighting w) {
  hitl_calib_params p;
  hitl_calibration_params_default(&p);
  p.scheme = cf->scheme;
  p.start_errors = cf->start_errors;
  p.start_ratio = cf->start_ratio;
  p.weighting = w;
  return hitl_calibration_new(&p);
}

/* Fixed-sequence from the strictest item down, over distinct scores: certifies nothing unless
 * the strictest score alone holds 149 items. Returns the threshold or +inf. */
static double from_top(const item *cal, int n) {
  item *s = malloc((size_t)n * sizeof *s);
  memcpy(s, cal, (size_t)n * sizeof *s);
  qsort(s, (size_t)n, sizeof *s, by_score_desc);
  double t = INFINITY;
  int k = 0;
  for (int i = 0; i < n; i++) {
    k += !s[i].right;
    if (i + 1 < n && s[i + 1].score == s[i].score) continue;
    if (hitl__binomial_cdf(k, i + 1, ALPHA) > 1 - CONFIDENCE) break;
    t = s[i].score;
  }
  free(s);
  return t;
}

static double certify(const config *cf, const item *cal, int n) {
  if (cf->from_top) return from_top(cal, n);
  hitl_calibration *c = make(cf, HITL_CALIB_UNIFORM);
  hitl_calib_pair *pairs = malloc((size_t)n * sizeof *pairs);
  for (int i = 0; i < n; i++)
    pairs[i] = (hitl_calib_pair){cal[i].score, cal[i].right, {.propensity = 1, .uniform = true}};
  hitl_calibration_add_batch(c, pairs, (size_t)n);
  free(pairs);
  const hitl_calib_certificate *cert = hitl_calibration_certificate(c);
  double t = cert->certified ? cert->threshold : INFINITY;
  hitl_calibration_free(c);
  return t;
}

/* A: calibration sets drawn from the population; share and true error at the certified
 * threshold, against the oracle's share of the population. */
static void bench_population(const char *model, int reps) {
  static const int sizes[] = {500, 1000, 2000, 5000};
  double oracle = oracle_share(items, n_items);
  printf("\n[A] %s: population %d items, oracle share at error <= %.2f: %.3f\n", model, n_items,
         ALPHA, oracle);
  printf("%-22s", "scheme \\ n");
  for (size_t s = 0; s < 4; s++) printf(" | %5d: share (of oracle) cert viol", sizes[s]);
  printf("\n");
  item *cal = malloc(5000 * sizeof *cal);
  for (int ci = 0; ci < N_CONFIGS; ci++) {
    printf("%-22s", CONFIGS[ci].name);
    for (size_t s = 0; s < 4; s++) {
      rng = 0x9E3779B97F4A7C15ULL + s; /* Same calibration sets for every scheme. */
      double share = 0;
      int certified = 0, violations = 0;
      for (int r = 0; r < reps; r++) {
        for (int i = 0; i < sizes[s]; i++) cal[i] = items[pick(n_items)];
        double t = certify(&CONFIGS[ci], cal, sizes[s]);
        if (isinf(t)) continue;
        double sh, risk;
        population_at(t, &sh, &risk);
        certified++;
        share += sh;
        violations += risk > ALPHA;
      }
      printf(" | %.3f (%5.1f%%) %4.0f%% %4.1f%%", share / reps,
             oracle > 0 ? 100 * share / reps / oracle : 0, 100.0 * certified / reps,
             100.0 * violations / reps);
    }
    printf("\n");
  }
  free(cal);
}

/* A synthetic population for robustness: scores uniform in (0, 1), the model wrong 1% of the
 * time whatever its score (a flat error curve: the oracle accepts everything). */
static void make_flat(void) {
  rng = 0x3C6EF372FE94F82BULL;
  n_items = MAX_ITEMS;
  for (int i = 0; i < n_items; i++) {
    items[i].score = unit();
    items[i].right = unit() >= 0.01;
    items[i].label = 0;
  }
}

/* B: disjoint calibration and test halves of the data set, as one would deploy it. */
static void bench_split(const char *model, int reps, const config *cf) {
  int n_cal = n_items / 2;
  item *perm = malloc((size_t)n_items * sizeof *perm);
  double share = 0, err = 0, oracle = 0;
  int over = 0, certified = 0;
  rng = 0xB7E151628AED2A6BULL;
  for (int r = 0; r < reps; r++) {
    memcpy(perm, items, (size_t)n_items * sizeof *perm);
    for (int i = n_items - 1; i > 0; i--) {
      int j = pick(i + 1);
      item tmp = perm[i];
      perm[i] = perm[j];
      perm[j] = tmp;
    }
    double t = certify(cf, perm, n_cal);
    const item *test = perm + n_cal;
    int n_test = n_items - n_cal, acc = 0, wrong = 0;
    oracle += oracle_share(test, n_test);
    if (isinf(t)) continue;
    certified++;
    for (int i = 0; i < n_test; i++)
      if (test[i].score >= t) {
        acc++;
        wrong += !test[i].right;
      }
    share += (double)acc / n_test;
    double e = acc ? (double)wrong / acc : 0;
    err += e;
    over += e > ALPHA;
  }
  printf("[B] %s, %s, split %d/%d: certified %d/%d, test share %.3f (test oracle %.3f, %.1f%%), "
         "realized error %.4f, runs over %.2f: %.1f%%\n",
         model, cf->name, n_cal, n_items - n_cal, certified, reps, share / reps, oracle / reps,
         oracle > 0 ? 100 * share / oracle : 0, certified ? err / certified : 0, ALPHA, 100.0 * over / reps);
  free(perm);
}

/* C: a threshold in force for a long time. Items stream from the population; the leaf accepts
 * or audits, the rest are reviewed; answers come back with their tags. */
static void bench_deployment(const char *model, int reps, int stream) {
  static const char *names[] = {"uniform (default)", "inverse propensity", "unweighted"};
  printf("\n[C] %s, threshold in force: %d items streamed per run, %d runs, default scheme\n",
         model, stream, reps);
  for (int w = 0; w < 3; w++) {
    double share = 0, risk_sum = 0, run_err = 0, accepted_share = 0;
    int violations = 0, run_over = 0, certified = 0;
    rng = 0x452821E638D01377ULL;
    for (int r = 0; r < reps; r++) {
      hitl_calib_params p;
      hitl_calibration_params_default(&p);
      p.weighting = (hitl_calib_weighting)w;
      hitl_calibration *c = hitl_calibration_new(&p);
      long acc = 0, acc_wrong = 0;
      for (int i = 0; i < stream; i++) {
        const item *it = &items[pick(n_items)];
        hitl_calib_tag tag;
        if (hitl_calibration_route(c, it->score, unit(), &tag) == HITL_CALIB_ROUTE_ACCEPT) {
          acc++;
          acc_wrong += !it->right;
        } else {
          hitl_calibration_add(c, it->score, it->right, &tag);
        }
      }
      const hitl_calib_certificate *cert = hitl_calibration_certificate(c);
      if (cert->certified) {
        double sh, risk;
        population_at(cert->threshold, &sh, &risk);
        certified++;
        share += sh;
        risk_sum += risk;
        violations += risk > ALPHA;
      }
      double e = acc ? (double)acc_wrong / acc : 0;
      run_err += e;
      run_over += e > ALPHA;
      accepted_share += (double)acc / stream;
      hitl_calibration_free(c);
    }
    printf("  %-20s final: certified %d/%d, share %.3f, true error %.4f, violations %.1f%% | "
           "whole run: auto-accepted %.3f, realized error %.4f, runs over %.2f: %.1f%%\n",
           names[w], certified, reps, share / reps, certified ? risk_sum / certified : 0,
           100.0 * violations / reps, accepted_share / reps, run_err / reps, ALPHA,
           100.0 * run_over / reps);
  }
}

/* D: the drift test's run length (audits until it withdraws) at constant audit error rates. */
static void bench_drift(int reps, long cap) {
  static const double rates[] = {0.01, 0.02, 0.04, 0.1, 0.2};
  printf("\n[D] drift test (CUSUM, limit ln(1000)): audits until withdrawal, %d runs, cap %ld\n",
         reps, cap);
  static hitl_calib_pair evidence[200000];
  for (size_t i = 0; i < 200000; i++)
    evidence[i] = (hitl_calib_pair){0.99, true, {.propensity = 1, .uniform = true}};
  for (size_t ri = 0; ri < sizeof rates / sizeof rates[0]; ri++) {
    double sum = 0;
    long capped = 0, lo = cap;
    rng = 0x13198A2E03707344ULL + ri;
    for (int r = 0; r < reps; r++) {
      hitl_calib_params p;
      hitl_calibration_params_default(&p);
      hitl_calibration *c = hitl_calibration_new(&p);
      hitl_calibration_add_batch(c, evidence, 200000); /* So that only the CUSUM can act. */
      hitl_calib_tag audit = {.propensity = 0.05, .uniform = true, .audit = true};
      long a = 0;
      /* Audits in the evidence's own bucket: the certificate stays where it is. */
      while (a < cap && hitl_calibration_add(c, 0.99, unit() >= rates[ri], &audit) !=
                            HITL_CALIB_WITHDRAWN)
        a++;
      capped += a >= cap;
      if (a < lo) lo = a;
      sum += (double)a;
      hitl_calibration_free(c);
    }
    printf("  error rate %.2f: mean %.0f audits (shortest %ld), %ld of %d runs reached the cap\n",
           rates[ri], sum / reps, lo, capped, reps);
  }
}

/* E: conformal sets on held-out halves. */
static void bench_conformal(const char *model, int reps) {
  for (int kind = 0; kind <= 1; kind++) {
    double covered = 0, size = 0, total = 0;
    rng = 0xA4093822299F31D0ULL;
    for (int r = 0; r < reps; r++) {
      hitl_conformal *c = hitl_conformal_new((hitl_conformal_score)kind, 0.9, 0);
      int *order = malloc((size_t)n_items * sizeof *order);
      for (int i = 0; i < n_items; i++) order[i] = i;
      for (int i = n_items - 1; i > 0; i--) {
        int j = pick(i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      int n_cal = 500;
      for (int i = 0; i < n_cal; i++)
        hitl_conformal_add(c, items[order[i]].probs, CLASSES, (size_t)items[order[i]].label);
      for (int i = n_cal; i < n_items; i++) {
        size_t set[CLASSES];
        const item *it = &items[order[i]];
        size_t m = hitl_conformal_set(c, it->probs, CLASSES, set);
        size += (double)m;
        for (size_t j = 0; j < m; j++) covered += (int)set[j] == it->label;
        total++;
      }
      free(order);
      hitl_conformal_free(c);
    }
    printf("[E] %s %s coverage 0.90, 500 calibration tasks: held-out coverage %.4f, mean set "
           "size %.2f\n",
           model, kind ? "aps" : "lac", covered / total, size / total);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s DIR [--quick]\n", argv[0]);
    return 2;
  }
  bool quick = argc > 2 && strcmp(argv[2], "--quick") == 0;
  int reps = quick ? 40 : 200;
  static const char *models[] = {"logreg", "forest", "bayes"};
  for (int m = 0; m < 3; m++) {
    if (load(argv[1], models[m]) != 0) return 1;
    bench_population(models[m], reps);
    printf("\n");
    for (int ci = 0; ci < N_CONFIGS; ci++) bench_split(models[m], reps, &CONFIGS[ci]);
    bench_conformal(models[m], quick ? 10 : 200);
  }
  make_flat();
  bench_population("synthetic flat 1% error", reps);
  if (load(argv[1], "logreg") != 0) return 1;
  bench_deployment("logreg", quick ? 10 : 40, 20000);
  bench_drift(quick ? 10 : 50, 20000);
  return 0;
}
