/* SPDX-License-Identifier: MIT */
/* Exact binomial statistics through the regularized incomplete beta function. */
#include "core/binomial.h"

#include <math.h>

/* Series tail of Stirling's formula: lgamma(z) - ((z - 0.5) ln z - z + 0.5 ln(2 pi)), for z >= 8
 * (the first omitted term is below 3e-13 there). */
static double stirling_tail(double z) {
  double z2 = 1.0 / (z * z);
  return (1.0 / 12 - z2 * (1.0 / 360 - z2 * (1.0 / 1260 - z2 * (1.0 / 1680 - z2 / 1188)))) / z;
}

/* ln(x^a (1-x)^b / B(a, b)). lgamma(a + b) - lgamma(a) - lgamma(b) cancels badly when a or b
 * is large (lgamma(1e6) is 1.3e7, so doubles keep only 1e-9 of the difference); Stirling's form
 * lets the large terms cancel analytically instead (as TOMS 708's brcomp does). */
static double log_prefactor(double a, double b, double x) {
  const double half_log_2pi = 0.918938533204672741780329736406;
  double y = 1.0 - x;
  if (a >= 8 && b >= 8) {
    double s = a + b;
    /* a ln(x / x0) + b ln(y / y0) with x0 = a / s: each through log1p, so near the mode, where
     * the two nearly cancel, neither loses digits. */
    double ta = a * log1p((x * s - a) / a);
    double tb = b * log1p((y * s - b) / b);
    return ta + tb + 0.5 * log(a * b / s) - half_log_2pi + stirling_tail(s) - stirling_tail(a) -
           stirling_tail(b);
  }
  if (b >= 8) {
    /* lgamma(a + b) - lgamma(b) = (b - 0.5) ln(1 + a/b) + a ln(a + b) - a + tails. */
    return (b - 0.5) * log1p(a / b) + a * log(x * (a + b)) - a + stirling_tail(a + b) -
           stirling_tail(b) - lgamma(a) + b * log1p(-x);
  }
  if (a >= 8) {
    return (a - 0.5) * log1p(b / a) + b * log(y * (a + b)) - b + stirling_tail(a + b) -
           stirling_tail(a) - lgamma(b) + a * log(x);
  }
  return lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
}

/* The continued fraction of I_x(a, b) by the modified Lentz method; converges fast for
 * x < (a + 1) / (a + b + 2), in about sqrt(max(a, b)) terms. */
static double beta_fraction(double a, double b, double x) {
  const double tiny = 1e-300, eps = 1e-16;
  double qab = a + b, qap = a + 1, qam = a - 1;
  double c = 1, d = 1 - qab * x / qap;
  if (fabs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 200000; m++) {
    double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (fabs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (fabs(c) < tiny) c = tiny;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (fabs(del - 1) < eps) break;
  }
  return h;
}

double hitl__binomial_incbeta(double a, double b, double x) {
  if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1)) return NAN;
  if (x == 0) return 0;
  if (x == 1) return 1;
  if (x < (a + 1) / (a + b + 2)) return exp(log_prefactor(a, b, x)) * beta_fraction(a, b, x) / a;
  return 1 - exp(log_prefactor(b, a, 1 - x)) * beta_fraction(b, a, 1 - x) / b;
}

double hitl__binomial_cdf(double k, double n, double p) {
  if (k < 0) return 0;
  if (k >= n) return 1;
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  return hitl__binomial_incbeta(n - k, k + 1, 1 - p);
}

/* Bisection stops when the bracket is this narrow: well inside the 1e-9 the bounds promise. */
#define BISECT_WIDTH 1e-13

double hitl__binomial_upper(double k, double n, double delta) {
  if (n <= 0 || k >= n) return 1;
  if (k < 0) k = 0;
  /* P(X <= k | p) falls from 1 at p = 0 to 0 at p = 1; keep cdf(lo) > delta >= cdf(hi). */
  double lo = 0, hi = 1;
  while (hi - lo > BISECT_WIDTH) {
    double mid = 0.5 * (lo + hi);
    if (hitl__binomial_cdf(k, n, mid) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}

double hitl__binomial_lower(double k, double n, double delta) {
  if (k <= 0 || n <= 0) return 0;
  if (k > n) k = n;
  /* P(X >= k | p) = 1 - P(X <= k - 1 | p) rises from 0 to 1; keep tail(lo) < delta <= tail(hi). */
  double lo = 0, hi = 1;
  while (hi - lo > BISECT_WIDTH) {
    double mid = 0.5 * (lo + hi);
    if (1 - hitl__binomial_cdf(k - 1, n, mid) < delta) lo = mid;
    else hi = mid;
  }
  return lo;
}

long hitl__binomial_min_trials(double max_error, double delta) {
  /* A hair below the exact quotient rounds up to the right integer when it is whole. */
  return (long)ceil(log(delta) / log1p(-max_error) - 1e-9);
}
