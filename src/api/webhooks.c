/* SPDX-License-Identifier: MIT */
/* Webhooks. A delivery is written to the outbox in the transaction of its event, so an event is
 * never committed without its deliveries nor the other way round. One worker thread POSTs due
 * deliveries with libcurl (several at once), and records each attempt through the writer: a 2xx
 * answer delivers, anything else is retried with a growing delay for more than a day, then the
 * delivery fails. Each attempt is signed as the Standard Webhooks specification says, with the
 * webhook's secrets as they are when it is sent. Delivery is at least once: a receiver tells
 * repeats apart by webhook-id (the same as X-Hitl-Delivery). */
#include "api/webhooks.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server_internal.h"
#include "api/task_json.h"
#include "api/webhook_secret.h"
#include "util/clock.h"
#include "util/id.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define MAX_IN_FLIGHT 8          /* Deliveries POSTed at once. */
#define MAX_WAIT_MS 1000         /* Longest the worker sleeps without looking at the outbox. */
#define CONNECT_TIMEOUT_MS 5000
#define TRANSFER_TIMEOUT_MS 10000
#define MAX_RETRY_FACTOR 2048     /* The delay doubles up to this many times the first. */
/* How long a delivery taken for an attempt is not due to other servers: the attempt's longest
 * time, and a margin for storing its outcome. A server that dies mid-attempt leaves its delivery
 * to be tried again after this. */
#define HOLD_MS (TRANSFER_TIMEOUT_MS + 2000)

/* One delivery being POSTed or having its attempt recorded. */
typedef struct transfer {
  hitl_job job;                 /* Records the attempt; first, so the job is the transfer. */
  hitl_webhooks *owner;
  bool used;
  bool recorded;                /* The attempt is stored: the slot may be reused. */
  CURL *easy;
  struct curl_slist *headers;
  hitl_delivery d;              /* As read, then updated with the attempt's outcome. */
  char error[CURL_ERROR_SIZE];
} transfer;

struct hitl_webhooks {
  hitl_server *server;
  char *secret;                 /* NULL: deliveries go unsigned. */
  int64_t retry_ms;
  pthread_t thread;
  bool running;
  CURLM *multi;
  pthread_mutex_t lock;         /* Guards stop and the slots' recorded flags. */
  bool stop;
  transfer slots[MAX_IN_FLIGHT];
  bool stored;                  /* The open transaction stored deliveries (writer thread). */
  uint64_t delivered, retried, failed; /* Atomics. */
};

int64_t hitl__webhooks_backoff(int64_t retry_ms, int attempts) {
  int64_t base = retry_ms > 0 ? retry_ms : HITL_WEBHOOK_DEFAULT_RETRY_MS, factor = 1;
  for (int i = 1; i < attempts && factor < MAX_RETRY_FACTOR; i++) factor *= 2;
  int64_t delay = base * factor;
  uint32_t tenth = (uint32_t)(delay / 10);
  return delay + (tenth ? (int64_t)randombytes_uniform(tenth + 1) : 0);
}

void hitl__webhooks_sign(const char *secret, int64_t t, const char *body, size_t len, char *out,
                         size_t out_len) {
  char stamp[24];
  int n = snprintf(stamp, sizeof stamp, "%lld.", (long long)t);
  crypto_auth_hmacsha256_state st;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)stamp, (unsigned long long)n);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
  crypto_auth_hmacsha256_final(&st, mac);
  char hex[2 * crypto_auth_hmacsha256_BYTES + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  snprintf(out, out_len, "t=%lld,v1=%s", (long long)t, hex);
}

