/* SPDX-License-Identifier: MIT */
/* Core's agent runs driven at chosen times: heartbeats and the lost-run sweep, the command rules
 * (who, in which state), acknowledgements, and what lands in the audit chain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/run_control.h"
#include "core_fixture.h"

#define T0 INT64_C(1800000000000) /* 2027-01-15, far from the wall clock. */
#define HB_S 30

static const char queue_config[] =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]}}";

static const char *const agent_roles[] = {"agent"};
static const hitl_actor agent = {.name = "agent-1", .roles = agent_roles, .n_roles = 1};
static const hitl_actor intruder = {.name = "agent-2", .roles = agent_roles, .n_roles = 1};
static const char *const orch_roles[] = {"orchestrator"};
static const hitl_actor ops = {.name = "ops", .roles = orch_roles, .n_roles = 1,
                               .orchestrator = true};

typedef struct fixture {
  core_bench b;
  char run[HITL_ID_LEN];
} fixture;

/* Begins a transaction of the bench at now. */
static hitl_txn begin_at(core_bench *b, int64_t now) {
  assert_int_equal(b->s->vt->begin(b->s), 0);
  return bench_txn(b, now);
}

/* Runs call in a transaction at now (through the txn x, declared by each test) and ends it as
 * the committer does; gives call's result. */
#define AT(f, now, call) (x = begin_at(&(f)->b, (now)), bench_end(&(f)->b, (call)))

/* A run registered by agent at T0. */
static int setup(void **state) {
  fixture *f = hitl_xcalloc(1, sizeof *f);
  hitl_txn x;
  bench_open(&f->b, queue_config);
  hitl_run r = {.agent = hitl_xstrdup("researcher"), .goal = hitl_xstrdup("g"),
                .heartbeat_seconds = HB_S};
  hitl_err err = {0};
  assert_int_equal(AT(f, T0, hitl_run_create(&x, &r, &agent, &err)), 0);
  assert_int_equal(r.state, HITL_RUN_RUNNING);
  assert_string_equal(r.owner, "agent-1");
  assert_int_equal(r.heartbeat_due_at, T0 + HB_S * 1000);
  memcpy(f->run, r.id, HITL_ID_LEN);
  hitl_run_clear(&r);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  bench_close(&f->b);
  free(f);
  return 0;
}

static void stored(fixture *f, hitl_run *out) {
  assert_int_equal(f->b.s->vt->run_get(f->b.s, f->run, out), 0);
}

static int64_t last_event(fixture *f, char *type, size_t n) {
  int64_t seq = 0;
  uint8_t hash[HITL_HASH_LEN];
  assert_int_equal(f->b.s->vt->event_last(f->b.s, &seq, hash), 0);
  if (type) {
    hitl_event *e = NULL;
    size_t k = 0;
    assert_int_equal(f->b.s->vt->event_list(f->b.s, seq - 1, 1, &e, &k), 0);
    assert_int_equal(k, 1);
    snprintf(type, n, "%s", e[0].type);
    hitl_event_clear(&e[0]);
    free(e);
  }
  return seq;
}

static void test_heartbeat_moves_due_without_event(void **state) {
  fixture *f = *state;
  hitl_txn x;
  hitl_err err = {0};
  hitl_run r = {0};
  int64_t before = last_event(f, NULL, 0);
  assert_int_equal(AT(f, T0 + 10000, hitl_run_heartbeat(&x, f->run, &agent, false, &r, &err)), 0);
  assert_int_equal(r.heartbeat_due_at, T0 + 10000 + HB_S * 1000);
  assert_int_equal(r.last_heartbeat_at, T0 + 10000);
  hitl_run_clear(&r);
  assert_int_equal(last_event(f, NULL, 0), before); /* A heartbeat is no audit event. */
  /* Only the agent that registered it reports for it. */
  assert_int_equal(AT(f, T0 + 11000, hitl_run_heartbeat(&x, f->run, &intruder, false, &r, &err)),
                   HITL_EFORBIDDEN);
  assert_int_equal(AT(f, T0 + 11000, hitl_run_heartbeat(&x, "run_none", &agent, false, &r, &err)),
                   HITL_ENOT_FOUND);
  assert_non_null(strstr(err.message, "POST /v1/runs"));
}

