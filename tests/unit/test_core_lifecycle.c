/* SPDX-License-Identifier: MIT */
/* Core's task lifecycle driven at chosen times: a lease runs out at claim + lease_seconds whether
 * or not the sweeper ran, for respond, renew and release alike. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core_fixture.h"

#define LEASE_S 60
#define LEASE_MS (LEASE_S * 1000)
#define T0 INT64_C(1800000000000) /* Claim time: 2027-01-15, far from the wall clock. */

static const char queue_config[] =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
    "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"],\"lease_seconds\":60}}";

static const char *const validator_roles[] = {"validator"};
static const hitl_actor rev = {.name = "rev", .roles = validator_roles, .n_roles = 1};
static const hitl_actor other = {.name = "other", .roles = validator_roles, .n_roles = 1};

typedef struct fixture {
  core_bench b;
  char task[HITL_ID_LEN];
  char lease[HITL_ID_LEN];
} fixture;

/* A queue with one task, submitted before T0 and claimed by rev at T0. */
static int setup(void **state) {
  fixture *f = hitl_xcalloc(1, sizeof *f);
  bench_open(&f->b, queue_config);
  hitl_task t, existing = {0}, claimed = {0};
  bench_task(&f->b, &t, T0 - 5000);
  bool replayed = false;
  hitl_err err = {0};
  hitl_txn x = bench_txn(&f->b, T0 - 5000);
  assert_int_equal(f->b.s->vt->begin(f->b.s), 0);
  assert_int_equal(bench_end(&f->b, hitl_task_submit(&x, &t, "agent", &existing, &replayed, &err)),
                   0);
  x = bench_txn(&f->b, T0);
  assert_int_equal(f->b.s->vt->begin(f->b.s), 0);
  assert_int_equal(
      bench_end(&f->b, hitl_task_claim(&x, f->b.q, f->b.queue_id, &rev, &claimed, &err)), 0);
  assert_string_equal(claimed.id, t.id);
  assert_int_equal(claimed.state, HITL_TASK_LEASED);
  assert_int_equal(claimed.lease_expires_at, T0 + LEASE_MS);
  memcpy(f->task, t.id, HITL_ID_LEN);
  memcpy(f->lease, claimed.lease_id, HITL_ID_LEN);
  hitl_task_clear(&t);
  hitl_task_clear(&claimed);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  bench_close(&f->b);
  free(f);
  return 0;
}

/* Reads the task as stored. */
static void stored(fixture *f, hitl_task *out) {
  assert_int_equal(f->b.s->vt->task_get(f->b.s, f->task, out), 0);
}

static size_t responses(fixture *f) {
  hitl_task t;
  stored(f, &t);
  hitl_response *rs = NULL;
  size_t n = 0;
  assert_int_equal(f->b.s->vt->response_list(f->b.s, t.seq, &rs, &n), 0);
  for (size_t i = 0; i < n; i++) hitl_response_clear(&rs[i]);
  free(rs);
  hitl_task_clear(&t);
  return n;
}

/* Answers approve as actor a under lease at now, in its own transaction; returns the result and
 * leaves the answer's error in *err. */
static int respond_at(fixture *f, const hitl_actor *a, const char *lease, int64_t now,
                      hitl_err *err) {
  hitl_response r = {.question = hitl_xstrdup("verdict"), .kind = hitl_xstrdup("approve")};
  hitl_task out = {0};
  hitl_txn x = bench_txn(&f->b, now);
  assert_int_equal(f->b.s->vt->begin(f->b.s), 0);
  memset(err, 0, sizeof *err);
  int rc = bench_end(&f->b, hitl_task_respond(&x, f->b.q, f->task, lease, a, &r, 1, &out, err));
  if (rc == 0) {
    assert_int_equal(out.state, HITL_TASK_DECIDED);
    assert_string_equal(out.decided_by, HITL_BY_HUMAN);
    assert_int_equal(out.decided_at, now);
  }
  hitl_response_clear(&r);
  hitl_task_clear(&out);
  return rc;
}

static int renew_at(fixture *f, int64_t now, hitl_err *err) {
  hitl_task out = {0};
  hitl_txn x = bench_txn(&f->b, now);
  assert_int_equal(f->b.s->vt->begin(f->b.s), 0);
  memset(err, 0, sizeof *err);
  int rc = bench_end(&f->b, hitl_task_renew(&x, f->b.q, f->task, f->lease, &rev, &out, err));
  if (rc == 0) assert_int_equal(out.lease_expires_at, now + LEASE_MS);
  hitl_task_clear(&out);
  return rc;
}

