/* SPDX-License-Identifier: MIT */
/* `hitl queue calibration NAME`: the calibration view of a queue as a short summary. */
#include <jansson.h>
#include <stdio.h>

#include "cli/client.h"
#include "cli/commands.h"

static double num(const json_t *o, const char *key) {
  return json_number_value(json_object_get(o, key));
}

/* Prints the summary of a GET /v1/queues/{queue}/calibration answer to f. */
static void print_summary(FILE *f, const json_t *v) {
  fprintf(f, "queue: %s\n", json_string_value(json_object_get(v, "queue")));
  if (!json_is_true(json_object_get(v, "enabled"))) {
    fprintf(f, "calibrated: no (%s)\n", json_string_value(json_object_get(v, "reason")));
  } else {
    const json_t *p = json_object_get(v, "params");
    fprintf(f, "leaf: max_error %g, confidence %g, audit_percent %g\n", num(p, "max_error"),
            num(p, "confidence"), num(p, "audit_percent"));
    if (json_is_true(json_object_get(v, "certified")))
      fprintf(f, "certified: yes, threshold %.6g (n %g, k %g, bound %.4g)\n", num(v, "threshold"),
              num(v, "n"), num(v, "k"), num(v, "bound"));
    else
      fprintf(f, "certified: no (%s)\n", json_string_value(json_object_get(v, "reason")));
    const json_t *e = json_object_get(v, "evidence");
    fprintf(f, "evidence: %g verified pairs, %g uniform, %g wrong\n", num(e, "pairs"),
            num(e, "uniform"), num(e, "wrong"));
    const json_t *d = json_object_get(v, "last_day");
    fprintf(f, "last day: %g of %g routed tasks auto-accepted", num(d, "auto_accepted"),
            num(d, "routed"));
    if (json_is_number(json_object_get(d, "share")))
      fprintf(f, " (%.1f%%)", 100 * num(d, "share"));
    fputc('\n', f);
    const json_t *a = json_object_get(v, "audit");
    fprintf(f, "audits: %g since the last withdrawal, drift %.3g of %.3g, %g withdrawals\n",
            num(a, "audits"), num(a, "drift_statistic"), num(a, "drift_limit"),
            num(a, "withdrawals"));
  }
  const json_t *c = json_object_get(v, "conformal");
  if (json_is_object(c)) {
    fprintf(f, "conformal: coverage %g (%s), %g labelled tasks (%g needed), quantile ",
            num(c, "coverage"), json_string_value(json_object_get(c, "score")),
            num(c, "n_calibration"), num(c, "min_calibration"));
    if (json_is_number(json_object_get(c, "quantile")))
      fprintf(f, "%.4g\n", num(c, "quantile"));
    else
      fprintf(f, "none yet\n");
  }
}

int hitl__cli_calibration(const hitl__cli_conn *c, const char *url) {
  hitl__cli_reply r = {0};
  hitl_err err = {0};
  if (hitl__cli_http(c, "GET", url, NULL, 0, NULL, NULL, &r, &err) < 0)
    return hitl__cli_unreachable(&err);
  int code;
  json_t *v = r.status == 200 ? json_loadb(r.body.data, r.body.len, 0, NULL) : NULL;
  if (json_is_object(v)) {
    print_summary(stdout, v);
    code = hitl__cli_exit_code(r.status);
  } else {
    code = hitl__cli_report(c, &r);
  }
  json_decref(v);
  hitl_buf_free(&r.body);
  return code;
}
