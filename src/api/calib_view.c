/* SPDX-License-Identifier: MIT */
/* The calibration view of GET /v1/queues/{queue}/calibration: a queue's certificate, evidence,
 * auto-accepted share, audit stream, risk-coverage curve, reliability bins and conformal state. */
#include "api/calib_internal.h"

#include <math.h>
#include <stdio.h>

#define CURVE_POINTS 20 /* Points of the risk-coverage curve in the view. */

void hitl__calib_put_numbers(hitl_buf *b, const char *const *keys, const double *values,
                             size_t n) {
  for (size_t i = 0; i < n; i++) {
    hitl_buf_printf(b, "%s\"%s\":", i ? "," : "", keys[i]);
    hitl_buf_double(b, values[i]);
  }
}

static void put_number_or_null(hitl_buf *b, double x) {
  if (isfinite(x))
    hitl_buf_double(b, x);
  else
    hitl_buf_puts(b, "null");
}

/* The conformal part of the view. Under e->lock. */
static void put_conformal_view(hitl_calib_entry *e, const int64_t *day, hitl_buf *b) {
  if (e == NULL || e->conf == NULL) {
    hitl_buf_puts(b, ",\"conformal\":null");
    return;
  }
  double q = NAN;
  bool has_q = hitl_conformal_quantile(e->conf, &q);
  hitl_buf_puts(b, ",\"conformal\":{\"coverage\":");
  hitl_buf_double(b, e->conf_coverage);
  hitl_buf_printf(b, ",\"score\":\"%s\",\"n_calibration\":%zu,\"min_calibration\":%zu,"
                     "\"quantile\":",
                  e->conf_kind == HITL_CONFORMAL_APS ? "aps" : "lac", hitl_conformal_count(e->conf),
                  hitl_conformal_min_n(e->conf_coverage));
  put_number_or_null(b, has_q ? q : NAN);
  /* Over the last day, from the tallies the submits stored. */
  int last = HITL__TALLY_KINDS - HITL__TALLY_SET - 1;
  hitl_buf_puts(b, ",\"set_sizes\":{");
  for (int i = 0; i <= last; i++)
    hitl_buf_printf(b, "%s\"%d%s\":%lld", i ? "," : "", i, i == last ? "+" : "",
                    (long long)day[HITL__TALLY_SET + i]);
  hitl_buf_printf(b, ",\"none\":%lld}}", (long long)day[HITL__TALLY_NO_SET]);
}

void hitl__calib_view(hitl_calib_set *c, int64_t queue_id, const int64_t *day, hitl_buf *b) {
  int64_t routed = day[HITL__TALLY_ROUTED], accepted = day[HITL__TALLY_ACCEPTED];
  hitl_calib_entry *e = hitl__calib_entry(c, queue_id, false);
  if (e) pthread_mutex_lock(&e->lock);
  if (e == NULL || e->cal == NULL) {
    hitl_buf_puts(b, "\"enabled\":false,\"certified\":false,\"threshold\":null,"
                     "\"reason\":\"the queue's policy has no calibrated condition\"");
    put_conformal_view(e, day, b);
    if (e) pthread_mutex_unlock(&e->lock);
    return;
  }
  const hitl_calib_certificate *cert = hitl_calibration_certificate(e->cal);
  hitl_calib_stats st;
  hitl_calibration_stats(e->cal, &st);
  hitl_buf_printf(b, "\"enabled\":true,\"certified\":%s,", cert->certified ? "true" : "false");
  if (cert->certified) {
    static const char *const keys[] = {"threshold", "n", "k", "bound", "level", "share_above"};
    hitl__calib_put_numbers(b, keys,
                (double[]){cert->threshold, cert->n, cert->k, cert->bound, cert->level,
                           cert->share},
                6);
    hitl_buf_puts(b, ",\"reason\":null");
  } else {
    hitl_buf_puts(b, "\"threshold\":null,\"n\":null,\"k\":null,\"bound\":null,\"reason\":");
    char why[256];
    if (st.uniform < st.min_items)
      snprintf(why, sizeof why,
               "%snot enough evidence yet: %ld verified pairs in the uniform sample; a threshold "
               "needs at least %ld above it",
               st.withdrawals ? "withdrawn by the drift test, and " : "", st.uniform, st.min_items);
    else
      snprintf(why, sizeof why, "%sno threshold passes the test at this max_error and confidence",
               st.withdrawals ? "withdrawn by the drift test, and " : "");
    hitl_buf_json_cstr(b, why);
  }
  static const char *const param_keys[] = {"max_error", "confidence", "audit_percent"};
  hitl_buf_puts(b, ",\"params\":{");
  hitl__calib_put_numbers(b, param_keys,
              (double[]){e->params.max_error, e->params.confidence, e->params.audit_percent}, 3);
  hitl_buf_printf(b, "},\"evidence\":{\"pairs\":%ld,\"uniform\":%ld,\"wrong\":%ld,\"min_items\":%ld}",
                  st.pairs, st.uniform, st.wrong, st.min_items);
  hitl_buf_printf(b, ",\"last_day\":{\"routed\":%lld,\"auto_accepted\":%lld,\"share\":",
                  (long long)routed, (long long)accepted);
  put_number_or_null(b, routed ? (double)accepted / (double)routed : NAN);
  hitl_buf_printf(b, "},\"audit\":{\"percent\":");
  hitl_buf_double(b, e->params.audit_percent);
  hitl_buf_printf(b, ",\"audits\":%ld,\"drift_statistic\":", st.audits);
  hitl_buf_double(b, st.drift_statistic);
  hitl_buf_puts(b, ",\"drift_limit\":");
  hitl_buf_double(b, st.drift_limit);
  hitl_buf_printf(b, ",\"withdrawals\":%ld}", st.withdrawals);
  hitl_calib_risk_point pts[CURVE_POINTS];
  size_t np = hitl_calibration_risk_curve(e->cal, pts, CURVE_POINTS);
  hitl_buf_puts(b, ",\"risk_coverage\":[");
  static const char *const point_keys[] = {"threshold", "share", "error", "upper", "n"};
  for (size_t i = 0; i < np; i++) {
    hitl_buf_puts(b, i ? ",{" : "{");
    hitl__calib_put_numbers(b, point_keys,
                (double[]){pts[i].threshold, pts[i].share, pts[i].error, pts[i].upper, pts[i].n},
                5);
    hitl_buf_putc(b, '}');
  }
  hitl_calib_reliability_bin bins[HITL_CALIB_RELIABILITY_BINS];
  double ece = hitl_calibration_reliability(e->cal, bins);
  hitl_buf_puts(b, "],\"reliability\":{\"ece\":");
  hitl_buf_double(b, ece);
  hitl_buf_puts(b, ",\"bins\":[");
  static const char *const bin_keys[] = {"lower", "upper", "n", "mean_score", "accuracy"};
  for (int i = 0; i < HITL_CALIB_RELIABILITY_BINS; i++) {
    hitl_buf_puts(b, i ? ",{" : "{");
    hitl__calib_put_numbers(b, bin_keys,
                (double[]){bins[i].lower, bins[i].upper, bins[i].n, bins[i].mean_score,
                           bins[i].accuracy},
                5);
    hitl_buf_putc(b, '}');
  }
  hitl_buf_puts(b, "]}");
  put_conformal_view(e, day, b);
  pthread_mutex_unlock(&e->lock);
}
