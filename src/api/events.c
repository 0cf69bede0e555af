/* SPDX-License-Identifier: MIT */
/* GET /v1/events: the audit log, oldest first after a sequence number or newest first. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/server_internal.h"
#include "util/clock.h"

void hitl__event_to_json(hitl_buf *b, const hitl_event *e) {
  char at[HITL_TIME_LEN], hash[2 * HITL_HASH_LEN + 1], prev[2 * HITL_HASH_LEN + 1];
  hitl_time_format(e->at, at);
  hitl_hex(e->hash, HITL_HASH_LEN, hash);
  hitl_hex(e->prev_hash, HITL_HASH_LEN, prev);
  hitl_buf_printf(b, "{\"seq\":%lld,\"at\":\"%s\",\"type\":", (long long)e->seq, at);
  hitl_buf_json_cstr(b, e->type);
  hitl_buf_puts(b, ",\"queue\":");
  hitl_buf_json_cstr(b, e->queue);
  hitl_buf_puts(b, ",\"task_id\":");
  hitl_buf_json_cstr(b, e->task_id);
  hitl_buf_puts(b, ",\"actor\":");
  hitl_buf_json_cstr(b, e->actor);
  hitl_buf_printf(b, ",\"data\":%s,\"prev_hash\":\"%s\",\"hash\":\"%s\"}", e->data ? e->data : "{}",
                  prev, hash);
}

void hitl__h_events(hitl_request *req) {
  long long after = 0, limit = 100, before = 0;
  const char *s;
  char *end;
  /* order=newest pages back from the latest event with the before cursor; the default pages
   * forward with after. */
  bool newest = false;
  if ((s = hitl__query(req, "order"))) {
    if (strcmp(s, "newest") == 0) {
      newest = true;
    } else if (strcmp(s, "oldest") != 0) {
      hitl__reply_error(req, HITL_EVALIDATION, "order", "order must be oldest or newest");
      return;
    }
  }
  if ((s = hitl__query(req, "before"))) {
    errno = 0;
    before = strtoll(s, &end, 10);
    if (!newest) {
      hitl__reply_error(req, HITL_EVALIDATION, "before", "before goes with order=newest");
      return;
    }
    if (*s == '\0' || *end || before < 1 || errno == ERANGE) {
      hitl__reply_error(req, HITL_EVALIDATION, "before",
                        "before must be the next_before of a previous page");
      return;
    }
  }
  if (newest && hitl__query(req, "after")) {
    hitl__reply_error(req, HITL_EVALIDATION, "after",
                      "after goes with order=oldest; with order=newest, page with before");
    return;
  }
  if ((s = hitl__query(req, "after"))) {
    errno = 0;
    after = strtoll(s, &end, 10);
    if (*s == '\0' || *end || after < 0 || errno == ERANGE) {
      hitl__reply_error(req, HITL_EVALIDATION, "after", "after must be an event seq (0 or more)");
      return;
    }
  }
  if ((s = hitl__query(req, "limit"))) {
    limit = strtoll(s, &end, 10);
    if (*s == '\0' || *end || limit < 1 || limit > 1000) {
      hitl__reply_error(req, HITL_EVALIDATION, "limit", "limit must be an integer from 1 to 1000");
      return;
    }
  }
  /* Optional filters; an empty value is no filter. */
  hitl_event_filter f = {.before = newest ? (before ? before : INT64_MAX) : 0};
  const char **slots[] = {&f.task_id, &f.queue, &f.actor, &f.type};
  const char *names[] = {"task_id", "queue", "actor", "type"};
  for (size_t i = 0; i < 4; i++) {
    const char *v = hitl__query(req, names[i]);
    *slots[i] = v && *v ? v : NULL;
  }
  hitl_store *st = hitl__reader(req);
  if (st == NULL) return;
  hitl_event *evs = NULL;
  size_t n = 0;
  if (st->vt->event_find(st, after, &f, (size_t)limit, &evs, &n) != 0) {
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "could not read the events");
    return;
  }
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_puts(&b, "{\"events\":[");
  for (size_t i = 0; i < n; i++) {
    if (i) hitl_buf_putc(&b, ',');
    hitl__event_to_json(&b, &evs[i]);
  }
  if (newest && n == (size_t)limit)
    hitl_buf_printf(&b, "],\"next_before\":%lld}", (long long)evs[n - 1].seq);
  else if (newest)
    hitl_buf_puts(&b, "],\"next_before\":null}");
  else
    hitl_buf_printf(&b, "],\"next_after\":%lld}", n ? (long long)evs[n - 1].seq : after);
  for (size_t i = 0; i < n; i++) hitl_event_clear(&evs[i]);
  free(evs);
  hitl__reply_buf(req, 200, &b);
}
