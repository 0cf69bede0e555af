/* SPDX-License-Identifier: MIT */
/* GET /v1/queues/{queue}/export: decided tasks as training data, streamed as JSON Lines. */
#include <stdlib.h>
#include <string.h>

#include "api/queue_lookup.h"
#include "api/server_internal.h"
#include "api/task_json.h"
#include "util/xmalloc.h"

#define PAGE 200

/* The state of one export: where the next page starts, and bytes not yet sent. */
typedef struct export_cursor {
  hitl_server *server;
  int64_t queue_id;
  int64_t before;   /* Next page: tasks with seq below this; 0 = from the newest. */
  bool done;        /* The last page was read. */
  hitl_buf pending;
  size_t sent;
} export_cursor;

/* Appends the next page of decided tasks, with their responses, one JSON object per line. */
static int load_page(export_cursor *c) {
  hitl_store *st = hitl__server_reader(c->server);
  if (st == NULL) return -1;
  hitl_task *tasks = NULL;
  size_t n = 0;
  if (st->vt->task_list(st, c->queue_id, HITL_TASK_DECIDED, c->before, PAGE, &tasks, &n) != 0)
    return -1;
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    hitl_response *rs = NULL;
    size_t nr = 0;
    if (rc == 0 && st->vt->response_list(st, tasks[i].seq, &rs, &nr) == 0) {
      hitl__task_to_json(&c->pending, &tasks[i], rs, nr, HITL_TASK_JSON_RESPONSES);
      hitl_buf_putc(&c->pending, '\n');
    } else {
      rc = -1;
    }
    for (size_t k = 0; k < nr; k++) hitl_response_clear(&rs[k]);
    free(rs);
    c->before = tasks[i].seq;
    hitl_task_clear(&tasks[i]);
  }
  free(tasks);
  if (n < PAGE) c->done = true;
  return rc;
}

static ssize_t export_read(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  export_cursor *c = cls;
  while (c->sent == c->pending.len) {
    if (c->done) return MHD_CONTENT_READER_END_OF_STREAM;
    hitl_buf_reset(&c->pending);
    c->sent = 0;
    if (load_page(c) != 0) return MHD_CONTENT_READER_END_WITH_ERROR;
  }
  size_t n = c->pending.len - c->sent;
  if (n > max) n = max;
  memcpy(buf, c->pending.data + c->sent, n);
  c->sent += n;
  return (ssize_t)n;
}

static void export_free(void *cls) {
  export_cursor *c = cls;
  hitl_buf_free(&c->pending);
  free(c);
}

void hitl__h_export(hitl_request *req) {
  hitl_queue_ref *q = hitl__queue_lookup(req, req->params[0]);
  if (q == NULL) return;
  const char *format = hitl__query(req, "format");
  if (!hitl__require_role(req, "orchestrator")) goto done;
  if (format && strcmp(format, "jsonl") != 0) {
    hitl__reply_error(req, HITL_EVALIDATION, "format", "format must be jsonl (the only one so far)");
    goto done;
  }
  export_cursor *c = hitl_xcalloc(1, sizeof *c);
  c->server = req->server;
  c->queue_id = q->id;
  /* Pages are read as the client takes them, so memory stays at one page whatever the size. */
  struct MHD_Response *resp =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, export_read, c, export_free);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
  req->stream = resp;
  req->status = 200;
  req->phase = HITL_PHASE_ANSWERED;
done:
  hitl__queue_ref_release(q);
}