static void test_lost_at_deadline_and_found(void **state) {
  fixture *f = *state;
  hitl_txn x;
  hitl_err err = {0};
  size_t n = 99;
  int64_t due = T0 + HB_S * 1000;
  assert_int_equal(AT(f, due - 1, hitl_run_sweep(&x, 100, &n)), 0);
  assert_int_equal(n, 0);
  /* Paused (by people) when it goes silent: it comes back paused. */
  hitl_run r = {0};
  hitl_run_command c = {0};
  assert_int_equal(
      AT(f, T0 + 1, hitl_run_command_give(&x, f->run, &ops, HITL_RUN_PAUSE, NULL, &c, &r, &err)),
      0);
  hitl_run_clear(&r);
  hitl_run_command_clear(&c);
  /* Not yet at its due time: a heartbeat another node acknowledged just before it may still be
   * on its way to the store (HITL_RUN_LOST_GRACE_MS). */
  assert_int_equal(AT(f, due + HITL_RUN_LOST_GRACE_MS - 1, hitl_run_sweep(&x, 100, &n)), 0);
  assert_int_equal(n, 0);
  assert_int_equal(AT(f, due + HITL_RUN_LOST_GRACE_MS, hitl_run_sweep(&x, 100, &n)), 0);
  assert_int_equal(n, 1);
  char type[32];
  last_event(f, type, sizeof type);
  assert_string_equal(type, "run.lost");
  stored(f, &r);
  assert_int_equal(r.state, HITL_RUN_LOST);
  assert_int_equal(r.lost_from, HITL_RUN_PAUSED);
  hitl_run_clear(&r);
  /* Lost once: the next sweep finds nothing (it is out of the due index). */
  assert_int_equal(AT(f, due + 60000, hitl_run_sweep(&x, 100, &n)), 0);
  assert_int_equal(n, 0);
  /* Pause and resume do not fit a lost run; a heartbeat brings it back as it was. */
  assert_int_equal(AT(f, due + 1, hitl_run_command_give(&x, f->run, &ops, HITL_RUN_RESUME, NULL,
                                                        &c, &r, &err)),
                   HITL_ECONFLICT);
  assert_int_equal(AT(f, due + 2, hitl_run_heartbeat(&x, f->run, &agent, false, &r, &err)), 0);
  assert_int_equal(r.state, HITL_RUN_PAUSED);
  hitl_run_clear(&r);
  last_event(f, type, sizeof type);
  assert_string_equal(type, "run.found");
}

/* The heartbeat without a transaction: answered from a read, stored later by a touch, never
 * undoing what happened to the run meanwhile. */
static void test_quick_heartbeat_and_touch(void **state) {
  fixture *f = *state;
  hitl_txn x;
  hitl_err err = {0};
  hitl_store *s = f->b.s;
  int64_t due = T0 + HB_S * 1000, before = last_event(f, NULL, 0);
  hitl_run r;
  memset(&r, 0xab, sizeof r);
  assert_int_equal(hitl_run_heartbeat_quick(s, f->run, &agent, T0 + 5000, &r, &err), 0);
  assert_int_equal(r.last_heartbeat_at, T0 + 5000);
  assert_int_equal(r.updated_at, T0 + 5000);
  assert_int_equal(r.heartbeat_due_at, T0 + 5000 + HB_S * 1000);
  assert_int_equal(r.state, HITL_RUN_RUNNING);
  hitl_run_touch t = {.run_seq = r.seq, .at = r.last_heartbeat_at, .due_at = r.heartbeat_due_at};
  hitl_run_clear(&r);
  stored(f, &r); /* Nothing stored yet. */
  assert_int_equal(r.heartbeat_due_at, due);
  hitl_run_clear(&r);
  assert_int_equal(AT(f, T0 + 5100, hitl_run_touch_apply(&x, &t, 1)), 0);
  stored(f, &r);
  assert_int_equal(r.last_heartbeat_at, T0 + 5000);
  assert_int_equal(r.heartbeat_due_at, T0 + 5000 + HB_S * 1000);
  hitl_run_clear(&r);
  assert_int_equal(last_event(f, NULL, 0), before); /* No audit event. */
  /* An older touch arriving late moves nothing back. */
  hitl_run_touch old = {.run_seq = t.run_seq, .at = T0 + 1000, .due_at = T0 + 1000 + HB_S * 1000};
  assert_int_equal(AT(f, T0 + 5200, hitl_run_touch_apply(&x, &old, 1)), 0);
  stored(f, &r);
  assert_int_equal(r.heartbeat_due_at, T0 + 5000 + HB_S * 1000);
  hitl_run_clear(&r);
  /* At or past its due time the heartbeat needs a transaction (the sweeper may be marking it). */
  due = T0 + 5000 + HB_S * 1000;
  assert_int_equal(hitl_run_heartbeat_quick(s, f->run, &agent, due, &r, &err), HITL_ERETRY);
  /* Other agents, unknown runs: the same errors as the transaction path. */
  assert_int_equal(hitl_run_heartbeat_quick(s, f->run, &intruder, T0 + 6000, &r, &err),
                   HITL_EFORBIDDEN);
  assert_int_equal(hitl_run_heartbeat_quick(s, "run_none", &agent, T0 + 6000, &r, &err),
                   HITL_ENOT_FOUND);
  assert_non_null(strstr(err.message, "POST /v1/runs"));
  /* Marked lost meanwhile: a touch taken before leaves it lost, and so due nowhere. */
  size_t n = 0;
  assert_int_equal(AT(f, due + HITL_RUN_LOST_GRACE_MS, hitl_run_sweep(&x, 100, &n)), 0);
  assert_int_equal(n, 1);
  hitl_run_touch late = {.run_seq = t.run_seq, .at = due + 1, .due_at = due + 1 + HB_S * 1000};
  assert_int_equal(AT(f, due + HITL_RUN_LOST_GRACE_MS + 1, hitl_run_touch_apply(&x, &late, 1)), 0);
  stored(f, &r);
  assert_int_equal(r.state, HITL_RUN_LOST);
  assert_int_equal(r.heartbeat_due_at, due);
  hitl_run_clear(&r);
  /* A lost run comes back only through a transaction ("run.found"). */
  assert_int_equal(hitl_run_heartbeat_quick(s, f->run, &agent, due + 5000, &r, &err), HITL_ERETRY);
  assert_int_equal(AT(f, due + 5000, hitl_run_heartbeat(&x, f->run, &agent, true, &r, &err)), 0);
  hitl_run_clear(&r);
  /* A finished run takes no more reports. */
  assert_int_equal(hitl_run_heartbeat_quick(s, f->run, &agent, due + 6000, &r, &err),
                   HITL_ECONFLICT);
}

