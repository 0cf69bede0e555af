/* SPDX-License-Identifier: MIT */
/* The live runs a server answers heartbeats from (api/run_cache.c): copies in and out, forgetting,
 * reads older than a committed change never kept, heartbeat times only forward, live runs only,
 * and the memory bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/run_cache.h"
#include "util/xmalloc.h"

/* A run with id run_<n> (padded like a real id), running, with strings of its own. */
static hitl_run make_run(int n) {
  hitl_run r = {0};
  snprintf(r.id, sizeof r.id, "run_%022d", n);
  r.seq = n;
  r.agent = hitl_xstrdup("clerk");
  r.goal = hitl_xstrdup("file the forms");
  r.owner = hitl_xstrdup("agent-1");
  r.state = HITL_RUN_RUNNING;
  r.heartbeat_seconds = 60;
  r.last_heartbeat_at = r.updated_at = 1000;
  r.heartbeat_due_at = 61000;
  r.steps = 3;
  return r;
}

static void test_copies_in_and_out(void **state) {
  (void)state;
  hitl_run_cache *c = hitl__run_cache_new(1 << 20);
  hitl_run r = make_run(1), got = {0};
  assert_false(hitl__run_cache_get(c, r.id, &got));
  hitl__run_cache_put(c, &r, hitl__run_cache_version(c, r.id));
  hitl_run_clear(&r); /* The cache kept copies of the strings. */
  r = make_run(1);
  assert_true(hitl__run_cache_get(c, r.id, &got));
  assert_int_equal(got.seq, 1);
  assert_int_equal(got.steps, 3);
  assert_string_equal(got.goal, "file the forms");
  assert_ptr_not_equal(got.goal, r.goal);
  hitl_run_clear(&got);
  assert_int_equal(hitl__run_cache_count(c), 1);
  hitl__run_cache_forget(c, r.id);
  assert_false(hitl__run_cache_get(c, r.id, &got));
  assert_int_equal(hitl__run_cache_count(c), 0);
  hitl_run_clear(&r);
  hitl__run_cache_free(c);
}

/* A read that began before a change was committed (its version taken before the forget) is not
 * kept: it may show the run as it was. */
static void test_read_older_than_a_change_is_not_kept(void **state) {
  (void)state;
  hitl_run_cache *c = hitl__run_cache_new(1 << 20);
  hitl_run r = make_run(2), got = {0};
  uint64_t v = hitl__run_cache_version(c, r.id);
  hitl__run_cache_forget(c, r.id); /* A change committed while the read ran. */
  hitl__run_cache_put(c, &r, v);
  assert_false(hitl__run_cache_get(c, r.id, &got));
  hitl__run_cache_put(c, &r, hitl__run_cache_version(c, r.id));
  assert_true(hitl__run_cache_get(c, r.id, &got));
  hitl_run_clear(&got);
  hitl_run_clear(&r);
  hitl__run_cache_free(c);
}

static void test_touch_only_forward(void **state) {
  (void)state;
  hitl_run_cache *c = hitl__run_cache_new(1 << 20);
  hitl_run r = make_run(3), got = {0};
  hitl__run_cache_put(c, &r, hitl__run_cache_version(c, r.id));
  hitl__run_cache_touch(c, r.id, 5000, 65000);
  hitl__run_cache_touch(c, r.id, 4000, 64000); /* An older heartbeat stored later. */
  assert_true(hitl__run_cache_get(c, r.id, &got));
  assert_int_equal(got.last_heartbeat_at, 5000);
  assert_int_equal(got.updated_at, 5000);
  assert_int_equal(got.heartbeat_due_at, 65000);
  hitl_run_clear(&got);
  hitl__run_cache_touch(c, "run_unknown", 9000, 69000); /* Not held: nothing happens. */
  assert_int_equal(hitl__run_cache_count(c), 1);
  hitl_run_clear(&r);
  hitl__run_cache_free(c);
}

/* Only running and paused runs are kept: a heartbeat for any other takes the transaction. */
static void test_live_runs_only(void **state) {
  (void)state;
  hitl_run_cache *c = hitl__run_cache_new(1 << 20);
  const hitl_run_state states[] = {HITL_RUN_RUNNING, HITL_RUN_PAUSED, HITL_RUN_STOPPED,
                                   HITL_RUN_FINISHED, HITL_RUN_LOST};
  for (int i = 0; i < 5; i++) {
    hitl_run r = make_run(10 + i);
    r.state = states[i];
    hitl__run_cache_put(c, &r, hitl__run_cache_version(c, r.id));
    hitl_run got = {0};
    assert_int_equal(hitl__run_cache_get(c, r.id, &got), i < 2);
    hitl_run_clear(&got);
    hitl_run_clear(&r);
  }
  hitl__run_cache_free(c);
}

/* Many runs: the table grows and finds each; past the memory bound nothing more is kept. */
static void test_many_runs_and_the_bound(void **state) {
  (void)state;
  hitl_run_cache *c = hitl__run_cache_new(2000 * 256);
  int kept = 0;
  for (int i = 0; i < 5000; i++) {
    hitl_run r = make_run(100 + i);
    hitl__run_cache_put(c, &r, hitl__run_cache_version(c, r.id));
    hitl_run got = {0};
    if (hitl__run_cache_get(c, r.id, &got)) {
      kept++;
      assert_int_equal(got.seq, 100 + i);
    }
    hitl_run_clear(&got);
    hitl_run_clear(&r);
  }
  assert_int_equal(hitl__run_cache_count(c), (size_t)kept);
  assert_true(kept > 1000 && kept < 5000);
  for (int i = 0; i < kept; i++) { /* Each kept one is still found after the table grew. */
    hitl_run r = make_run(100 + i), got = {0};
    assert_true(hitl__run_cache_get(c, r.id, &got));
    hitl_run_clear(&got);
    hitl_run_clear(&r);
  }
  hitl__run_cache_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_copies_in_and_out),
      cmocka_unit_test(test_read_older_than_a_change_is_not_kept),
      cmocka_unit_test(test_touch_only_forward),
      cmocka_unit_test(test_live_runs_only),
      cmocka_unit_test(test_many_runs_and_the_bound),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
