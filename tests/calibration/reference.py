#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes tests/unit/calibration_reference.h: reference values for the calibration statistics,
computed independently of the C code: with SciPy (Debian's python3-scipy) for the Clopper-Pearson
quantiles and the schemes' binomial tests, with exact decimal sums for the binomial CDF and the
incomplete beta function at whole arguments.

Run from the repository root:  /usr/bin/python3 tests/calibration/reference.py
The generated header is committed, so the unit tests need no Python."""
import math
import sys
from decimal import Decimal, getcontext
from fractions import Fraction

from scipy import special, stats

OUT = "tests/unit/calibration_reference.h"

# --- Clopper-Pearson bounds: upper = Beta(k+1, n-k) quantile at 1-delta, lower = Beta(k, n-k+1)
# quantile at delta (one-sided).
CP_CASES = [(0, 1), (0, 10), (1, 10), (9, 10), (10, 10), (0, 148), (0, 149), (1, 149), (3, 200),
            (0, 1000), (5, 1000), (20, 1000), (40, 1000), (200, 10000), (180, 10000),
            (2000, 100000), (0, 100000), (19000, 1000000), (50, 60)]
DELTAS = [0.05, 0.01, 0.1, 0.05 / 11]


def exact_incbeta(a, b, x):
    """I_x(a, b) for whole a and b, exactly: P(Binomial(a + b - 1, x) >= a) summed in 80-digit
    decimals (SciPy's betainc is off by 1e-9 relative at a = 1e6, b = 5)."""
    getcontext().prec = 80
    xf = Fraction(x)
    xd = Decimal(xf.numerator) / Decimal(xf.denominator)
    yd = 1 - xd
    n = a + b - 1
    term = Decimal(math.comb(n, a)) * xd ** a * yd ** (n - a)
    total = Decimal(0)
    for j in range(a, n + 1):
        total += term
        if j < n:
            term = term * (n - j) / (j + 1) * xd / yd
    return float(total)


def incbeta(a, b, x):
    if float(a).is_integer() and float(b).is_integer() and b <= 50000:
        return exact_incbeta(int(a), int(b), x)
    return float(special.betainc(a, b, x))


def binom_cdf(k, n, p):
    """P(X <= k) = I_{1-p}(n - k, k + 1), exactly."""
    return 1.0 if k >= n else exact_incbeta(n - k, k + 1, 1 - p)


def cp_upper(k, n, d):
    return 1.0 if k >= n else float(stats.beta.ppf(1 - d, k + 1, n - k))


def cp_lower(k, n, d):
    return 0.0 if k <= 0 else float(stats.beta.ppf(d, k, n - k + 1))


# --- Binomial CDF and the incomplete beta function.
CDF_CASES = [(0, 149, 0.02), (2, 300, 0.02), (5, 1000, 0.01), (150, 10000, 0.02),
             (1900, 100000, 0.02), (3, 5, 0.5), (7, 1000000, 0.00001), (19500, 1000000, 0.02)]
BETA_CASES = [(0.5, 0.5, 0.3), (1, 1, 0.7), (2.5, 7.5, 0.1), (10, 3, 0.9), (100, 200, 0.33),
              (1000, 20, 0.98), (980000, 19001, 0.98), (5, 1e6, 5e-6), (1e6, 5, 1 - 5e-6),
              (30, 30, 0.5)]

# --- The fixed score grid and the certification schemes, written again from their description
# in docs/calibration.md (not translated from the C).
BUCKETS, PER_DECADE = 2048, 256.0


def edge(b):
    return 0.0 if b <= 0 else -math.expm1(-b / PER_DECADE * math.log(10))


def bucket(s):
    if not s > 0:
        return 0
    if s >= 1:
        return BUCKETS - 1
    # Largest b with edge(b) <= s, by bisection over the edges.
    lo, hi = 0, BUCKETS - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if edge(mid) <= s:
            lo = mid
        else:
            hi = mid - 1
    return lo


def xorshift(state):
    state ^= (state << 13) & 0xFFFFFFFFFFFFFFFF
    state ^= state >> 7
    state ^= (state << 17) & 0xFFFFFFFFFFFFFFFF
    return state


def synthetic(seed, n, slope):
    """n pairs: score uniform in [0.5, 1), wrong with probability slope * (1 - score)^2."""
    s, out = seed, []
    for _ in range(n):
        s = xorshift(s)
        score = 0.5 + 0.5 * ((s >> 11) * 2.0 ** -53)
        s = xorshift(s)
        u = (s >> 11) * 2.0 ** -53
        out.append((score, u >= slope * (1 - score) ** 2))
    return out


def certify(pairs, alpha, delta, scheme, start_errors=0):
    count = [0] * BUCKETS
    wrong = [0] * BUCKETS
    for score, right in pairs:
        b = bucket(score)
        count[b] += 1
        wrong[b] += 0 if right else 1

    def ok(k, n, level):
        return stats.binom.cdf(k, n, alpha) <= level

    # Fewest items that certify with j errors, by direct search.
    def need(j):
        n = j + 1
        while not ok(j, n, delta):
            n += 1
        return n

    best = None
    if scheme == "fixed":
        start, n, k, started = need(start_errors), 0, 0, False
        for b in range(BUCKETS - 1, -1, -1):
            if count[b] == 0:
                continue
            n += count[b]
            k += wrong[b]
            if not started and n < start:
                continue
            started = True
            if not ok(k, n, delta):
                break
            best = (b, n, k, delta)
    elif scheme == "sgr":
        m = sum(count)
        lo, hi = need(0) - 1, m + 1
        if hi - lo >= 2:
            level = delta / math.ceil(math.log2(hi - lo))
            while hi - lo > 1:
                z = lo + (hi - lo) // 2
                n = k = 0
                for b in range(BUCKETS - 1, -1, -1):
                    n += count[b]
                    k += wrong[b]
                    if n >= z and count[b] > 0:
                        break
                if ok(k, n, level) and k < n * alpha:
                    lo = z
                    if best is None or b < best[0]:
                        best = (b, n, k, level)
                else:
                    hi = z
    if best is None:
        return (0, -1.0, 0, 0, 0.0)
    b, n, k, level = best
    return (1, edge(b), n, k, cp_upper(k, n, level))


CERT_CASES = [(0x9E3779B97F4A7C15, 400, 0.4), (0x1234567887654321, 1500, 0.5),
              (0xDEADBEEFCAFEF00D, 4000, 0.3), (0x0F0F0F0F12345678, 3000, 1.2)]

# --- Conformal: the ceil((n+1)(1-alpha))-th smallest score, with exact decimal arithmetic.
QUANTILE_CASES = [(9, "0.9"), (10, "0.9"), (19, "0.95"), (100, "0.9"), (412, "0.9"), (50, "0.8"),
                  (37, "0.99"), (99, "0.99"), (1000, "0.95")]


def quantile_rank(n, coverage):
    return math.ceil((n + 1) * Fraction(coverage))


def scores_for(seed, n):
    s, out = seed, []
    for _ in range(n):
        s = xorshift(s)
        out.append((s >> 11) * 2.0 ** -53)
    return out


def c_double(x):
    return repr(float(x))


def main():
    lines = ["/* SPDX-License-Identifier: MIT */",
             "/* Generated by tests/calibration/reference.py with SciPy " + __import__("scipy").__version__
             + "; do not edit. */",
             "#ifndef CALIBRATION_REFERENCE_H", "#define CALIBRATION_REFERENCE_H", "",
             "typedef struct { double k, n, delta, upper, lower; } ref_cp;",
             "static const ref_cp REF_CP[] = {"]
    for k, n in CP_CASES:
        for d in DELTAS:
            lines.append("  {%d, %d, %s, %s, %s}," % (k, n, c_double(d), c_double(cp_upper(k, n, d)),
                                                     c_double(cp_lower(k, n, d))))
    lines += ["};", "", "typedef struct { double k, n, p, cdf; } ref_cdf;",
              "static const ref_cdf REF_CDF[] = {"]
    for k, n, p in CDF_CASES:
        lines.append("  {%d, %d, %s, %s}," % (k, n, c_double(p), c_double(binom_cdf(k, n, p))))
    lines += ["};", "", "typedef struct { double a, b, x, value; } ref_beta;",
              "static const ref_beta REF_BETA[] = {"]
    for a, b, x in BETA_CASES:
        lines.append("  {%s, %s, %s, %s}," % (c_double(a), c_double(b), c_double(x),
                                              c_double(incbeta(a, b, x))))
    lines += ["};", "",
              "/* Certificates on synthetic pairs (xorshift64 from seed; score uniform in [0.5, 1),",
              " * wrong with probability slope (1 - score)^2) at max_error 0.02, confidence 0.95. */",
              "typedef struct { unsigned long long seed; int n; double slope; int sgr;",
              "                 int certified; double threshold; double n_above, k_above, bound; } ref_cert;",
              "static const ref_cert REF_CERT[] = {"]
    for seed, n, slope in CERT_CASES:
        pairs = synthetic(seed, n, slope)
        for sgr, name in ((0, "fixed"), (1, "sgr")):
            c = certify(pairs, 0.02, 0.05, name)
            lines.append("  {0x%XULL, %d, %s, %d, %d, %s, %d, %d, %s}," % (
                seed, n, c_double(slope), sgr, c[0], c_double(c[1]), c[2], c[3], c_double(c[4])))
    lines += ["};", "",
              "/* Conformal quantile ranks ceil((n+1) coverage) and the quantile of n scores",
              " * (xorshift64 from seed 42 + n, (s >> 11) 2^-53 each). */",
              "typedef struct { int n; double coverage; int rank; double qhat; } ref_quantile;",
              "static const ref_quantile REF_QUANTILE[] = {"]
    for n, cov in QUANTILE_CASES:
        r = quantile_rank(n, cov)
        sc = sorted(scores_for(42 + n, n))
        q = sc[r - 1] if r <= n else -1.0
        lines.append("  {%d, %s, %d, %s}," % (n, cov, r, c_double(q)))
    lines += ["};", "", "#endif", ""]
    with open(OUT, "w") as f:
        f.write("\n".join(lines))
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
