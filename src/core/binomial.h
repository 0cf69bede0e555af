/* SPDX-License-Identifier: MIT */
/* Exact binomial statistics: the regularized incomplete beta function, the binomial CDF and the
 * Clopper-Pearson confidence bounds that calibration certifies thresholds with. */
#ifndef HITL_CORE_BINOMIAL_H
#define HITL_CORE_BINOMIAL_H

/* Returns the regularized incomplete beta function I_x(a, b) for a > 0, b > 0, 0 <= x <= 1
 * (continued fraction, modified Lentz; relative accuracy about 1e-13 for a, b up to 1e7; the
 * prefactor goes through lgamma, so very large arguments lose some digits). NAN for bad input. */
double hitl__binomial_incbeta(double a, double b, double x);

/* Returns P(X <= k) for X ~ Binomial(n, p): I_{1-p}(n - k, k + 1). k and n may be real (an
 * effective sample size), 0 <= p <= 1. 1 when k >= n, 0 when k < 0. */
double hitl__binomial_cdf(double k, double n, double p);

/* Returns the one-sided Clopper-Pearson upper bound on a proportion after k failures in n trials
 * at confidence 1 - delta: the p with P(X <= k | n, p) = delta, i.e. the (1 - delta) quantile of
 * Beta(k + 1, n - k). Found by bisection to within 1e-12 and rounded up (never below the exact
 * value). 1 when k >= n or n <= 0. */
double hitl__binomial_upper(double k, double n, double delta);

/* Returns the one-sided Clopper-Pearson lower bound: the p with P(X >= k | n, p) = delta, i.e.
 * the delta quantile of Beta(k, n - k + 1); rounded down. 0 when k <= 0. */
double hitl__binomial_lower(double k, double n, double delta);

/* Returns the smallest n for which n trials without a failure certify a failure rate at most
 * max_error at confidence 1 - delta: ceil(ln(delta) / ln(1 - max_error)), e.g. 149 for
 * max_error 0.02, delta 0.05. Both arguments in (0, 1). */
long hitl__binomial_min_trials(double max_error, double delta);

#endif
