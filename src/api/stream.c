/* SPDX-License-Identifier: MIT */
/* Server-Sent Events pushed as commits happen: GET /v1/events/stream (the event log), and the
 * streams other routes open with hitl__sse_begin (a run's commands). */
#include <stdlib.h>
#include <string.h>

#include "api/server_internal.h"
#include "api/session.h"
#include "util/clock.h"
#include "util/xmalloc.h"

#define HEARTBEAT_MS 15000
#define RECHECK_MS 2000 /* An idle stream looks again at its token this often. */
#define PAGE 200

/* One open stream. It lives as long as the MHD response (freed by stream_free). */
typedef struct stream {
  hitl_request *req;  /* Borrowed: MHD keeps the connection while the response lives. */
  hitl_server *server;
  hitl_sse_load_fn load; /* What the stream sends (the event log, a run's commands). */
  void *ctx;
  void (*ctx_free)(void *ctx);
  char key[HITL_ID_LEN]; /* The waiters key that a commit of news wakes. */
  int64_t after;      /* Last seq sent. */
  hitl_buf pending;   /* Bytes ready to send. */
  size_t sent;        /* Of pending. */
  int64_t last_write; /* When bytes were last handed out (ms). */
} stream;

/* Appends events after *after as SSE frames; returns how many. */
static int load_events(void *ctx, hitl_store *st, int64_t *after, hitl_buf *out) {
  (void)ctx;
  hitl_event *evs = NULL;
  size_t n = 0;
  if (st->vt->event_list(st, *after, PAGE, &evs, &n) != 0) return 0;
  for (size_t i = 0; i < n; i++) {
    hitl_event *e = &evs[i];
    /* Types, names and ids contain no newline, and compact JSON has none: one data line. */
    hitl_buf_printf(out, "id: %lld\nevent: %s\ndata: ", (long long)e->seq, e->type);
    hitl__event_to_json(out, e);
    hitl_buf_puts(out, "\n\n");
    *after = e->seq;
    hitl_event_clear(e);
  }
  free(evs);
  return (int)n;
}

/* Loads what came after s->after into s->pending: > 0 when some came, 0 when none, < 0 when the
 * stream is over. */
static int load(stream *s, hitl_store *st) { return s->load(s->ctx, st, &s->after, &s->pending); }

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  stream *s = cls;
  hitl_server *srv = s->server;
  if (s->sent == s->pending.len) {
    hitl_buf_reset(&s->pending);
    s->sent = 0;
    if (__atomic_load_n(&srv->stopping, __ATOMIC_ACQUIRE)) return MHD_CONTENT_READER_END_OF_STREAM;
    /* A revoked token or an ended session ends the stream: it is asked at every wake-up, and a
     * revocation or sign-out wakes every stream. */
    if (!hitl__principal_recheck(s->req)) return MHD_CONTENT_READER_END_OF_STREAM;
    hitl_store *st = hitl__server_reader(srv);
    if (st == NULL) return MHD_CONTENT_READER_END_WITH_ERROR;
    int got = load(s, st);
    if (got < 0) return MHD_CONTENT_READER_END_OF_STREAM;
    if (got == 0) {
      int64_t now = hitl_now_ms();
      if (now - s->last_write >= HEARTBEAT_MS) {
        /* Nothing new for a while: an SSE comment keeps proxies from closing an idle
         * connection, and writing is how a vanished client is noticed. */
        hitl_buf_puts(&s->pending, ": keep-alive\n\n");
      } else {
        /* Suspend until the next commit, the next check of the token or the heartbeat, then
         * look again for what raced in. */
        int64_t wake = s->last_write + HEARTBEAT_MS;
        if (wake > now + RECHECK_MS) wake = now + RECHECK_MS;
        MHD_suspend_connection(s->req->conn);
        hitl__waiters_add(srv->waiters, s->req, s->key, wake);
        if (load(s, st) == 0) return 0;
        if (hitl__waiters_remove(srv->waiters, s->req, s->key))
          MHD_resume_connection(s->req->conn);
        else
          return 0; /* Someone resumes us; we send on the next call. */
      }
    }
  }
  size_t n = s->pending.len - s->sent;
  if (n > max) n = max;
  memcpy(buf, s->pending.data + s->sent, n);
  s->sent += n;
  s->last_write = hitl_now_ms();
  return (ssize_t)n;
}

static void stream_free(void *cls) {
  stream *s = cls;
  if (s->ctx_free) s->ctx_free(s->ctx);
  hitl_buf_free(&s->pending);
  free(s);
}

void hitl__sse_begin(hitl_request *req, const char *key, int64_t after, hitl_sse_load_fn load_fn,
                     void *ctx, void (*ctx_free)(void *ctx)) {
  stream *s = hitl_xcalloc(1, sizeof *s);
  s->req = req;
  s->server = req->server;
  s->load = load_fn;
  s->ctx = ctx;
  s->ctx_free = ctx_free;
  snprintf(s->key, sizeof s->key, "%s", key);
  s->after = after;
  s->last_write = hitl_now_ms();
  /* A retry hint, then the news. */
  hitl_buf_puts(&s->pending, "retry: 2000\n\n");
  struct MHD_Response *resp =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, s, stream_free);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  req->stream = resp;
  req->status = 200;
  req->phase = HITL_PHASE_ANSWERED;
}

void hitl__h_events_stream(hitl_request *req) {
  const char *after = hitl__query(req, "after");
  if (after == NULL) after = hitl__header(req, "Last-Event-ID");
  long long from = 0;
  if (after) {
    char *end;
    from = strtoll(after, &end, 10);
    if (*after == '\0' || *end || from < 0) {
      hitl__reply_error(req, HITL_EVALIDATION, "after", "after must be an event seq (0 or more)");
      return;
    }
  }
  if (!hitl__limits_wait_begin(req)) return; /* 429: the token has its waits open already. */
  hitl__sse_begin(req, HITL_EVENTS_KEY, from, load_events, NULL, NULL);
}
