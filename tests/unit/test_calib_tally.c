/* SPDX-License-Identifier: MIT */
/* Tests of calibration's tallies (api/calib_tally.c): a transaction writes what the tasks it
 * submitted add, each task once, and nothing for a task whose submission it does not hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/calib_internal.h"

/* A change that submitted task id. */
static hitl_change submitted(const char *id, int64_t queue_id, int to_state) {
  hitl_change ch = {.seq = 1, .type = "task.created", .queue_id = queue_id, .from_state = -1,
                    .to_state = to_state};
  snprintf(ch.task_id, sizeof ch.task_id, "%s", id);
  return ch;
}

/* A new SQLite store in a new temporary folder (written to dir, for the caller to remove). */
static hitl_store *new_store(char *dir, size_t n) {
  char path[300];
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, n, "%s/hitl-tally-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/hitl.db", dir);
  hitl_store *s = NULL;
  hitl_err err = {0};
  assert_int_equal(hitl_store_open(path, &s, &err), 0);
  return s;
}

static void test_flush_counts_each_submission_once(void **state) {
  (void)state;
  char dir[256], cmd[320];
  hitl_store *s = new_store(dir, sizeof dir);
  int64_t q = 0, other = 0;
  bool created;
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->queue_put(s, "q", "{}", 1, &q, &created), 0);
  assert_int_equal(s->vt->queue_put(s, "other", "{}", 1, &other, &created), 0);
  assert_int_equal(s->vt->commit(s), 0);

  hitl_calib_set *c = hitl__calib_new(0);
  /* An earlier try of the transaction noted a and b; this one notes them again; d's job was
   * undone (no change); e gives nothing to count. */
  hitl__calib_note_submit(c, 0, "t_a", q, true, true, -2);
  hitl__calib_note_submit(c, 0, "t_b", q, true, false, -2);
  hitl__calib_note_submit(c, 0, "t_d", q, true, true, 3);
  hitl__calib_note_submit(c, 0, "t_e", q, false, false, -2);
  hitl__calib_note_submit(c, 0, "t_b", q, true, false, -2);
  hitl__calib_note_submit(c, 0, "t_a", q, true, true, -2);
  hitl__calib_note_submit(c, 0, "t_c", other, false, false, 2);
  hitl__calib_note_submit(c, 0, "t_f", other, false, false, -1);
  hitl__calib_note_submit(c, 0, "t_g", other, false, false, 40);
  hitl_change changes[] = {submitted("t_a", q, 4), submitted("t_b", q, 0),
                           submitted("t_c", other, 0), submitted("t_e", q, 0),
                           submitted("t_f", other, 0), submitted("t_g", other, 0)};
  changes[1].from_state = 0; /* t_b's second change is not its submission: ignored. */
  hitl_change more[8];
  memcpy(more, changes, sizeof changes);
  more[6] = submitted("t_b", q, 0);
  hitl_chain chain = {.changes = more, .n_changes = 7};
  int64_t now = 1764979200000LL;
  hitl_txn x = {.store = s, .chain = &chain, .now = now};
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(hitl__calib_tally_flush(c, &x), 0);
  /* Notes are forgotten: a second flush adds nothing. */
  assert_int_equal(hitl__calib_tally_flush(c, &x), 0);
  assert_int_equal(s->vt->commit(s), 0);

  int64_t day[HITL__TALLY_KINDS];
  assert_int_equal(s->vt->calib_tally_sum(s, q, hitl_calib_hour(now), day, HITL__TALLY_KINDS), 0);
  assert_int_equal(day[HITL__TALLY_ROUTED], 2);
  assert_int_equal(day[HITL__TALLY_ACCEPTED], 1);
  for (int k = HITL__TALLY_NO_SET; k < HITL__TALLY_KINDS; k++) assert_int_equal(day[k], 0);
  assert_int_equal(s->vt->calib_tally_sum(s, other, 0, day, HITL__TALLY_KINDS), 0);
  assert_int_equal(day[HITL__TALLY_ROUTED], 0);
  assert_int_equal(day[HITL__TALLY_NO_SET], 1);
  assert_int_equal(day[HITL__TALLY_SET + 2], 1);
  assert_int_equal(day[HITL__TALLY_KINDS - 1], 1); /* 40 labels: counted with 16 or more. */

  hitl__calib_free(c);
  hitl_store_close(s);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

/* Writer lanes run transactions side by side (api/commit.c): a lane's flush counts and forgets
 * its own notes only; another lane's stay for that lane's precommit. */
static void test_flush_takes_only_its_lanes_notes(void **state) {
  (void)state;
  char dir[256], cmd[320];
  hitl_store *s = new_store(dir, sizeof dir);
  int64_t q = 0;
  bool created;
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->queue_put(s, "q", "{}", 1, &q, &created), 0);
  assert_int_equal(s->vt->commit(s), 0);

  hitl_calib_set *c = hitl__calib_new(0);
  hitl__calib_note_submit(c, 0, "t_a", q, true, true, -2);
  hitl__calib_note_submit(c, 1, "t_b", q, true, false, -2); /* Lane 1's transaction is open. */
  hitl_change lane0[] = {submitted("t_a", q, 4), submitted("t_b", q, 0)};
  hitl_chain chain0 = {.changes = lane0, .n_changes = 2};
  int64_t now = 1764979200000LL;
  hitl_txn x0 = {.store = s, .chain = &chain0, .now = now, .lane = 0};
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(hitl__calib_tally_flush(c, &x0), 0); /* Counts t_a, not lane 1's t_b. */
  assert_int_equal(s->vt->commit(s), 0);
  hitl_change lane1[] = {submitted("t_b", q, 0)};
  hitl_chain chain1 = {.changes = lane1, .n_changes = 1};
  hitl_txn x1 = {.store = s, .chain = &chain1, .now = now, .lane = 1};
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(hitl__calib_tally_flush(c, &x1), 0); /* t_b's note was kept for it. */
  assert_int_equal(s->vt->commit(s), 0);

  int64_t day[HITL__TALLY_KINDS];
  assert_int_equal(s->vt->calib_tally_sum(s, q, hitl_calib_hour(now), day, HITL__TALLY_KINDS), 0);
  assert_int_equal(day[HITL__TALLY_ROUTED], 2);
  assert_int_equal(day[HITL__TALLY_ACCEPTED], 1);

  hitl__calib_free(c);
  hitl_store_close(s);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flush_counts_each_submission_once),
      cmocka_unit_test(test_flush_takes_only_its_lanes_notes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
