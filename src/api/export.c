/* SPDX-License-Identifier: MIT */
/* GET /v1/queues/{queue}/export: decided tasks as training data, streamed page by page. */
#include <stdlib.h>
#include <string.h>

#include "api/export_formats.h"
#include "api/queue_lookup.h"
#include "api/server_internal.h"
#include "util/clock.h"
#include "util/xmalloc.h"

#define PAGE 200
#define MAX_MODEL_VERSION 256

/* The state of one export: what to write, where the next page starts, bytes not yet sent. */
typedef struct export_cursor {
  hitl_server *server;
  hitl_queue_ref *queue;  /* Held for the whole export: its configuration names the questions. */
  hitl_export_format format;
  int64_t since;          /* Only tasks decided at or after this; 0 = any. */
  char *model_version;    /* Only tasks of this model version; NULL = any. */
  int64_t before;         /* Next page: tasks with seq below this; 0 = from the newest. */
  bool done;              /* The last page was read. */
  size_t records;         /* Records written so far (label-studio needs it for commas). */
  hitl_buf pending;
  size_t sent;
} export_cursor;

static bool wanted(const export_cursor *c, const hitl_task *t) {
  if (c->since && t->decided_at < c->since) return false;
  if (c->model_version && (t->model_version == NULL || strcmp(t->model_version, c->model_version) != 0))
    return false;
  return true;
}

/* Appends what the next page of decided tasks yields. A page may yield nothing when the filters
 * or the format leave its tasks out; the reader then asks for the next. */
static int load_page(export_cursor *c) {
  hitl_store *st = hitl__server_reader(c->server);
  if (st == NULL) return -1;
  hitl_task *tasks = NULL;
  size_t n = 0;
  hitl_task_scan scan = {.queue_id = c->queue->id, .state = HITL_TASK_DECIDED,
                         .before_seq = c->before};
  if (st->vt->task_scan(st, &scan, PAGE, &tasks, &n) != 0) return -1;
  bool array = c->format == HITL_EXPORT_LABEL_STUDIO;
  /* The page's responses in one read: those of the tasks wanted, in the page's order. */
  hitl_response *rs = NULL;
  size_t nr = 0, next = 0;
  int rc = 0;
  if (hitl__export_needs_responses(c->format) && n) {
    int64_t *seqs = hitl_xcalloc(n, sizeof *seqs);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
      if (wanted(c, &tasks[i])) seqs[k++] = tasks[i].seq;
    if (k && st->vt->response_list_many(st, seqs, k, &rs, &nr) != 0) rc = -1;
    free(seqs);
  }
  for (size_t i = 0; i < n; i++) {
    if (rc == 0 && wanted(c, &tasks[i])) {
      size_t first = next;
      while (next < nr && rs[next].task_seq == tasks[i].seq) next++;
      /* Each Label Studio task is an array element on its own line; every decided task
       * yields one, so the separator can go first. */
      if (array) hitl_buf_puts(&c->pending, c->records ? ",\n" : "\n");
      c->records += hitl__export_append(&c->pending, c->format, c->queue->config, &tasks[i],
                                        rs + first, next - first);
    }
    c->before = tasks[i].seq;
    hitl_task_clear(&tasks[i]);
  }
  for (size_t k = 0; k < nr; k++) hitl_response_clear(&rs[k]);
  free(rs);
  free(tasks);
  if (n < PAGE) {
    c->done = true;
    if (array) hitl_buf_puts(&c->pending, c->records ? "\n]\n" : "]\n");
  }
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
  hitl__queue_ref_release(c->queue);
  hitl_buf_free(&c->pending);
  free(c->model_version);
  free(c);
}

/* Reads format, since and model_version; answers 400 naming the parameter and returns false
 * when one is wrong. */
static bool read_params(hitl_request *req, export_cursor *c) {
  const char *format = hitl__query(req, "format");
  const char *since = hitl__query(req, "since");
  const char *model_version = hitl__query(req, "model_version");
  int f = format ? hitl__export_format_parse(format) : HITL_EXPORT_JSONL;
  if (f < 0) {
    hitl__reply_error(req, HITL_EVALIDATION, "format",
                      "format must be jsonl, sft, dpo, labels or label-studio");
    return false;
  }
  c->format = (hitl_export_format)f;
  if (since && hitl_time_parse(since, &c->since) != 0) {
    hitl__reply_error(req, HITL_EVALIDATION, "since",
                      "since must be an RFC 3339 time such as 2026-11-23T23:39:09Z");
    return false;
  }
  if (model_version) {
    size_t n = strlen(model_version);
    bool ok = n > 0 && n <= MAX_MODEL_VERSION;
    for (size_t i = 0; ok && i < n; i++)
      ok = (unsigned char)model_version[i] >= 0x20 && model_version[i] != 0x7f;
    if (!ok) {
      hitl__reply_error(req, HITL_EVALIDATION, "model_version",
                        "model_version must have 1 to %d bytes and no control characters",
                        MAX_MODEL_VERSION);
      return false;
    }
    c->model_version = hitl_xstrdup(model_version);
  }
  return true;
}

void hitl__h_export(hitl_request *req) {
  hitl_queue_ref *q = hitl__queue_lookup(req, req->params[0]);
  if (q == NULL) return;
  export_cursor *c = hitl_xcalloc(1, sizeof *c);
  c->server = req->server;
  c->queue = q;
  if (!read_params(req, c)) {
    export_free(c);
    return;
  }
  if (c->format == HITL_EXPORT_LABEL_STUDIO) hitl_buf_puts(&c->pending, "[");
  /* Pages are read as the client takes them, so memory stays at one page whatever the size. */
  struct MHD_Response *resp =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, export_read, c, export_free);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          c->format == HITL_EXPORT_LABEL_STUDIO ? "application/json"
                                                                : "application/x-ndjson");
  req->stream = resp;
  req->status = 200;
  req->phase = HITL_PHASE_ANSWERED;
}
