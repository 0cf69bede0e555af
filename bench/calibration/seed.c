/* SPDX-License-Identifier: MIT */
/* Seeds a database for the calibrated-leaf submit benchmark (bench/calibration/submit.sh): a
 * queue "cal" routed by a calibrated leaf with N verified pairs (decided tasks scoring 0.5, all
 * right, so that a threshold at or below 0.5 is certified), and a queue "fixed" routed by
 * confidence_at_least. Run before the server starts on the database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  if (argc != 3) {
    fprintf(stderr, "usage: bench_seed DB PAIRS\n");
    return 2;
  }
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
    hitl_task_clear(&t);
  }
  if (rc == 0) rc = s->vt->commit(s);
  hitl_store_close(s);
  if (rc) {
    fprintf(stderr, "bench_seed: the store failed (%d)\n", rc);
    return 1;
  }
  printf("bench_seed: queue cal with %ld verified pairs, queue fixed\n", pairs);
  return 0;
}
