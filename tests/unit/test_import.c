/* SPDX-License-Identifier: MIT */
/* Tests of imported tasks (core/import.c): answers brought along decide the task by the queue's
 * consensus, or send it to an arbiter; none route it; a run again after a rollback is the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core_fixture.h"

#define T0 1790000000000LL

static const char queue_config[] =
    "{\"schema\":{\"questions\":[{\"name\":\"category\",\"type\":\"label\",\"labels\":[\"spam\",\"ham\"]}]},"
    "\"assignment\":{\"overlap\":2,\"consensus\":\"majority\"}}";

static int setup(void **state) {
  core_bench *b = hitl_xcalloc(1, sizeof *b);
  bench_open(b, queue_config);
  *state = b;
  return 0;
}

static int teardown(void **state) {
  bench_close(*state);
  free(*state);
  return 0;
}

static hitl_response label(const char *reviewer, const char *value) {
  hitl_response r = {0};
  r.reviewer = hitl_xstrdup(reviewer);
  r.question = hitl_xstrdup("category");
  r.kind = hitl_xstrdup("label");
  r.value = hitl_xstrdup(value);
  return r;
}

/* Imports t with answers in one transaction (rolled back when rollback is set). */
static int import(core_bench *b, hitl_task *t, hitl_response *answers, size_t n, bool rollback) {
  hitl_err err = {0};
  hitl_txn x = bench_txn(b, T0);
  assert_int_equal(b->s->vt->begin(b->s), 0);
  int rc = hitl_task_import(&x, b->q, t, "admin", answers, n, &err);
  if (rollback) {
    b->s->vt->rollback(b->s);
    hitl_chain_rolled_back(&b->chain);
    return rc;
  }
  return bench_end(b, rc);
}

static size_t stored_responses(core_bench *b, int64_t seq) {
  hitl_response *rs = NULL;
  size_t n = 0;
  assert_int_equal(b->s->vt->response_list(b->s, seq, &rs, &n), 0);
  for (size_t i = 0; i < n; i++) hitl_response_clear(&rs[i]);
  free(rs);
  return n;
}

static void test_agreeing_annotators_decide(void **state) {
  core_bench *b = *state;
  hitl_task t, got = {0};
  bench_task(b, &t, T0);
  hitl_response a[] = {label("ann", "\"spam\""), label("bob", "\"spam\"")};
  /* A first run lost (rolled back), as when the committer retries: the second is the same. */
  assert_int_equal(import(b, &t, a, 2, true), 0);
  assert_int_equal(import(b, &t, a, 2, false), 0);
  assert_int_equal(b->s->vt->task_get(b->s, t.id, &got), 0);
  assert_int_equal(got.state, HITL_TASK_DECIDED);
  assert_string_equal(got.decided_by, "consensus");
  assert_non_null(strstr(got.decision, "\"category\":{\"kind\":\"label\",\"value\":\"spam\"}"));
  assert_non_null(strstr(got.decision, "\"reviewers\":[\"ann\",\"bob\"]"));
  assert_non_null(strstr(got.route, "\"action\":\"import\""));
  assert_int_equal(stored_responses(b, got.seq), 2);
  /* Each annotator's answers share a response id; two annotators, two ids. */
  assert_string_not_equal(a[0].id, a[1].id);
  hitl_task_clear(&got);
  hitl_task_clear(&t);
  for (size_t i = 0; i < 2; i++) hitl_response_clear(&a[i]);
}

static void test_disagreeing_annotators_go_to_an_arbiter(void **state) {
  core_bench *b = *state;
  hitl_task t, got = {0};
  bench_task(b, &t, T0);
  hitl_response a[] = {label("ann", "\"spam\""), label("bob", "\"ham\"")};
  assert_int_equal(import(b, &t, a, 2, false), 0);
  assert_int_equal(b->s->vt->task_get(b->s, t.id, &got), 0);
  assert_int_equal(got.state, HITL_TASK_PENDING);
  assert_int_equal(got.stage, 1);
  assert_string_equal(got.role, "arbiter");
  assert_null(got.decision);
  hitl_task_clear(&got);
  hitl_task_clear(&t);
  for (size_t i = 0; i < 2; i++) hitl_response_clear(&a[i]);
}

static void test_fewer_annotators_than_the_overlap_wait(void **state) {
  core_bench *b = *state;
  hitl_task t, got = {0};
  bench_task(b, &t, T0);
  hitl_response a[] = {label("ann", "\"spam\"")};
  assert_int_equal(import(b, &t, a, 1, false), 0);
  assert_int_equal(b->s->vt->task_get(b->s, t.id, &got), 0);
  assert_int_equal(got.state, HITL_TASK_PENDING);
  assert_int_equal(got.stage, 0);
  assert_int_equal(got.answers, 1);
  assert_int_equal(got.needed, 2);
  assert_null(got.decision);
  assert_int_equal(stored_responses(b, got.seq), 1);
  hitl_task_clear(&got);
  hitl_task_clear(&t);
  hitl_response_clear(&a[0]);
}

static void test_without_answers_it_is_routed(void **state) {
  core_bench *b = *state;
  hitl_task t, got = {0};
  bench_task(b, &t, T0);
  assert_int_equal(import(b, &t, NULL, 0, false), 0);
  assert_int_equal(b->s->vt->task_get(b->s, t.id, &got), 0);
  assert_int_equal(got.state, HITL_TASK_PENDING);
  assert_int_equal(got.stage, 0);
  assert_int_equal(got.needed, 2);
  assert_non_null(strstr(got.route, "\"action\":\"review\""));
  assert_int_equal(stored_responses(b, got.seq), 0);
  hitl_task_clear(&got);
  hitl_task_clear(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_agreeing_annotators_decide, setup, teardown),
      cmocka_unit_test_setup_teardown(test_disagreeing_annotators_go_to_an_arbiter, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fewer_annotators_than_the_overlap_wait, setup, teardown),
      cmocka_unit_test_setup_teardown(test_without_answers_it_is_routed, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
