/* SPDX-License-Identifier: MIT */
/* GET /v1/queues/{queue}/export: decided tasks as training data (JSON Lines). */
#include <stdlib.h>
#include <string.h>

#include "api/queue_lookup.h"
#include "api/server_internal.h"
#include "api/task_json.h"

#define PAGE 500

void hitl__h_export(hitl_request *req) {
  hitl_queue_ref *q = hitl__queue_lookup(req, req->params[0]);
  if (q == NULL) return;
  const char *format = hitl__query(req, "format");
  hitl_buf b = HITL_BUF_INIT;
  if (!hitl__require_role(req, "orchestrator")) goto done;
  if (format && strcmp(format, "jsonl") != 0) {
    hitl__reply_error(req, HITL_EVALIDATION, "format", "format must be jsonl (the only one so far)");
    goto done;
  }
  hitl_store *st = hitl__reader(req);
  if (st == NULL) goto done;
  int64_t before = 0;
  for (;;) {
    hitl_task *tasks = NULL;
    size_t n = 0;
    if (st->vt->task_list(st, q->id, HITL_TASK_DECIDED, before, PAGE, &tasks, &n) != 0) {
      hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "could not read the tasks");
      goto done;
    }
    for (size_t i = 0; i < n; i++) {
      hitl_response *rs = NULL;
      size_t nr = 0;
      if (st->vt->response_list(st, tasks[i].seq, &rs, &nr) == 0) {
        hitl__task_to_json(&b, &tasks[i], rs, nr, false);
        hitl_buf_putc(&b, '\n');
      }
      for (size_t k = 0; k < nr; k++) hitl_response_clear(&rs[k]);
      free(rs);
      before = tasks[i].seq;
    }
    for (size_t i = 0; i < n; i++) hitl_task_clear(&tasks[i]);
    free(tasks);
    if (n < PAGE) break;
  }
  hitl__reply_buf(req, 200, &b);
  req->content_type = "application/x-ndjson";
done:
  hitl_buf_free(&b);
  hitl__queue_ref_release(q);
}