hitl_webhooks *hitl__webhooks_new(hitl_server *s, const char *secret, int64_t retry_ms) {
  hitl_webhooks *w = hitl_xcalloc(1, sizeof *w);
  w->server = s;
  w->secret = secret && secret[0] ? hitl_xstrdup(secret) : NULL;
  w->retry_ms = retry_ms > 0 ? retry_ms : HITL_WEBHOOK_DEFAULT_RETRY_MS;
  /* libcurl's global state, counted, so that hitl serve needs nothing of main(). */
  curl_global_init(CURL_GLOBAL_DEFAULT);
  w->multi = curl_multi_init(); /* Before any thread can wake it. */
  pthread_mutex_init(&w->lock, NULL);
  return w;
}

/* ---- the outbox (writer thread) ------------------------------------------------------------ */

/* The body of a delivery: the event as GET /v1/events shows it and the task as it is now. */
static int delivery_body(hitl_store *st, const hitl_change *c, const char *id, hitl_buf *b) {
  hitl_event *evs = NULL;
  size_t n = 0;
  int rc = st->vt->event_list(st, c->seq - 1, 1, &evs, &n);
  if (rc != 0) return rc;
  if (n != 1 || evs[0].seq != c->seq) {
    for (size_t i = 0; i < n; i++) hitl_event_clear(&evs[i]);
    free(evs);
    return HITL_ESTORE;
  }
  hitl_buf_puts(b, "{\"delivery_id\":");
  hitl_buf_json_cstr(b, id);
  hitl_buf_puts(b, ",\"event\":");
  hitl__event_to_json(b, &evs[0]);
  hitl_event_clear(&evs[0]);
  free(evs);
  hitl_buf_puts(b, ",\"task\":");
  if (c->task_id[0]) {
    hitl_task t;
    memset(&t, 0, sizeof t);
    rc = st->vt->task_get(st, c->task_id, &t);
    if (rc == 0) hitl__task_to_json(b, &t, NULL, 0, 0);
    hitl_task_clear(&t);
    if (rc != 0) return rc;
  } else {
    hitl_buf_puts(b, "null");
  }
  hitl_buf_putc(b, '}');
  return 0;
}

int hitl__webhooks_outbox(hitl_webhooks *w, hitl_txn *x, const hitl_change *changes, size_t n) {
  hitl_registry *r = w->server->registry;
  /* A batch's changes mostly concern one queue: look its configuration up once per run. */
  int64_t q_id = 0;
  const hitl_queue_config *q = NULL;
  for (size_t i = 0; i < n; i++) {
    const hitl_change *c = &changes[i];
    if (c->queue_id == 0) continue;
    if (c->queue_id != q_id) {
      q_id = c->queue_id;
      q = hitl__registry_config_by_id(r, q_id);
    }
    if (q == NULL || q->n_webhooks == 0) continue;
    for (size_t k = 0; k < q->n_webhooks; k++) {
      /* A decision by policy travels in the task.submitted event; a webhook for task.decided
       * gets it too, since its receiver wants every decision. */
      const char *type = NULL;
      if (hitl_webhook_wants(&q->webhooks[k], c->type))
        type = c->type;
      else if (c->decided_by && hitl_webhook_wants(&q->webhooks[k], "task.decided"))
        type = "task.decided";
      if (type == NULL) continue;
      char id[HITL_ID_LEN];
      hitl_id_new("wh", id);
      hitl_buf body = HITL_BUF_INIT;
      int rc = delivery_body(x->store, c, id, &body);
      hitl_delivery d = {.id = id, .queue_id = c->queue_id, .url = q->webhooks[k].url,
                         .event_seq = c->seq, .event_type = (char *)type, .body = body.data,
                         .state = HITL_DELIVERY_PENDING, .next_attempt_at = x->now,
                         .created_at = x->now};
      if (rc == 0) rc = x->store->vt->delivery_insert(x->store, &d);
      hitl_buf_free(&body);
      if (rc != 0) {
        hitl_log(HITL_LOG_ERROR, "msg=\"cannot store a webhook delivery\" event=%lld rc=%d",
                 (long long)c->seq, rc);
        return rc;
      }
      w->stored = true;
    }
  }
  return 0;
}

