/* SPDX-License-Identifier: MIT */
/* Tests of consensus: waiting, first, majority (ties lose), unanimity, several questions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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


/* ---- boxes, transcriptions, relations ---- */

static hitl_queue_config *media(const char *consensus) {
  char text[1024];
  snprintf(text, sizeof text,
           "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"},{\"name\":\"photo\","
           "\"type\":\"image_url\"},{\"name\":\"rec\",\"type\":\"audio_url\"}],\"questions\":["
           "{\"name\":\"links\",\"type\":\"relations\",\"spans\":\"entities\",\"labels\":[\"w\",\"k\"]},"
           "{\"name\":\"entities\",\"type\":\"spans\",\"labels\":[\"PER\",\"ORG\"],\"field\":\"text\"},"
           "{\"name\":\"objects\",\"type\":\"boxes\",\"field\":\"photo\",\"labels\":[\"car\",\"person\"]},"
           "{\"name\":\"said\",\"type\":\"transcription\",\"field\":\"rec\"}]},"
           "\"assignment\":{\"consensus\":\"%s\"}}", consensus);
  json_t *j = json_loads(text, 0, NULL);
  hitl_queue_config *q = NULL;
  hitl_err err = {0};
  if (j == NULL || hitl__queue_config_from_json(j, &q, &err) != 0) fail_msg("config: %s", err.message);
  json_decref(j);
  return q;
}

#define BOXES(x0, x1) \
  "{\"boxes\":[{\"height\":10,\"label\":\"car\",\"width\":10,\"x\":" #x0 ",\"y\":0},"           \
  "{\"height\":20,\"label\":\"person\",\"width\":20,\"x\":" #x1 ",\"y\":50}],\"image_height\":480," \
  "\"image_width\":640}"

static void test_boxes(void **state) {
  (void)state;
  hitl_queue_config *q = media("majority");
  /* ann and bob agree (IoU 0.82 and 0.9); cat's car is elsewhere; the boxes come in another
   * order in bob's answer. */
  hitl_response r[] = {
      answer("ann", "objects", "boxes", BOXES(0, 60)),
      answer("bob", "objects", "boxes",
             "{\"boxes\":[{\"height\":20,\"label\":\"person\",\"width\":20,\"x\":61,\"y\":50},"
             "{\"height\":10,\"label\":\"car\",\"width\":10,\"x\":1,\"y\":0}],\"image_height\":480,"
             "\"image_width\":640}"),
      answer("cat", "objects", "boxes", BOXES(40, 60)),
  };
  hitl_consensus_result out = decide(q, HITL_CONSENSUS_MAJORITY, 3, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_AGREED);
  /* The decision holds the mean of the paired boxes, in the winner's order. */
  const hitl_response *w = out.winners[2];
  assert_non_null(w);
  assert_ptr_equal(w, &out.merged[2]);
  assert_string_equal(w->kind, "boxes");
  assert_string_equal(w->reviewer, "ann");
  assert_string_equal(w->value, BOXES(0.5, 60.5));
  hitl_consensus_result_clear(&out);

  /* Unanimity fails on cat; with cat's car moved within the threshold it holds. */
  out = decide(q, HITL_CONSENSUS_UNANIMOUS, 3, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_DISAGREED);
  assert_string_equal(out.disagreement, "objects");
  assert_null(out.merged);
  hitl_consensus_result_clear(&out);
  r[2] = answer("cat", "objects", "boxes", BOXES(2, 62));
  out = decide(q, HITL_CONSENSUS_UNANIMOUS, 3, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_AGREED);
  assert_string_equal(out.winners[2]->value, BOXES(1, 61));
  hitl_consensus_result_clear(&out);

  /* First takes the first answer as it is. */
  out = decide(q, HITL_CONSENSUS_FIRST, 3, r, N(r));
  assert_ptr_equal(out.winners[2], &r[0]);
  hitl_consensus_result_clear(&out);

  /* A stricter threshold: 0.82 is not enough at 0.95. */
  q->questions[2].threshold = 0.95;
  out = decide(q, HITL_CONSENSUS_MAJORITY, 3, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_DISAGREED);
  hitl_consensus_result_clear(&out);
  hitl_queue_config_free(q);
}

