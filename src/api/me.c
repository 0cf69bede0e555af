/* SPDX-License-Identifier: MIT */
/* GET /v1/me and /v1/me/responses: who the caller is, what they may review, what they did. */
#include <stdlib.h>
#include <string.h>

#include "api/server_internal.h"
#include "util/clock.h"

#define DAY_MS (24LL * 3600 * 1000)

void hitl__h_me(hitl_request *req) {
  hitl_store *st = hitl__reader(req);
  if (st == NULL) return;
  int64_t now = hitl_now_ms(), today = 0, total = 0, tasks_today = 0;
  if (st->vt->response_count_by_reviewer(st, req->who.name, now - now % DAY_MS, &today) != 0 ||
      st->vt->response_count_by_reviewer(st, req->who.name, 0, &total) != 0 ||
      st->vt->task_count_by_reviewer(st, req->who.name, now - now % DAY_MS, &tasks_today) != 0) {
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "could not count the responses");
    return;
  }
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_puts(&b, "{\"name\":");
  hitl_buf_json_cstr(&b, req->who.name);
  hitl_buf_puts(&b, ",\"roles\":[");
  for (size_t i = 0; i < req->who.n_roles; i++) {
    if (i) hitl_buf_putc(&b, ',');
    hitl_buf_json_cstr(&b, req->who.roles[i]);
  }
  hitl_buf_puts(&b, "],\"queues\":[");
  hitl_queue_ref **qs = NULL;
  size_t n = hitl__registry_list(req->server->registry, &qs), written = 0;
  for (size_t i = 0; i < n; i++) {
    if (hitl_actor_may_review(&req->actor, qs[i]->config)) {
      hitl_queue_counts c;
      hitl__registry_counts(req->server->registry, qs[i]->id, &c);
      hitl_buf_puts(&b, written++ ? ",{\"name\":" : "{\"name\":");
      hitl_buf_json_cstr(&b, qs[i]->name);
      hitl_buf_printf(&b, ",\"pending\":%lld}", (long long)c.by_state[HITL_TASK_PENDING]);
    }
    hitl__queue_ref_release(qs[i]);
  }
  free(qs);
  hitl_buf_printf(&b, "],\"counts\":{\"today\":%lld,\"total\":%lld,\"tasks_today\":%lld}}",
                  (long long)today, (long long)total, (long long)tasks_today);
  hitl__reply_buf(req, 200, &b);
}

void hitl__h_me_responses(hitl_request *req) {
  long long limit, cursor;
  if (!hitl__query_page(req, 50, 500, &limit, &cursor)) return;
  hitl_store *st = hitl__reader(req);
  if (st == NULL) return;
  hitl_response *rs = NULL;
  size_t n = 0;
  if (st->vt->response_list_by_reviewer(st, req->who.name, cursor, (size_t)limit, &rs, &n) != 0) {
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "could not read the responses");
    return;
  }
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_puts(&b, "{\"responses\":[");
  for (size_t i = 0; i < n; i++) {
    const hitl_response *r = &rs[i];
    char at[HITL_TIME_LEN];
    hitl_time_format(r->created_at, at);
    hitl_buf_puts(&b, i ? ",{\"id\":" : "{\"id\":");
    hitl_buf_json_cstr(&b, r->id);
    hitl_buf_puts(&b, ",\"task_id\":");
    hitl_buf_json_cstr(&b, r->task_id);
    hitl_buf_puts(&b, ",\"queue\":");
    hitl_buf_json_cstr(&b, r->queue);
    hitl_buf_puts(&b, ",\"question\":");
    hitl_buf_json_cstr(&b, r->question);
    hitl_buf_puts(&b, ",\"kind\":");
    hitl_buf_json_cstr(&b, r->kind);
    hitl_buf_printf(&b, ",\"value\":%s,\"comment\":", r->value ? r->value : "null");
    hitl_buf_json_cstr(&b, r->comment);
    hitl_buf_printf(&b, ",\"time_spent_ms\":%lld,\"created_at\":\"%s\"}", (long long)r->time_spent_ms,
                    at);
  }
  if (n == (size_t)limit)
    hitl_buf_printf(&b, "],\"next_cursor\":\"%lld\"}", (long long)rs[n - 1].seq);
  else
    hitl_buf_puts(&b, "],\"next_cursor\":null}");
  for (size_t i = 0; i < n; i++) hitl_response_clear(&rs[i]);
  free(rs);
  hitl__reply_buf(req, 200, &b);
}