void hitl__webhooks_committed(hitl_webhooks *w) {
  if (!w->stored) return;
  w->stored = false;
  curl_multi_wakeup(w->multi);
}

void hitl__webhooks_wake(hitl_webhooks *w) { curl_multi_wakeup(w->multi); }

/* ---- the worker ------------------------------------------------------------------------------ */

static int record_run(hitl_job *job, hitl_txn *x) {
  transfer *t = (transfer *)job;
  t->d.updated_at = x->now;
  int rc = x->store->vt->delivery_update(x->store, &t->d);
  return rc == HITL_ENOT_FOUND ? 0 : rc; /* Gone (a restored backup): nothing to record. */
}

/* The attempt is stored (or could not be: the delivery stays as it was and is tried again). */
static void record_done(hitl_job *job, int rc) {
  transfer *t = (transfer *)job;
  hitl_webhooks *w = t->owner;
  if (rc)
    hitl_log(HITL_LOG_WARN, "msg=\"cannot record a webhook attempt\" delivery=%s rc=%d", t->d.id,
             rc);
  pthread_mutex_lock(&w->lock);
  t->recorded = true;
  pthread_mutex_unlock(&w->lock);
  curl_multi_wakeup(w->multi);
}

static size_t discard(char *data, size_t size, size_t n, void *arg) {
  (void)data;
  (void)arg;
  return size * n;
}

static bool in_flight(hitl_webhooks *w, const char *id) {
  for (int i = 0; i < MAX_IN_FLIGHT; i++)
    if (w->slots[i].used && strcmp(w->slots[i].d.id, id) == 0) return true;
  return false;
}

/* Adds webhook-signature for t's delivery sent at unix time stamp: signed with the current
 * secrets of the queue's webhook for its URL (none when that webhook is gone or has none). */
static void sign_standard(hitl_webhooks *w, transfer *t, int64_t stamp) {
  hitl_queue_ref *q = hitl__registry_get_by_id(w->server->registry, t->d.queue_id);
  const hitl_webhook *hook = NULL;
  for (size_t i = 0; q && i < q->config->n_webhooks && !hook; i++)
    if (strcmp(q->config->webhooks[i].url, t->d.url) == 0) hook = &q->config->webhooks[i];
  const char *secrets[2];
  size_t n = hook ? hitl__webhook_secrets_valid(hook, hitl_now_ms(), secrets) : 0;
  char h[32 + 2 * HITL_WEBHOOK_SIGNATURE_LEN];
  int len = snprintf(h, sizeof h, "webhook-signature: ");
  if (n && hitl__webhook_signature(secrets, n, t->d.id, stamp, t->d.body, strlen(t->d.body),
                                   h + len, sizeof h - (size_t)len) == 0)
    t->headers = curl_slist_append(t->headers, h);
  else
    hitl_log(HITL_LOG_WARN, "msg=\"webhook delivery sent unsigned: its webhook has no secret\" "
             "delivery=%s", t->d.id);
  hitl__queue_ref_release(q);
}