static void test_transcriptions(void **state) {
  (void)state;
  hitl_queue_config *q = media("majority");
  hitl_response r[] = {
      answer("ann", "said", "transcription", "{\"text\":\"the cat sat on the mat today ok\"}"),
      answer("bob", "said", "transcription", "{\"text\":\"The cat sat on the mat today, ok.\"}"),
      answer("cat", "said", "transcription", "{\"text\":\"a dog stood\"}"),
  };
  hitl_consensus_result out = decide(q, HITL_CONSENSUS_MAJORITY, 3, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_AGREED);
  assert_ptr_equal(out.winners[3], &r[0]);
  hitl_consensus_result_clear(&out);
  /* One word in nine differs: 0.11 is not under the default 0.1, but under 0.2. */
  r[1] = answer("bob", "said", "transcription", "{\"text\":\"the cat sat on the hat today ok\"}");
  out = decide(q, HITL_CONSENSUS_UNANIMOUS, 2, r, 2);
  assert_int_equal(out.state, HITL_CONSENSUS_DISAGREED);
  hitl_consensus_result_clear(&out);
  q->questions[3].threshold = 0.2;
  out = decide(q, HITL_CONSENSUS_UNANIMOUS, 2, r, 2);
  assert_int_equal(out.state, HITL_CONSENSUS_AGREED);
  hitl_consensus_result_clear(&out);
  /* Of three that agree, the decision holds the one closest to the others: bob's is one word
   * from ann's and from cat's, which are two apart. */
  hitl_response t[] = {
      answer("ann", "said", "transcription", "{\"text\":\"a b c d e f g h i x\"}"),
      answer("bob", "said", "transcription", "{\"text\":\"a b c d e f g h i j\"}"),
      answer("cat", "said", "transcription", "{\"text\":\"a b c d e f g h y j\"}"),
  };
  q->questions[3].threshold = 0.25;
  out = decide(q, HITL_CONSENSUS_UNANIMOUS, 3, t, N(t));
  assert_int_equal(out.state, HITL_CONSENSUS_AGREED);
  assert_ptr_equal(out.winners[3], &t[1]);
  hitl_consensus_result_clear(&out);
  hitl_queue_config_free(q);
}

#define PER "{\"end\":3,\"label\":\"PER\",\"start\":0}"
#define ORG "{\"end\":17,\"label\":\"ORG\",\"start\":13}"
#define ORG2 "{\"end\":30,\"label\":\"ORG\",\"start\":25}"

static void test_relations(void **state) {
  (void)state;
  hitl_queue_config *q = media("majority");
  /* ann lists the spans in another order than bob and cat, so her indexes differ, but her links
   * are the same; the spans answer of bob and cat wins, and the decision's relations index into
   * it. */
  hitl_response r[] = {
      answer("ann", "entities", "spans", "[" ORG "," ORG2 "," PER "]"),
      answer("ann", "links", "relations", "[{\"from\":2,\"label\":\"w\",\"to\":0}]"),
      answer("bob", "entities", "spans", "[" PER "," ORG "," ORG2 "]"),
      answer("bob", "links", "relations", "[{\"from\":0,\"label\":\"w\",\"to\":1}]"),
      answer("cat", "entities", "spans", "[" PER "," ORG "," ORG2 "]"),
      answer("cat", "links", "relations", "[{\"from\":0,\"label\":\"w\",\"to\":1}]"),
  };
  hitl_consensus_result out = decide(q, HITL_CONSENSUS_MAJORITY, 3, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_AGREED);
  assert_ptr_equal(out.winners[1], &r[2]);
  assert_ptr_equal(out.winners[0], &out.merged[0]);
  assert_string_equal(out.winners[0]->reviewer, "ann");
  assert_string_equal(out.winners[0]->value, "[{\"from\":0,\"label\":\"w\",\"to\":1}]");
  hitl_consensus_result_clear(&out);

  /* Another link, or another label, is another set. */
  r[3] = answer("bob", "links", "relations", "[{\"from\":0,\"label\":\"k\",\"to\":1}]");
  r[5] = answer("cat", "links", "relations", "[{\"from\":0,\"label\":\"w\",\"to\":2}]");
  out = decide(q, HITL_CONSENSUS_MAJORITY, 3, r, N(r));
  assert_int_equal(out.state, HITL_CONSENSUS_DISAGREED);
  assert_string_equal(out.disagreement, "links");
  hitl_consensus_result_clear(&out);
  hitl_queue_config_free(q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_waiting),           cmocka_unit_test(test_first),
      cmocka_unit_test(test_majority),          cmocka_unit_test(test_majority_ties),
      cmocka_unit_test(test_equality),          cmocka_unit_test(test_unanimous),
      cmocka_unit_test(test_several_questions), cmocka_unit_test(test_method_and_odd_input),
      cmocka_unit_test(test_boxes),             cmocka_unit_test(test_transcriptions),
      cmocka_unit_test(test_relations),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