static void test_command_rules(void **state) {
  fixture *f = *state;
  hitl_txn x;
  hitl_err err = {0};
  hitl_run r = {0};
  hitl_run_command c = {0};
#define GIVE(who, type, goal) \
  AT(f, T0 + 100, hitl_run_command_give(&x, f->run, (who), (type), (goal), &c, &r, &err))
  assert_int_equal(GIVE(&agent, HITL_RUN_STOP, NULL), HITL_EFORBIDDEN);
  assert_int_equal(GIVE(&ops, HITL_RUN_RESUME, NULL), HITL_ECONFLICT);
  assert_int_equal(GIVE(&ops, HITL_RUN_GOAL, NULL), HITL_EVALIDATION);
  assert_int_equal(GIVE(&ops, HITL_RUN_GOAL, "write the summary"), 0);
  assert_int_equal(c.seq, 1);
  assert_string_equal(r.goal, "write the summary");
  hitl_run_clear(&r);
  hitl_run_command_clear(&c);
  assert_int_equal(GIVE(&ops, HITL_RUN_PAUSE, NULL), 0);
  assert_int_equal(r.state, HITL_RUN_PAUSED);
  hitl_run_clear(&r);
  hitl_run_command_clear(&c);
  assert_int_equal(GIVE(&ops, HITL_RUN_PAUSE, NULL), HITL_ECONFLICT);
  assert_int_equal(GIVE(&ops, HITL_RUN_STOP, NULL), 0);
  assert_int_equal(c.seq, 3);
  assert_int_equal(r.state, HITL_RUN_STOPPED);
  assert_int_equal(r.heartbeat_due_at, 0);
  hitl_run_clear(&r);
  hitl_run_command_clear(&c);
  /* Over: no command, no report; its commands can still be acknowledged. */
  assert_int_equal(GIVE(&ops, HITL_RUN_GOAL, "again"), HITL_ECONFLICT);
  assert_non_null(strstr(err.message, "over"));
  assert_int_equal(AT(f, T0 + 200, hitl_run_heartbeat(&x, f->run, &agent, false, &r, &err)),
                   HITL_ECONFLICT);
  assert_int_equal(AT(f, T0 + 200, hitl_run_add_step(&x, f->run, &agent, "t", NULL,
                                                     &(hitl_run_step){0}, &r, &err)),
                   HITL_ECONFLICT);

  /* Pending commands, then acknowledgements: once is an event, twice changes nothing. */
  hitl_run st = {0};
  hitl_run_command *pending = NULL;
  size_t n = 0;
  assert_int_equal(hitl_run_status(f->b.s, f->run, &agent, &st, &pending, &n, &err), 0);
  assert_int_equal(n, 3);
  assert_int_equal(pending[2].type, HITL_RUN_STOP);
  for (size_t i = 0; i < n; i++) hitl_run_command_clear(&pending[i]);
  free(pending);
  hitl_run_clear(&st);
  assert_int_equal(hitl_run_status(f->b.s, f->run, &intruder, &st, &pending, &n, &err),
                   HITL_EFORBIDDEN);
  bool again = true;
  assert_int_equal(
      AT(f, T0 + 300, hitl_run_command_ack(&x, f->run, 3, &agent, &c, &again, &err)), 0);
  assert_false(again);
  assert_int_equal(c.acked_at, T0 + 300);
  hitl_run_command_clear(&c);
  char type[32];
  int64_t seq = last_event(f, type, sizeof type);
  assert_string_equal(type, "run.command_acked");
  assert_int_equal(
      AT(f, T0 + 400, hitl_run_command_ack(&x, f->run, 3, &agent, &c, &again, &err)), 0);
  assert_true(again);
  assert_int_equal(c.acked_at, T0 + 300);
  hitl_run_command_clear(&c);
  assert_int_equal(last_event(f, NULL, 0), seq);
  assert_int_equal(
      AT(f, T0 + 400, hitl_run_command_ack(&x, f->run, 4, &agent, &c, &again, &err)),
      HITL_ENOT_FOUND);
  assert_int_equal(
      AT(f, T0 + 400, hitl_run_command_ack(&x, f->run, 1, &intruder, &c, &again, &err)),
      HITL_EFORBIDDEN);
  assert_int_equal(hitl_run_status(f->b.s, f->run, &agent, &st, &pending, &n, &err), 0);
  assert_int_equal(n, 2);
  assert_int_equal(st.acked, 1);
  for (size_t i = 0; i < n; i++) hitl_run_command_clear(&pending[i]);
  free(pending);
  hitl_run_clear(&st);
#undef GIVE
}