static int release_at(fixture *f, int64_t now, hitl_err *err) {
  hitl_task out = {0};
  hitl_txn x = bench_txn(&f->b, now);
  assert_int_equal(f->b.s->vt->begin(f->b.s), 0);
  memset(err, 0, sizeof *err);
  int rc = bench_end(&f->b, hitl_task_release(&x, f->task, f->lease, &rev, &out, err));
  if (rc == 0) assert_int_equal(out.state, HITL_TASK_PENDING);
  hitl_task_clear(&out);
  return rc;
}

/* The lost-lease error: a conflict on lease_id that says the lease expired. */
static void assert_lease_expired(int rc, const hitl_err *err) {
  assert_int_equal(rc, HITL_ECONFLICT);
  assert_string_equal(err->field, "lease_id");
  if (strstr(err->message, "the lease has expired") == NULL)
    fail_msg("expected the lease-expired error, got: %s", err->message);
}

/* The task is still leased to rev as claimed at T0: the failed call changed nothing. */
static void assert_still_claimed(fixture *f) {
  hitl_task t;
  stored(f, &t);
  assert_int_equal(t.state, HITL_TASK_LEASED);
  assert_string_equal(t.lease_id, f->lease);
  assert_string_equal(t.lease_owner, "rev");
  assert_int_equal(t.lease_expires_at, T0 + LEASE_MS);
  assert_int_equal(t.updated_at, T0);
  hitl_task_clear(&t);
  assert_int_equal(responses(f), 0);
}

/* ---- respond ---- */

static void test_respond_just_in_time_decides(void **state) {
  fixture *f = *state;
  hitl_err err;
  assert_int_equal(respond_at(f, &rev, f->lease, T0 + LEASE_MS - 1, &err), 0);
  assert_int_equal(responses(f), 1);
}

static void test_respond_after_the_lease_is_lost_without_a_sweep(void **state) {
  fixture *f = *state;
  hitl_err err;
  /* No sweeper ran: the task is still stored as leased, yet the lease is over. */
  assert_lease_expired(respond_at(f, &rev, f->lease, T0 + LEASE_MS + 1, &err), &err);
  assert_still_claimed(f);
  /* The expiry instant itself is already too late. */
  assert_lease_expired(respond_at(f, &rev, f->lease, T0 + LEASE_MS, &err), &err);
  assert_lease_expired(respond_at(f, &rev, f->lease, T0 + 10 * LEASE_MS, &err), &err);
  assert_still_claimed(f);
}

static void test_respond_needs_the_current_lease_of_its_owner(void **state) {
  fixture *f = *state;
  hitl_err err;
  assert_int_equal(respond_at(f, &other, f->lease, T0 + 1, &err), HITL_ECONFLICT);
  assert_non_null(strstr(err.message, "another reviewer"));
  assert_int_equal(respond_at(f, &rev, "l_notthelease", T0 + 1, &err), HITL_ECONFLICT);
  assert_non_null(strstr(err.message, "not the task's current lease"));
  assert_still_claimed(f);
}

/* ---- renew ---- */

static void test_renew_in_time_extends_the_lease(void **state) {
  fixture *f = *state;
  hitl_err err;
  int64_t renewed = T0 + LEASE_MS - 1;
  assert_int_equal(renew_at(f, renewed, &err), 0);
  /* The old expiry has passed, the renewed one has not: the answer counts. */
  assert_int_equal(respond_at(f, &rev, f->lease, T0 + LEASE_MS + 1, &err), 0);
  assert_int_equal(responses(f), 1);
}

static void test_renew_after_the_lease_is_lost(void **state) {
  fixture *f = *state;
  hitl_err err;
  assert_lease_expired(renew_at(f, T0 + LEASE_MS + 1, &err), &err);
  assert_lease_expired(renew_at(f, T0 + LEASE_MS, &err), &err);
  assert_still_claimed(f);
}

static void test_renewed_lease_runs_out_too(void **state) {
  fixture *f = *state;
  hitl_err err;
  int64_t renewed = T0 + LEASE_MS / 2;
  assert_int_equal(renew_at(f, renewed, &err), 0);
  assert_lease_expired(respond_at(f, &rev, f->lease, renewed + LEASE_MS + 1, &err), &err);
  assert_int_equal(respond_at(f, &rev, f->lease, renewed + LEASE_MS - 1, &err), 0);
}

/* ---- release ---- */

static void test_release_in_time_gives_the_task_back(void **state) {
  fixture *f = *state;
  hitl_err err;
  assert_int_equal(release_at(f, T0 + LEASE_MS - 1, &err), 0);
  hitl_task t;
  stored(f, &t);
  assert_int_equal(t.state, HITL_TASK_PENDING);
  assert_string_equal(t.lease_id, "");
  assert_null(t.lease_owner);
  hitl_task_clear(&t);
  /* A released lease cannot answer. */
  assert_int_equal(respond_at(f, &rev, f->lease, T0 + LEASE_MS - 1, &err), HITL_ECONFLICT);
}