/* Starts POSTing d (taken) in a free slot. */
static void start(hitl_webhooks *w, transfer *t, hitl_delivery *d) {
  memset(t, 0, sizeof *t);
  t->used = true;
  t->owner = w;
  t->d = *d;
  memset(d, 0, sizeof *d);
  char h[256];
  snprintf(h, sizeof h, "X-Hitl-Delivery: %s", t->d.id);
  t->headers = curl_slist_append(t->headers, h);
  snprintf(h, sizeof h, "X-Hitl-Event: %s", t->d.event_type);
  t->headers = curl_slist_append(t->headers, h);
  snprintf(h, sizeof h, "X-Hitl-Attempt: %d", t->d.attempts + 1);
  t->headers = curl_slist_append(t->headers, h);
  t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
  t->headers = curl_slist_append(t->headers, "Expect:"); /* No 100-continue round trip. */
  int64_t stamp = hitl_now_ms() / 1000;
  snprintf(h, sizeof h, "webhook-id: %s", t->d.id);
  t->headers = curl_slist_append(t->headers, h);
  snprintf(h, sizeof h, "webhook-timestamp: %lld", (long long)stamp);
  t->headers = curl_slist_append(t->headers, h);
  sign_standard(w, t, stamp);
  if (w->secret) {
    char sig[160];
    hitl__webhooks_sign(w->secret, stamp, t->d.body, strlen(t->d.body), sig, sizeof sig);
    snprintf(h, sizeof h, "X-Hitl-Signature: %s", sig);
    t->headers = curl_slist_append(t->headers, h);
  }
  t->easy = curl_easy_init();
  curl_easy_setopt(t->easy, CURLOPT_URL, t->d.url);
  curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->d.body);
  curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(t->d.body));
  curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "hitl-webhooks/1");
  curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
  curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)TRANSFER_TIMEOUT_MS);
  curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
  curl_multi_add_handle(w->multi, t->easy);
}

/* Turns a finished transfer into the delivery's next state and queues it to be stored. */
static void finished(hitl_webhooks *w, transfer *t, CURLcode result) {
  long status = 0;
  if (result == CURLE_OK) curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_multi_remove_handle(w->multi, t->easy);
  curl_easy_cleanup(t->easy);
  t->easy = NULL;
  curl_slist_free_all(t->headers);
  t->headers = NULL;

  int64_t now = hitl_now_ms();
  hitl_delivery *d = &t->d;
  d->attempts++;
  d->last_status = (int)status;
  free(d->last_error);
  d->last_error = NULL;
  if (status >= 200 && status < 300) {
    d->state = HITL_DELIVERY_DELIVERED;
    d->delivered_at = now;
    __atomic_add_fetch(&w->delivered, 1, __ATOMIC_RELAXED);
  } else {
    char why[CURL_ERROR_SIZE + 32];
    if (result != CURLE_OK)
      snprintf(why, sizeof why, "%s", t->error[0] ? t->error : curl_easy_strerror(result));
    else
      snprintf(why, sizeof why, "the receiver answered HTTP %ld", status);
    d->last_error = hitl_xstrdup(why);
    if (d->attempts >= HITL_WEBHOOK_MAX_ATTEMPTS) {
      d->state = HITL_DELIVERY_FAILED;
      __atomic_add_fetch(&w->failed, 1, __ATOMIC_RELAXED);
    } else {
      d->next_attempt_at = now + hitl__webhooks_backoff(w->retry_ms, d->attempts);
      __atomic_add_fetch(&w->retried, 1, __ATOMIC_RELAXED);
    }
    hitl_log(HITL_LOG_WARN, "msg=\"webhook attempt failed\" delivery=%s attempt=%d status=%ld%s",
             d->id, d->attempts, status, d->state == HITL_DELIVERY_FAILED ? " gave_up=1" : "");
  }
  t->job.run = record_run;
  t->job.done = record_done;
  hitl__committer_enqueue(w->server->committer, &t->job);
}

/* Frees the slots whose attempt is stored. */
static size_t reap(hitl_webhooks *w) {
  size_t busy = 0;
  pthread_mutex_lock(&w->lock);
  for (int i = 0; i < MAX_IN_FLIGHT; i++) {
    transfer *t = &w->slots[i];
    if (t->used && t->recorded) {
      hitl_delivery_clear(&t->d);
      t->used = false;
    }
    if (t->used) busy++;
  }
  pthread_mutex_unlock(&w->lock);
  return busy;
}

