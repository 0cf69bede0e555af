/* SPDX-License-Identifier: MIT */
/* Core's administrative writes: only orchestrators make them, each stores its row and event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/admin.h"
#include "core_fixture.h"

static const char *const validator_roles[] = {"validator"};
static const char *const orch_roles[] = {"orchestrator"};
static const hitl_actor rev = {.name = "rev", .roles = validator_roles, .n_roles = 1};
static const hitl_actor boss = {.name = "boss", .roles = orch_roles, .n_roles = 1,
                                .orchestrator = true};

/* Begins a transaction of the bench at now. */
static hitl_txn begin_at(core_bench *b, int64_t now) {
  assert_int_equal(b->s->vt->begin(b->s), 0);
  return bench_txn(b, now);
}

static void test_only_orchestrators(void **state) {
  (void)state;
  core_bench b;
  bench_open(&b, "{}");
  hitl_err err = {0};
  hitl_txn x;
  int64_t id = 0;
  bool created = false;
  x = begin_at(&b, 2000);
  assert_int_equal(bench_end(&b, hitl_queue_store(&x, "q2", "{}", "{}", &rev, &id, &created, &err)),
                   HITL_EFORBIDDEN);
  x = begin_at(&b, 2000);
  assert_int_equal(bench_end(&b, hitl_token_create(&x, "t1", "secret", "validator", &rev, &err)),
                   HITL_EFORBIDDEN);
  x = begin_at(&b, 2000);
  assert_int_equal(bench_end(&b, hitl_token_revoke(&x, "t1", &rev, &err)), HITL_EFORBIDDEN);
  int64_t seq = -1;
  uint8_t hash[HITL_HASH_LEN];
  assert_int_equal(b.s->vt->event_last(b.s, &seq, hash), 0);
  assert_int_equal(seq, 0); /* Nothing written. */

  x = begin_at(&b, 3000);
  assert_int_equal(
      bench_end(&b, hitl_queue_store(&x, "q2", "{}", "{}", &boss, &id, &created, &err)), 0);
  assert_true(created);
  x = begin_at(&b, 3000);
  assert_int_equal(
      bench_end(&b, hitl_token_create(&x, "t1", "secret", "validator,annotator", &boss, &err)), 0);
  x = begin_at(&b, 3000);
  assert_int_equal(bench_end(&b, hitl_token_create(&x, "t1", "other", "validator", &boss, &err)),
                   HITL_ECONFLICT);
  assert_string_equal(err.field, "name");
  x = begin_at(&b, 3000);
  assert_int_equal(bench_end(&b, hitl_token_revoke(&x, "t1", &boss, &err)), 0);
  x = begin_at(&b, 3000);
  assert_int_equal(bench_end(&b, hitl_token_revoke(&x, "nobody", &boss, &err)), HITL_ENOT_FOUND);

  hitl_event *evs = NULL;
  size_t n = 0;
  assert_int_equal(b.s->vt->event_list(b.s, 0, 10, &evs, &n), 0);
  assert_int_equal(n, 3);
  assert_string_equal(evs[0].type, "queue.created");
  assert_string_equal(evs[0].actor, "boss");
  assert_string_equal(evs[1].type, "token.created");
  assert_string_equal(evs[1].data, "{\"name\":\"t1\",\"roles\":[\"validator\",\"annotator\"]}");
  assert_string_equal(evs[2].type, "token.revoked");
  for (size_t i = 0; i < n; i++) hitl_event_clear(&evs[i]);
  free(evs);
  uint8_t h[HITL_HASH_LEN];
  hitl_hash("secret", 6, h);
  hitl_token_row row;
  assert_int_equal(b.s->vt->token_find(b.s, h, &row), 0);
  assert_true(row.revoked);
  hitl_token_row_clear(&row);
  bench_close(&b);
}

int main(void) {
  if (hitl_id_init() != 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_only_orchestrators),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
