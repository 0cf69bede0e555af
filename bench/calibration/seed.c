/* SPDX-License-Identifier: MIT */
/* Seeds a database for the calibrated-leaf submit benchmark (bench/calibration/submit.sh): a
 * queue "cal" routed by a calibrated leaf with N verified pairs (decided tasks scoring 0.5, all
 * right, so that a threshold at or below 0.5 is certified), and a queue "fixed" routed by
 * confidence_at_least. With --snapshot it also stores the snapshot of the calibration state the
 * server would have written after the last pair (bench/calibration/start.sh compares the start
 * with and without it). Run before the server starts on the database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/calib_evidence.h"
#include "core/calibration.h"
#include "store/store.h"
#include "util/id.h"
#include "util/xmalloc.h"

static const char cal_queue[] =
    "{\"policy\":{\"rules\":[{\"name\":\"auto\",\"when\":{\"calibrated\":{\"max_error\":0.02,"
    "\"confidence\":0.95,\"audit_percent\":5}},\"then\":{\"action\":\"accept\"}}]}}";
static const char fixed_queue[] =
    "{\"policy\":{\"rules\":[{\"name\":\"auto\",\"when\":{\"confidence_at_least\":0.4},"
    "\"then\":{\"action\":\"accept\"}}]}}";

int main(int argc, char **argv) {
  bool snapshot = argc == 4 && strcmp(argv[3], "--snapshot") == 0;
  if (argc != 3 && !snapshot) {
    fprintf(stderr, "usage: bench_seed DB PAIRS [--snapshot]\n");
    return 2;
  }
  /* The parameters of cal_queue's leaf. */
  hitl_calib_params params;
  hitl_calibration_params_default(&params);
  params.max_error = 0.02;
  params.confidence = 0.95;
  params.audit_percent = 5;
  hitl_calibration *state = snapshot ? hitl_calibration_new(&params) : NULL;
  long pairs = strtol(argv[2], NULL, 10);
  hitl_err err = {0};
  hitl_store *s = NULL;
  if (hitl_id_init() != 0 || hitl_store_open(argv[1], &s, &err) != 0) {
    fprintf(stderr, "bench_seed: %s\n", err.message);
    return 1;
  }
  int64_t cal = 0, fixed = 0;
  bool created;
  int rc = s->vt->begin(s);
  if (rc == 0) rc = s->vt->queue_put(s, "cal", cal_queue, 1, &cal, &created);
  if (rc == 0) rc = s->vt->queue_put(s, "fixed", fixed_queue, 1, &fixed, &created);
  for (long i = 0; i < pairs && rc == 0; i++) {
    hitl_task t = {0};
    hitl_id_new("t", t.id);
    t.queue_id = cal;
    t.state = HITL_TASK_DECIDED;
    t.created_at = t.updated_at = t.decided_at = 1 + i;
    t.needed = 1;
    t.has_confidence = true;
    t.confidence = 0.5;
    t.payload = hitl_xstrdup("{\"input\":{}}");
    t.decision = hitl_xstrdup("{\"by\":\"human\",\"outcome\":\"approve\"}");
    t.decided_by = hitl_xstrdup("human");
    rc = s->vt->task_insert(s, &t);
    hitl_calib_row row = {.task_seq = t.seq, .queue_id = cal, .score = 0.5, .propensity = 1,
                          .uniform = true, .correct = 1, .decided_seq = i + 1, .lac = 0, .aps = 0};
    if (rc == 0) rc = s->vt->calib_put(s, &row);
    hitl_calib_tag tag = {1, true, false};
    if (state) hitl_calibration_add(state, 0.5, true, &tag);
    hitl_task_clear(&t);
  }
  if (rc == 0 && state) {
    char text[HITL_CALIB_PARAMS_TEXT];
    hitl_calib_params_text(&params, text);
    hitl_calib_snapshot snap = {.queue_id = cal, .last_seq = pairs, .params = text,
                                .state = hitl_calib_state_text(state)};
    rc = s->vt->calib_snapshot_put(s, &snap);
    free(snap.state);
  }
  hitl_calibration_free(state);
  if (rc == 0) rc = s->vt->commit(s);
  hitl_store_close(s);
  if (rc) {
    fprintf(stderr, "bench_seed: the store failed (%d)\n", rc);
    return 1;
  }
  printf("bench_seed: queue cal with %ld verified pairs, queue fixed\n", pairs);
  return 0;
}