/* Starts due deliveries in free slots; returns how long the worker may sleep. */
static int fill(hitl_webhooks *w, hitl_store *st, size_t busy) {
  int64_t now = hitl_now_ms();
  if (busy < MAX_IN_FLIGHT) {
    hitl_delivery *due = NULL;
    size_t n = 0;
    if (st->vt->delivery_due(st, now, 2 * MAX_IN_FLIGHT, &due, &n) == 0) {
      for (size_t i = 0; i < n; i++) {
        bool taken = false;
        /* Taken, so that no other server's worker POSTs it too (SQLite: always). */
        if (busy < MAX_IN_FLIGHT && !in_flight(w, due[i].id) &&
            st->vt->delivery_take(st, due[i].seq, now, now + HOLD_MS, &taken) == 0 && taken) {
          for (int k = 0; k < MAX_IN_FLIGHT; k++)
            if (!w->slots[k].used) {
              start(w, &w->slots[k], &due[i]);
              busy++;
              break;
            }
        }
        hitl_delivery_clear(&due[i]);
      }
      free(due);
    }
  }
  int64_t next = 0;
  if (st->vt->delivery_next_due(st, &next) != 0 || next == 0) return MAX_WAIT_MS;
  /* Deliveries in flight stay due until their attempt is stored; that wakes the worker. */
  if (next <= now) return busy ? MAX_WAIT_MS : 10;
  return next - now < MAX_WAIT_MS ? (int)(next - now) : MAX_WAIT_MS;
}

static void *worker_main(void *arg) {
  hitl_webhooks *w = arg;
  pthread_setname_np(pthread_self(), "hitl-webhooks");
  for (;;) {
    pthread_mutex_lock(&w->lock);
    bool stop = w->stop;
    pthread_mutex_unlock(&w->lock);
    if (stop) break;
    size_t busy = reap(w);
    hitl_store *st = hitl__server_reader(w->server);
    int wait_ms = st ? fill(w, st, busy) : MAX_WAIT_MS;
    int running = 0;
    curl_multi_perform(w->multi, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(w->multi, &left)) != NULL) {
      if (msg->msg != CURLMSG_DONE) continue;
      transfer *t = NULL;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
      finished(w, t, msg->data.result);
    }
    curl_multi_poll(w->multi, NULL, 0, wait_ms, NULL);
  }
  /* Abandon what is in flight: those deliveries are still pending in the outbox. A recording job
   * already queued finishes before the committer stops (it is stopped after this thread). */
  for (int i = 0; i < MAX_IN_FLIGHT; i++) {
    transfer *t = &w->slots[i];
    if (t->used && t->easy) {
      curl_multi_remove_handle(w->multi, t->easy);
      curl_easy_cleanup(t->easy);
      curl_slist_free_all(t->headers);
      t->easy = NULL;
      t->headers = NULL;
    }
  }
  return NULL;
}

void hitl__webhooks_run(hitl_webhooks *w) {
  w->running = pthread_create(&w->thread, NULL, worker_main, w) == 0;
}

void hitl__webhooks_stop(hitl_webhooks *w) {
  if (w == NULL || !w->running) return;
  pthread_mutex_lock(&w->lock);
  w->stop = true;
  pthread_mutex_unlock(&w->lock);
  curl_multi_wakeup(w->multi);
  pthread_join(w->thread, NULL);
  w->running = false;
}

void hitl__webhooks_free(hitl_webhooks *w) {
  if (w == NULL) return;
  hitl__webhooks_stop(w);
  /* The committer has stopped by now, so every recording job has run. */
  for (int i = 0; i < MAX_IN_FLIGHT; i++)
    if (w->slots[i].used) hitl_delivery_clear(&w->slots[i].d);
  if (w->multi) curl_multi_cleanup(w->multi);
  curl_global_cleanup();
  pthread_mutex_destroy(&w->lock);
  free(w->secret);
  free(w);
}

void hitl__webhooks_counts(hitl_webhooks *w, uint64_t *delivered, uint64_t *retried,
                           uint64_t *failed) {
  *delivered = __atomic_load_n(&w->delivered, __ATOMIC_RELAXED);
  *retried = __atomic_load_n(&w->retried, __ATOMIC_RELAXED);
  *failed = __atomic_load_n(&w->failed, __ATOMIC_RELAXED);
}
