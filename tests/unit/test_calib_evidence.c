/* SPDX-License-Identifier: MIT */
/* Tests of what decisions say about the model (core/calib_evidence.c): which queues keep
 * evidence, verdicts on approve and label questions, the audit draw, the hours of the last day,
 * the events of an added pair, and snapshots as text. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/calib_evidence.h"

/* A queue with a text question, an approve question and a label question, in that order. */
static void make_queue(hitl_queue_config *q, hitl_question qs[3]) {
  static char *labels[] = {"cat", "dog"};
  memset(q, 0, sizeof *q);
  memset(qs, 0, 3 * sizeof *qs);
  qs[0] = (hitl_question){.name = "note", .type = HITL_QUESTION_TEXT};
  qs[1] = (hitl_question){.name = "verdict", .type = HITL_QUESTION_APPROVE};
  qs[2] = (hitl_question){.name = "kind", .type = HITL_QUESTION_LABEL, .labels = labels,
                          .n_labels = 2};
  q->questions = qs;
  q->n_questions = 3;
}

static void test_verdicts(void **state) {
  (void)state;
  hitl_queue_config q;
  hitl_question qs[3];
  make_queue(&q, qs);
  hitl_calib_answer none[3] = {{0}};
  assert_int_equal(hitl_calib_verdict(&q, none, "cat"), -1);
  assert_null(hitl_calib_decided_label(&q, none));
  /* A text answer says nothing; the approve question decides. */
  hitl_calib_answer a[3] = {{"text", "fine"}, {"approve", NULL}, {0}};
  assert_int_equal(hitl_calib_verdict(&q, a, NULL), 1);
  a[1].kind = "reject";
  assert_int_equal(hitl_calib_verdict(&q, a, NULL), 0);
  a[1].kind = "modify";
  assert_int_equal(hitl_calib_verdict(&q, a, NULL), 0);
  /* An approve answer of another kind says nothing: the label question decides. */
  hitl_calib_answer l[3] = {{0}, {"skip", NULL}, {"label", "dog"}};
  assert_int_equal(hitl_calib_verdict(&q, l, "dog"), 1);
  assert_int_equal(hitl_calib_verdict(&q, l, "cat"), 0);
  assert_int_equal(hitl_calib_verdict(&q, l, NULL), -1); /* No prediction: nothing to judge. */
  assert_string_equal(hitl_calib_decided_label(&q, l), "dog");
  /* The first question that says something wins. */
  hitl_calib_answer both[3] = {{0}, {"approve", NULL}, {"label", "cat"}};
  assert_int_equal(hitl_calib_verdict(&q, both, "dog"), 1);
}

static void test_wanted(void **state) {
  (void)state;
  hitl_queue_config q;
  hitl_question qs[3];
  make_queue(&q, qs);
  assert_false(hitl_calib_wanted(&q));
  q.conformal = true;
  assert_true(hitl_calib_wanted(&q));
}

static void test_audit_draw_and_hours(void **state) {
  (void)state;
  /* Fixed by the id, in [0, 1), spread out: about half of many ids fall below 0.5. */
  assert_true(hitl_calib_audit_draw("t_abc") == hitl_calib_audit_draw("t_abc"));
  int below = 0;
  char id[32];
  for (int i = 0; i < 2000; i++) {
    snprintf(id, sizeof id, "t_%d", i);
    double d = hitl_calib_audit_draw(id);
    assert_true(d >= 0 && d < 1);
    below += d < 0.5;
  }
  assert_in_range(below, 900, 1100);
  assert_int_equal(hitl_calib_hour(0), 0);
  assert_int_equal(hitl_calib_hour(3599999), 0);
  assert_int_equal(hitl_calib_hour(3600000), 1);
  assert_int_equal(hitl_calib_hour(1764979200000LL), 490272);
}

static void test_event_types(void **state) {
  (void)state;
  assert_string_equal(hitl_calib_event_type(HITL_CALIB_WITHDRAWN, true, false),
                      "calibration.withdrawn");
  assert_null(hitl_calib_event_type(HITL_CALIB_WITHDRAWN, false, false));
  assert_string_equal(hitl_calib_event_type(HITL_CALIB_CHANGED, false, true),
                      "calibration.certified");
  assert_null(hitl_calib_event_type(HITL_CALIB_CHANGED, true, true)); /* Moved, not issued. */
  assert_null(hitl_calib_event_type(HITL_CALIB_UNCHANGED, false, false));
}

/* A state written as text and read back is the same state; a broken text is refused and leaves
 * the state as it was. */
static void test_snapshot_text(void **state) {
  (void)state;
  hitl_calib_params p;
  hitl_calibration_params_default(&p);
  p.max_error = 0.1;
  p.confidence = 0.9;
  hitl_calibration *a = hitl_calibration_new(&p);
  hitl_calib_tag tag = {1, true, false};
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 3000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    double score = (double)(x >> 11) * 0x1p-53;
    hitl_calibration_add(a, score, score > 0.3 || i % 7 == 0, &tag);
  }
  char *text = hitl_calib_state_text(a);
  hitl_calibration *b = hitl_calibration_new(&p);
  assert_int_equal(hitl_calib_state_restore_text(b, text, NULL), 0);
  const hitl_calib_certificate *ca = hitl_calibration_certificate(a);
  const hitl_calib_certificate *cb = hitl_calibration_certificate(b);
  assert_true(ca->certified && cb->certified);
  assert_true(ca->threshold == cb->threshold && ca->n == cb->n && ca->k == cb->k &&
              ca->bound == cb->bound);
  size_t n = hitl_calibration_snapshot_size();
  double *sa = malloc(n * sizeof *sa), *sb = malloc(n * sizeof *sb);
  hitl_calibration_snapshot(a, sa);
  hitl_calibration_snapshot(b, sb);
  assert_memory_equal(sa, sb, n * sizeof *sa);
  /* Truncated, or with something after it: refused, b unchanged. */
  hitl_calibration *c = hitl_calibration_new(&p);
  text[strlen(text) / 2] = '\0';
  assert_int_equal(hitl_calib_state_restore_text(c, text, NULL), HITL_EVALIDATION);
  assert_false(hitl_calibration_certificate(c)->certified);
  free(text);
  text = hitl_calib_state_text(a);
  size_t len = strlen(text);
  text = realloc(text, len + 4);
  memcpy(text + len, " 1x", 4);
  assert_int_equal(hitl_calib_state_restore_text(c, text, NULL), HITL_EVALIDATION);
  /* Parameters print the same exactly when they are the same. */
  char t1[HITL_CALIB_PARAMS_TEXT], t2[HITL_CALIB_PARAMS_TEXT];
  hitl_calib_params q = p;
  hitl_calib_params_text(&p, t1);
  hitl_calib_params_text(&q, t2);
  assert_string_equal(t1, t2);
  q.drift_arl = p.drift_arl + 1;
  hitl_calib_params_text(&q, t2);
  assert_string_not_equal(t1, t2);
  free(text);
  free(sa);
  free(sb);
  hitl_calibration_free(a);
  hitl_calibration_free(b);
  hitl_calibration_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_verdicts),
      cmocka_unit_test(test_wanted),
      cmocka_unit_test(test_audit_draw_and_hours),
      cmocka_unit_test(test_event_types),
      cmocka_unit_test(test_snapshot_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