static void test_steps_and_finish(void **state) {
  fixture *f = *state;
  hitl_txn x;
  hitl_err err = {0};
  hitl_run r = {0};
  hitl_run_step step = {0};
  assert_int_equal(AT(f, T0 + 5000, hitl_run_add_step(&x, f->run, &agent, "searched", "{\"n\":3}",
                                                      &step, &r, &err)),
                   0);
  assert_int_equal(step.n, 1);
  assert_int_equal(r.steps, 1);
  assert_int_equal(r.heartbeat_due_at, T0 + 5000 + HB_S * 1000); /* A step is a sign of life. */
  hitl_run_clear(&r);
  hitl_run_step_clear(&step);
  assert_int_equal(AT(f, T0 + 6000, hitl_run_heartbeat(&x, f->run, &agent, true, &r, &err)), 0);
  assert_int_equal(r.state, HITL_RUN_FINISHED);
  assert_int_equal(r.ended_at, T0 + 6000);
  hitl_run_clear(&r);
  char type[32];
  last_event(f, type, sizeof type);
  assert_string_equal(type, "run.finished");
  size_t n = 9;
  assert_int_equal(AT(f, T0 + 999999, hitl_run_sweep(&x, 100, &n)), 0);
  assert_int_equal(n, 0); /* A finished run is never lost. */
}

static void test_waiting_is_shown_not_stored(void **state) {
  (void)state;
  hitl_run r = {.state = HITL_RUN_RUNNING, .open_tasks = 2};
  assert_int_equal(hitl_run_shown_state(&r), HITL_RUN_WAITING);
  r.state = HITL_RUN_PAUSED;
  assert_int_equal(hitl_run_shown_state(&r), HITL_RUN_PAUSED);
  r.state = HITL_RUN_RUNNING;
  r.open_tasks = 0;
  assert_int_equal(hitl_run_shown_state(&r), HITL_RUN_RUNNING);
  assert_string_equal(hitl_run_state_name(HITL_RUN_WAITING), "waiting");
  assert_int_equal(hitl_run_state_parse("lost"), HITL_RUN_LOST);
  assert_int_equal(hitl_run_state_parse("nope"), -1);
  assert_int_equal(hitl_run_command_parse("goal"), HITL_RUN_GOAL);
  assert_int_equal(hitl_run_command_parse("Goal"), -1);
  assert_null(hitl_run_command_name((hitl_run_command_type)9));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  if (hitl_id_init() != 0) return 1;
  const struct CMUnitTest tests[] = {
      T(test_heartbeat_moves_due_without_event),
      T(test_lost_at_deadline_and_found),
      T(test_quick_heartbeat_and_touch),
      T(test_command_rules),
      T(test_steps_and_finish),
      cmocka_unit_test(test_waiting_is_shown_not_stored),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