static void test_release_after_the_lease_is_lost(void **state) {
  fixture *f = *state;
  hitl_err err;
  assert_lease_expired(release_at(f, T0 + LEASE_MS + 1, &err), &err);
  assert_lease_expired(release_at(f, T0 + LEASE_MS, &err), &err);
  assert_still_claimed(f);
}

/* ---- the sweeper agrees with the check ---- */

static const hitl_queue_config *config_of(void *ctx, int64_t queue_id) {
  core_bench *b = ctx;
  return queue_id == b->queue_id ? b->q : NULL;
}

static size_t sweep_at(fixture *f, int64_t now) {
  size_t n = 0;
  hitl_txn x = bench_txn(&f->b, now);
  assert_int_equal(f->b.s->vt->begin(f->b.s), 0);
  assert_int_equal(bench_end(&f->b, hitl_task_sweep(&x, config_of, &f->b, 100, &n)), 0);
  return n;
}

static void test_sweep_returns_the_task_at_the_expiry(void **state) {
  fixture *f = *state;
  assert_int_equal(sweep_at(f, T0 + LEASE_MS - 1), 0);
  assert_still_claimed(f);
  assert_int_equal(sweep_at(f, T0 + LEASE_MS), 1);
  hitl_task t;
  stored(f, &t);
  assert_int_equal(t.state, HITL_TASK_PENDING);
  assert_int_equal(t.updated_at, T0 + LEASE_MS);
  hitl_task_clear(&t);
  hitl_err err;
  assert_int_equal(respond_at(f, &rev, f->lease, T0 + LEASE_MS + 1, &err), HITL_ECONFLICT);
  assert_non_null(strstr(err.message, "not leased"));
}

/* Every event the lifecycle wrote above links into an intact chain. */
static void test_chain_intact_after_lifecycle(void **state) {
  fixture *f = *state;
  hitl_err err;
  assert_int_equal(renew_at(f, T0 + 1000, &err), 0);
  assert_lease_expired(respond_at(f, &rev, f->lease, T0 + 1000 + LEASE_MS, &err), &err);
  assert_int_equal(respond_at(f, &rev, f->lease, T0 + 2000, &err), 0);
  hitl_chain_report rep;
  assert_int_equal(hitl_chain_verify(f->b.s, &rep), 0);
  assert_int_equal(rep.broken_seq, 0);
  assert_int_equal(rep.events, 4); /* submitted, leased, lease_renewed, decided. */
}

/* Who may cancel is core's rule, checked on the task the transaction reads: a reviewer or
 * another agent may not (every protocol gets the same answer), an orchestrator may. */
static void test_cancel_rule(void **state) {
  fixture *f = *state;
  static const char *const agent_roles[] = {"agent"};
  static const char *const orch_roles[] = {"orchestrator"};
  const hitl_actor bot = {.name = "bot", .roles = agent_roles, .n_roles = 1};
  const hitl_actor boss = {.name = "boss", .roles = orch_roles, .n_roles = 1, .orchestrator = true};
  const hitl_actor *refused[] = {&rev, &bot};
  for (size_t i = 0; i < 2; i++) {
    hitl_task out = {0};
    hitl_err err = {0};
    hitl_txn x = bench_txn(&f->b, T0 + 10);
    assert_int_equal(f->b.s->vt->begin(f->b.s), 0);
    assert_int_equal(bench_end(&f->b, hitl_task_cancel(&x, f->task, refused[i], &out, &err)),
                     HITL_EFORBIDDEN);
    hitl_task_clear(&out);
  }
  hitl_task t;
  stored(f, &t);
  assert_int_equal(t.state, HITL_TASK_LEASED);
  hitl_task_clear(&t);
  hitl_task out = {0};
  hitl_err err = {0};
  hitl_txn x = bench_txn(&f->b, T0 + 20);
  assert_int_equal(f->b.s->vt->begin(f->b.s), 0);
  assert_int_equal(bench_end(&f->b, hitl_task_cancel(&x, f->task, &boss, &out, &err)), 0);
  assert_int_equal(out.state, HITL_TASK_CANCELLED);
  hitl_task_clear(&out);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  if (hitl_id_init() != 0) return 1;
  const struct CMUnitTest tests[] = {
      T(test_respond_just_in_time_decides),
      T(test_respond_after_the_lease_is_lost_without_a_sweep),
      T(test_respond_needs_the_current_lease_of_its_owner),
      T(test_renew_in_time_extends_the_lease),
      T(test_renew_after_the_lease_is_lost),
      T(test_renewed_lease_runs_out_too),
      T(test_release_in_time_gives_the_task_back),
      T(test_release_after_the_lease_is_lost),
      T(test_sweep_returns_the_task_at_the_expiry),
      T(test_chain_intact_after_lifecycle),
      T(test_cancel_rule),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
