/* SPDX-License-Identifier: MIT */
/* Tests of consensus: waiting, first, majority (ties lose), unanimity, several questions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/queue_json.h"
#include "core/consensus.h"

/* Two questions: "verdict" (approve) and "category" (label). */
static int setup(void **state) {
  json_error_t je;
  json_t *j = json_loads("{\"schema\":{\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"},"
                         "{\"name\":\"category\",\"type\":\"label\",\"labels\":[\"spam\",\"ham\"]}"
                         "]},\"assignment\":{\"consensus\":\"unanimous\"}}",
                         0, &je);
  hitl_queue_config *q = NULL;
  hitl_err err = {0};
  if (j == NULL || hitl__queue_config_from_json(j, &q, &err) != 0) return -1;
  json_decref(j);
  *state = q;
  return 0;
}

static int teardown(void **state) {
  hitl_queue_config_free(*state);
  return 0;
}

/* A response of reviewer to question; the strings are literals the test never frees. */
static hitl_response answer(const char *reviewer, const char *question, const char *kind,
                            const char *value) {
  hitl_response r = {0};
  r.reviewer = (char *)reviewer;
  r.question = (char *)question;
  r.kind = (char *)kind;
  r.value = (char *)value;
  return r;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static hitl_consensus_result decide(const hitl_queue_config *q, hitl_consensus_method m,
                                    int needed, const hitl_response *r, size_t n) {
  hitl_consensus_result out;
  memset(&out, 0xab, sizeof out); /* decide must fill every member. */
  assert_int_equal(hitl_consensus_decide(q, m, needed, r, n, &out), 0);
  return out;
}

static void test_waiting(void **state) {
  const hitl_queue_config *q = *state;
  /* One reviewer answering two questions is still one reviewer. */
  hitl_response r[] = {answer("ann", "verdict", "approve", NULL),
                       answer("ann", "category", "label", "\"spam\"")};
  for (int m = HITL_CONSENSUS_FIRST; m <= HITL_CONSENSUS_UNANIMOUS; m++) {
    hitl_consensus_result out = decide(q, (hitl_consensus_method)m, 2, r, N(r));
    assert_int_equal(out.state, HITL_CONSENSUS_WAITING);
    assert_null(out.winners);
    assert_int_equal(out.n_winners, 0);
    assert_null(out.disagreement);
    hitl_consensus_result_clear(&out);
  }
  hitl_consensus_result out = decide(q, HITL_CONSENSUS_MAJORITY, 1, NULL, 0);
  assert_int_equal(out.state, HITL_CONSENSUS_WAITING);
  hitl_consensus_result_clear(&out);
  out = decide(q, HITL_CONSENSUS_MAJORITY, 1, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_AGREED);
  hitl_consensus_result_clear(&out);
}

static void test_first(void **state) {
  const hitl_queue_config *q = *state;
  hitl_response r[] = {answer("ann", "verdict", "approve", NULL),
                       answer("bob", "verdict", "reject", NULL),
                       answer("bob", "category", "label", "\"ham\""),
                       answer("cid", "category", "label", "\"spam\"")};
  hitl_consensus_result out = decide(q, HITL_CONSENSUS_FIRST, 3, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_AGREED);
  assert_int_equal(out.n_winners, 2);
  assert_ptr_equal(out.winners[0], &r[0]);
  /* ann did not answer category: the earliest reviewer who did wins it. */
  assert_ptr_equal(out.winners[1], &r[2]);
  assert_null(out.disagreement);
  hitl_consensus_result_clear(&out);
  assert_null(out.winners);
  hitl_consensus_result_clear(NULL);

  /* The order of first appearance decides, not the name. */
  hitl_response s[] = {answer("zed", "verdict", "reject", NULL),
                       answer("amy", "verdict", "approve", NULL)};
  out = decide(q, HITL_CONSENSUS_FIRST, 2, s, N(s));
  assert_ptr_equal(out.winners[0], &s[0]);
  assert_null(out.winners[1]);
  hitl_consensus_result_clear(&out);
}

static void test_majority(void **state) {
  const hitl_queue_config *q = *state;
  /* 2 of 3: the earliest answer of the majority wins. */
  hitl_response r[] = {answer("ann", "verdict", "reject", NULL),
                       answer("bob", "verdict", "approve", NULL),
                       answer("cid", "verdict", "approve", NULL)};
  hitl_consensus_result out = decide(q, HITL_CONSENSUS_MAJORITY, 3, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_AGREED);
  assert_ptr_equal(out.winners[0], &r[1]);
  assert_null(out.winners[1]); /* Nobody answered category. */
  hitl_consensus_result_clear(&out);

  /* 3 of 4 is a majority. */
  hitl_response s[] = {answer("ann", "category", "label", "\"ham\""),
                       answer("bob", "category", "label", "\"spam\""),
                       answer("cid", "category", "label", "\"spam\""),
                       answer("dan", "category", "label", "\"spam\"")};
  out = decide(q, HITL_CONSENSUS_MAJORITY, 4, s, N(s));
  assert_int_equal(out.state, HITL_CONSENSUS_AGREED);
  assert_ptr_equal(out.winners[1], &s[1]);
  hitl_consensus_result_clear(&out);
}

static void test_majority_ties(void **state) {
  const hitl_queue_config *q = *state;
  /* 2 of 4 is not a majority. */
  hitl_response r[] = {answer("ann", "category", "label", "\"spam\""),
                       answer("bob", "category", "label", "\"ham\""),
                       answer("cid", "category", "label", "\"spam\""),
                       answer("dan", "category", "label", "\"ham\"")};
  hitl_consensus_result out = decide(q, HITL_CONSENSUS_MAJORITY, 4, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_DISAGREED);
  assert_string_equal(out.disagreement, "category");
  assert_null(out.winners);
  hitl_consensus_result_clear(&out);

  /* 1 against 1; and with three different answers no one has more than half. */
  out = decide(q, HITL_CONSENSUS_MAJORITY, 2, r, 2);
  assert_int_equal(out.state, HITL_CONSENSUS_DISAGREED);
  hitl_consensus_result_clear(&out);
  hitl_response s[] = {answer("ann", "verdict", "approve", NULL),
                       answer("bob", "verdict", "reject", NULL),
                       answer("cid", "verdict", "modify", "{\"a\":1}")};
  out = decide(q, HITL_CONSENSUS_MAJORITY, 3, s, N(s));
  assert_int_equal(out.state, HITL_CONSENSUS_DISAGREED);
  assert_string_equal(out.disagreement, "verdict");
  hitl_consensus_result_clear(&out);
}

/* Equal means same kind and same value text. */
static void test_equality(void **state) {
  const hitl_queue_config *q = *state;
  hitl_response r[] = {answer("ann", "verdict", "modify", "{\"a\":1}"),
                       answer("bob", "verdict", "modify", "{\"a\":2}"),
                       answer("cid", "verdict", "modify", "{\"a\":1}")};
  hitl_consensus_result out = decide(q, HITL_CONSENSUS_UNANIMOUS, 3, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_DISAGREED);
  hitl_consensus_result_clear(&out);
  out = decide(q, HITL_CONSENSUS_MAJORITY, 3, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_AGREED);
  assert_ptr_equal(out.winners[0], &r[0]);
  hitl_consensus_result_clear(&out);

  /* Same (absent) value, different kinds. */
  hitl_response s[] = {answer("ann", "verdict", "approve", NULL),
                       answer("bob", "verdict", "reject", NULL)};
  out = decide(q, HITL_CONSENSUS_UNANIMOUS, 2, s, N(s));
  assert_int_equal(out.state, HITL_CONSENSUS_DISAGREED);
  hitl_consensus_result_clear(&out);
  /* A value against no value. */
  hitl_response t[] = {answer("ann", "verdict", "modify", NULL),
                       answer("bob", "verdict", "modify", "1")};
  out = decide(q, HITL_CONSENSUS_UNANIMOUS, 2, t, N(t));
  assert_int_equal(out.state, HITL_CONSENSUS_DISAGREED);
  hitl_consensus_result_clear(&out);
}

static void test_unanimous(void **state) {
  const hitl_queue_config *q = *state;
  hitl_response r[] = {answer("ann", "verdict", "approve", NULL),
                       answer("bob", "verdict", "approve", NULL),
                       answer("cid", "verdict", "approve", NULL),
                       answer("ann", "category", "label", "\"ham\""),
                       answer("cid", "category", "label", "\"ham\"")};
  hitl_consensus_result out = decide(q, HITL_CONSENSUS_UNANIMOUS, 3, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_AGREED);
  assert_ptr_equal(out.winners[0], &r[0]);
  /* bob did not answer category: the two who did agree. */
  assert_ptr_equal(out.winners[1], &r[3]);
  hitl_consensus_result_clear(&out);

  r[4] = answer("cid", "category", "label", "\"spam\"");
  out = decide(q, HITL_CONSENSUS_UNANIMOUS, 3, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_DISAGREED);
  assert_string_equal(out.disagreement, "category");
  hitl_consensus_result_clear(&out);
}

/* The first question without agreement is named, in schema order. */
static void test_several_questions(void **state) {
  const hitl_queue_config *q = *state;
  hitl_response r[] = {answer("ann", "category", "label", "\"ham\""),
                       answer("ann", "verdict", "approve", NULL),
                       answer("bob", "category", "label", "\"spam\""),
                       answer("bob", "verdict", "reject", NULL)};
  hitl_consensus_result out = decide(q, HITL_CONSENSUS_MAJORITY, 2, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_DISAGREED);
  assert_string_equal(out.disagreement, "verdict");
  assert_ptr_equal(out.disagreement, q->questions[0].name);
  hitl_consensus_result_clear(&out);

  r[3] = answer("bob", "verdict", "approve", NULL);
  out = decide(q, HITL_CONSENSUS_MAJORITY, 2, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_DISAGREED);
  assert_string_equal(out.disagreement, "category");
  hitl_consensus_result_clear(&out);

  r[2] = answer("bob", "category", "label", "\"ham\"");
  out = decide(q, HITL_CONSENSUS_MAJORITY, 2, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_AGREED);
  assert_ptr_equal(out.winners[0], &r[1]);
  assert_ptr_equal(out.winners[1], &r[0]);
  hitl_consensus_result_clear(&out);
}

/* The method argument rules, not the queue's own; later answers of a reviewer to a question and
 * answers to unknown questions are ignored. */
static void test_method_and_odd_input(void **state) {
  const hitl_queue_config *q = *state;
  assert_int_equal(q->consensus, HITL_CONSENSUS_UNANIMOUS);
  hitl_response r[] = {answer("ann", "verdict", "approve", NULL),
                       answer("ann", "verdict", "reject", NULL),
                       answer("bob", "verdict", "approve", NULL),
                       answer("cid", "verdict", "reject", NULL),
                       answer("cid", "gone", "label", "\"x\"")};
  hitl_consensus_result out = decide(q, HITL_CONSENSUS_MAJORITY, 3, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_AGREED);
  assert_ptr_equal(out.winners[0], &r[0]);
  assert_null(out.winners[1]);
  hitl_consensus_result_clear(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_waiting),           cmocka_unit_test(test_first),
      cmocka_unit_test(test_majority),          cmocka_unit_test(test_majority_ties),
      cmocka_unit_test(test_equality),          cmocka_unit_test(test_unanimous),
      cmocka_unit_test(test_several_questions), cmocka_unit_test(test_method_and_odd_input),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
