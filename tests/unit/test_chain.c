/* SPDX-License-Identifier: MIT */
/* The event hash chain: every field of an event is covered by its hash (a change to any one of
 * them is found by verify, at that event), and the hash itself is pinned by a known answer. */
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core_fixture.h"

/* ---- the hash function ---- */

/* BLAKE2b-256 of base_event() laid out as chain.c hashes it: prev_hash, seq and at as 8-byte
 * little-endian, then type, queue, task_id, actor, data each as an 8-byte little-endian length
 * and its bytes (NULL as the length 2^64-1 and no bytes). Computed apart from hitl, with Python:
 * hashlib.blake2b(digest_size=32) over bytes(range(32)) + pack('<QQ', 7, 1800000000123) + ... */
#define KNOWN_HASH "279393b6ad0062f9411b28444a0cb4dcee7314aed7a01124fb591b88282d70c4"

static void base_event(hitl_event *e) {
  memset(e, 0, sizeof *e);
  e->seq = 7;
  e->at = INT64_C(1800000000123);
  e->type = "task.decided";
  e->queue = "q";
  e->task_id = "t_x";
  e->actor = "rev";
  e->data = "{\"a\":1}";
  for (int i = 0; i < HITL_HASH_LEN; i++) e->prev_hash[i] = (uint8_t)i;
}

static void hash_hex(const hitl_event *e, char out[2 * HITL_HASH_LEN + 1]) {
  uint8_t h[HITL_HASH_LEN];
  hitl_event_hash(e, h);
  hitl_hex(h, HITL_HASH_LEN, out);
}

/* The hash of a fixed event: a change of what is hashed, or how, breaks every stored chain, so
 * it must be a decision, not an accident. */
static void test_hash_known_answer(void **state) {
  (void)state;
  hitl_event e;
  base_event(&e);
  char hex[2 * HITL_HASH_LEN + 1];
  hash_hex(&e, hex);
  assert_string_equal(hex, KNOWN_HASH);
}

/* Changes one field of e; returns its name, or NULL past the last field. */
static const char *mutate(hitl_event *e, int which) {
  switch (which) {
  case 0: e->seq++; return "seq";
  case 1: e->prev_hash[HITL_HASH_LEN - 1] ^= 1; return "prev_hash";
  case 2: e->at++; return "at";
  case 3: e->type = "task.decidee"; return "type";
  case 4: e->queue = "r"; return "queue";
  case 5: e->queue = NULL; return "queue (NULL)";
  case 6: e->queue = ""; return "queue (empty)";
  case 7: e->task_id = "t_y"; return "task_id";
  case 8: e->task_id = NULL; return "task_id (NULL)";
  case 9: e->actor = "mallory"; return "actor";
  case 10: e->actor = NULL; return "actor (NULL)";
  case 11: e->data = "{\"a\":2}"; return "data";
  case 12: e->data = ""; return "data (empty)";
  /* A character moved across the boundary of two fields. */
  case 13: e->type = "task.decidedq"; e->queue = ""; return "type|queue boundary";
  case 14: e->queue = "qt_x"; e->task_id = ""; return "queue|task_id boundary";
  case 15: e->task_id = "t_xrev"; e->actor = ""; return "task_id|actor boundary";
  case 16: e->actor = "rev{"; e->data = "\"a\":1}"; return "actor|data boundary";
  default: return NULL;
  }
}

static void test_every_field_is_hashed(void **state) {
  (void)state;
  hitl_event e;
  base_event(&e);
  char base[2 * HITL_HASH_LEN + 1], got[2 * HITL_HASH_LEN + 1];
  hash_hex(&e, base);
  const char *name;
  for (int i = 0; (base_event(&e), name = mutate(&e, i)) != NULL; i++) {
    hash_hex(&e, got);
    if (strcmp(base, got) == 0) fail_msg("changing %s leaves the hash as it was", name);
  }
  /* The stored hash itself is not an input. */
  base_event(&e);
  memset(e.hash, 0xab, sizeof e.hash);
  hash_hex(&e, got);
  assert_string_equal(got, base);
}

/* ---- verify over a stored log ---- */

#define N_EVENTS 5
#define ALTERED 3

/* A log of N_EVENTS chained events, appended through core. */
static void write_log(core_bench *b) {
  static const char queue_config[] =
      "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],"
      "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]}}";
  bench_open(b, queue_config);
  assert_int_equal(b->s->vt->begin(b->s), 0);
  for (int i = 1; i <= N_EVENTS; i++) {
    char task[16], data[32];
    snprintf(task, sizeof task, "t_%d", i);
    snprintf(data, sizeof data, "{\"n\":%d}", i);
    hitl_event_spec spec = {.type = "task.submitted", .queue = "q", .queue_id = b->queue_id,
                            .task_id = task, .actor = "agent", .data = data, .from_state = -1};
    assert_int_equal(hitl_chain_append(&b->chain, b->s, INT64_C(1800000000000) + i, &spec), 0);
  }
  assert_int_equal(bench_end(b, 0), 0);
}

