/* SPDX-License-Identifier: MIT */
/* The session table: bounds per token and in all, look-up by index, revocation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/auth.h"
#include "api/session.h"
#include "util/id.h"
#include "util/xmalloc.h"

typedef char sid_buf[HITL_SESSION_SECRET_LEN];

/* Opens a session for a token named name (role validator); copies its cookie value to sid. */
static void open_one(hitl_sessions *s, const char *name, char *sid) {
  hitl_principal who;
  hitl__principal_set(&who, name, "validator");
  char csrf[HITL_SESSION_SECRET_LEN];
  assert_int_equal(hitl__session_create(s, &who, hitl__sessions_generation(s), sid, csrf), 0);
}

static bool alive(hitl_sessions *s, const char *sid, const char *name) {
  hitl_principal who;
  char csrf[HITL_SESSION_SECRET_LEN];
  if (hitl__session_find(s, sid, &who, csrf) != 0) return false;
  assert_string_equal(who.name, name);
  assert_string_equal(who.roles[0], "validator");
  return true;
}

static void test_per_token_bound_ends_oldest(void **state) {
  (void)state;
  hitl_sessions *s = hitl__sessions_new();
  sid_buf sids[HITL_SESSIONS_PER_TOKEN + 5], other;
  open_one(s, "bob", other);
  for (size_t i = 0; i < HITL_SESSIONS_PER_TOKEN + 5; i++) open_one(s, "alice", sids[i]);
  for (size_t i = 0; i < 5; i++) assert_false(alive(s, sids[i], "alice"));
  for (size_t i = 5; i < HITL_SESSIONS_PER_TOKEN + 5; i++) assert_true(alive(s, sids[i], "alice"));
  assert_true(alive(s, other, "bob")); /* Another token's session is not counted. */
  assert_int_equal(hitl__sessions_count(s), HITL_SESSIONS_PER_TOKEN + 1);
  hitl__sessions_free(s);
}

static void test_total_bound_ends_oldest(void **state) {
  (void)state;
  hitl_sessions *s = hitl__sessions_new_bounded(3, 50);
  sid_buf sids[60];
  for (size_t i = 0; i < 60; i++) {
    char name[16];
    snprintf(name, sizeof name, "t%zu", i);
    open_one(s, name, sids[i]);
  }
  assert_int_equal(hitl__sessions_count(s), 50);
  for (size_t i = 0; i < 60; i++) {
    char name[16];
    snprintf(name, sizeof name, "t%zu", i);
    assert_int_equal(alive(s, sids[i], name), i >= 10);
  }
  hitl__sessions_free(s);
}

/* 10,000 sessions: each look-up compares a few stored sessions, not thousands. */
static void test_lookup_by_index(void **state) {
  (void)state;
  hitl_sessions *s = hitl__sessions_new();
  size_t n = HITL_SESSIONS_MAX;
  sid_buf *sids = hitl_xcalloc(n, sizeof *sids);
  for (size_t i = 0; i < n; i++) {
    char name[16];
    snprintf(name, sizeof name, "u%zu", i % 1000);
    open_one(s, name, sids[i]);
  }
  assert_int_equal(hitl__sessions_count(s), n);
  uint64_t before = hitl__sessions_probes(s);
  for (size_t i = 0; i < n; i++) {
    char name[16];
    snprintf(name, sizeof name, "u%zu", i % 1000);
    assert_true(alive(s, sids[i], name));
  }
  assert_false(alive(s, "hitl_not-a-session", ""));
  uint64_t probes = hitl__sessions_probes(s) - before;
  /* A list would compare n/2 on average (50 million in all); the table about 1.25 each. */
  assert_true(probes < 3 * (n + 1));
  free(sids);
  hitl__sessions_free(s);
}

static void test_revocation_ends_sessions_and_stale_sign_in(void **state) {
  (void)state;
  hitl_sessions *s = hitl__sessions_new();
  sid_buf a1, a2, b;
  open_one(s, "alice", a1);
  open_one(s, "alice", a2);
  open_one(s, "bob", b);
  /* A sign-in reads the generation, checks the token, and meanwhile the token is revoked. */
  uint64_t g = hitl__sessions_generation(s);
  hitl__sessions_end_for(s, "alice");
  hitl_principal who;
  hitl__principal_set(&who, "alice", "validator");
  char sid[HITL_SESSION_SECRET_LEN], csrf[HITL_SESSION_SECRET_LEN];
  assert_int_equal(hitl__session_create(s, &who, g, sid, csrf), HITL_ECONFLICT);
  assert_false(alive(s, a1, "alice"));
  assert_false(alive(s, a2, "alice"));
  assert_true(alive(s, b, "bob"));
  assert_int_equal(hitl__sessions_count(s), 1);
  /* Sign-out forgets one session. */
  hitl__session_delete(s, b);
  assert_false(alive(s, b, "bob"));
  hitl__session_delete(s, b); /* Unknown now: a no-op. */
  assert_int_equal(hitl__sessions_count(s), 0);
  hitl__sessions_free(s);
}

int main(void) {
  assert_int_equal(hitl_id_init(), 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_per_token_bound_ends_oldest),
      cmocka_unit_test(test_total_bound_ends_oldest),
      cmocka_unit_test(test_lookup_by_index),
      cmocka_unit_test(test_revocation_ends_sessions_and_stale_sign_in),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