static void sql(const char *db, const char *statement) {
  sqlite3 *h = NULL;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  char *msg = NULL;
  if (sqlite3_exec(h, statement, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", statement, msg);
  assert_int_equal(sqlite3_changes(h), 1);
  assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

static void test_verify_finds_each_altered_column(void **state) {
  (void)state;
  /* One stored column of event ALTERED changed, with how verify must describe it. */
  static const struct {
    const char *set;
    const char *reason;
  } cases[] = {
      {"at = at + 1", "altered"},
      {"type = 'task.decided'", "altered"},
      {"queue = 'other'", "altered"},
      {"queue = NULL", "altered"},
      {"task_id = 't_9'", "altered"},
      {"task_id = NULL", "altered"},
      {"actor = 'mallory'", "altered"},
      {"actor = NULL", "altered"},
      {"data = '{\"n\":99}'", "altered"},
      {"hash = zeroblob(32)", "altered"},
      {"prev_hash = zeroblob(32)", "prev_hash"},
      {"seq = 99", "missing"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    core_bench b;
    write_log(&b);
    hitl_chain_report rep;
    assert_int_equal(hitl_chain_verify(b.s, &rep), 0);
    assert_int_equal(rep.broken_seq, 0);
    assert_int_equal(rep.events, N_EVENTS);
    char stmt[160];
    snprintf(stmt, sizeof stmt, "UPDATE events SET %s WHERE seq = %d", cases[i].set, ALTERED);
    sql(b.path, stmt);
    assert_int_equal(hitl_chain_verify(b.s, &rep), 0);
    if (rep.broken_seq != ALTERED || strstr(rep.reason, cases[i].reason) == NULL)
      fail_msg("SET %s: verify says broken at %lld (%s); expected %d (%s)", cases[i].set,
               (long long)rep.broken_seq, rep.reason, ALTERED, cases[i].reason);
    bench_close(&b);
  }
}

/* The chain goes on across transactions and a store reopened, and a rolled-back operation leaves
 * no hole. */
static void test_chain_continues_after_rollback_and_reopen(void **state) {
  (void)state;
  core_bench b;
  write_log(&b);
  hitl_event_spec spec = {.type = "task.cancelled", .queue = "q", .task_id = "t_1",
                          .actor = "admin", .from_state = 0, .to_state = 4};
  assert_int_equal(b.s->vt->begin(b.s), 0);
  assert_int_equal(hitl_chain_append(&b.chain, b.s, INT64_C(1800000001000), &spec), 0);
  assert_int_equal(bench_end(&b, HITL_ECONFLICT), HITL_ECONFLICT); /* Rolled back. */
  hitl_store_close(b.s);
  hitl_err err = {0};
  assert_int_equal(hitl_store_open(b.path, &b.s, &err), 0);
  hitl_chain_free(&b.chain);
  hitl_chain_init(&b.chain);
  assert_int_equal(b.s->vt->begin(b.s), 0);
  assert_int_equal(hitl_chain_append(&b.chain, b.s, INT64_C(1800000002000), &spec), 0);
  assert_int_equal(bench_end(&b, 0), 0);
  hitl_chain_report rep;
  assert_int_equal(hitl_chain_verify(b.s, &rep), 0);
  assert_int_equal(rep.broken_seq, 0);
  assert_int_equal(rep.events, N_EVENTS + 1);
  bench_close(&b);
}

/* A deferring chain (the server's writer) keeps events until hitl_chain_link: an undone
 * operation's events are dropped with it, the others are stored in order with their strings
 * (copied: the caller's buffers are gone by then) and their changes get their seqs. */
static void test_deferred_events_link_in_order(void **state) {
  (void)state;
  core_bench b;
  bench_open(&b, "{}");
  hitl_chain_defer(&b.chain, true);
  char data[32], actor[16];
  assert_int_equal(b.s->vt->begin(b.s), 0);
  for (int i = 0; i < 3; i++) {
    hitl_chain_op_begin(&b.chain);
    snprintf(data, sizeof data, "{\"n\":%d}", i);
    snprintf(actor, sizeof actor, "actor%d", i);
    hitl_event_spec spec = {.type = "test.event", .queue = i == 2 ? NULL : "q", .actor = actor,
                            .data = data, .from_state = -1, .to_state = -1};
    assert_int_equal(hitl_chain_append(&b.chain, b.s, 1000 + i, &spec), 0);
    if (i == 1) hitl_chain_op_abort(&b.chain);
    memset(data, 'x', sizeof data - 1); /* The chain must hold its own copy. */
    memset(actor, 'y', sizeof actor - 1);
  }
  int64_t last = -1;
  uint8_t hash[HITL_HASH_LEN];
  assert_int_equal(b.s->vt->event_last(b.s, &last, hash), 0);
  assert_int_equal(last, 0); /* Nothing stored before the link. */
  assert_int_equal(b.chain.n_changes, 2);
  assert_int_equal(hitl_chain_link(&b.chain, b.s), 0);
  assert_int_equal(b.chain.changes[0].seq, 1);
  assert_int_equal(b.chain.changes[1].seq, 2);
  assert_int_equal(bench_end(&b, 0), 0);
  hitl_event *evs = NULL;
  size_t n = 0;
  assert_int_equal(b.s->vt->event_list(b.s, 0, 10, &evs, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(evs[0].data, "{\"n\":0}");
  assert_string_equal(evs[0].actor, "actor0");
  assert_string_equal(evs[0].queue, "q");
  assert_string_equal(evs[1].data, "{\"n\":2}");
  assert_null(evs[1].queue);
  assert_int_equal(evs[1].at, 1002);
  for (size_t i = 0; i < n; i++) hitl_event_clear(&evs[i]);
  free(evs);
  hitl_chain_report rep;
  assert_int_equal(hitl_chain_verify(b.s, &rep), 0);
  assert_int_equal(rep.broken_seq, 0);
  assert_int_equal(rep.events, 2);
  bench_close(&b);
}

int main(void) {
  if (hitl_id_init() != 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hash_known_answer),
      cmocka_unit_test(test_every_field_is_hashed),
      cmocka_unit_test(test_verify_finds_each_altered_column),
      cmocka_unit_test(test_chain_continues_after_rollback_and_reopen),
      cmocka_unit_test(test_deferred_events_link_in_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
