/* SPDX-License-Identifier: MIT */
/* The webhooks of a queue configuration: their URLs, events and secrets, as a PUT sends them or
 * the store keeps them, and the form every reader sees (secrets replaced by hints). */
#include "api/queue_webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_check.h"
#include "api/webhook_secret.h"
#include "util/clock.h"
#include "util/xmalloc.h"

#define MAX_WEBHOOKS 16
#define MAX_EVENTS 32        /* Event types one webhook may subscribe to. */
#define MAX_EVENT_NAME 64
#define MAX_URL 2048
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A webhook's keys: those of a PUT, those only stored (the server keeps the secret a rotation
 * replaced), and those only shown (accepted so that a configuration read back can be PUT). */
static const char *const webhook_keys[] = {"url", "events", "secret", "rotate_secret",
                                           "previous_secret", "previous_secret_until",
                                           "secret_hint", "previous_secret_hint",
                                           "rotation_ends_at", NULL};
/* The event types of a queue that a webhook may ask for (docs/queues.md lists them). */
static const char *const webhook_events[] = {
    "task.submitted", "task.leased", "task.lease_renewed", "task.lease_expired", "task.released",
    "task.skipped", "task.responded", "task.escalated", "task.decided", "task.expired",
    "task.cancelled", "queue.updated", NULL};

/* True when s is an absolute http or https URL with a host part and no spaces or controls. */
static bool is_http_url(const char *s, size_t n) {
  size_t skip;
  if (strncmp(s, "http://", 7) == 0) skip = 7;
  else if (strncmp(s, "https://", 8) == 0) skip = 8;
  else return false;
  if (n <= skip || s[skip] == '/' || s[skip] == '?' || s[skip] == '#') return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f) return false;
  return true;
}

/* The webhook of prev with url, preferring index i (URLs are distinct within a queue). */
static const hitl_webhook *webhook_by_url(const hitl_queue_config *prev, size_t i,
                                          const char *url) {
  if (prev == NULL) return NULL;
  if (i < prev->n_webhooks && strcmp(prev->webhooks[i].url, url) == 0) return &prev->webhooks[i];
  for (size_t k = 0; k < prev->n_webhooks; k++)
    if (strcmp(prev->webhooks[k].url, url) == 0) return &prev->webhooks[k];
  return NULL;
}

/* True when v is a string that is a valid secret, with no NUL inside. */
static bool secret_ok(const json_t *v) {
  return json_is_string(v) && json_string_length(v) < HITL_WEBHOOK_SECRET_LEN &&
         strlen(json_string_value(v)) == json_string_length(v) &&
         hitl__webhook_secret_valid(json_string_value(v));
}

/* Reads the secret members of webhook h (path at) into w. */
static int parse_webhook_secret(const json_t *h, const char *at, const hitl_webhook_parse *m,
                                hitl_webhook *w, hitl_err *err) {
  char field[HITL_FIELD_PATH_LEN];
  json_t *v;
  if ((v = hitl__json_member(h, "secret")) != NULL) {
    hitl__path_key(field, at, "secret");
    if (!secret_ok(v))
      return hitl__invalid(err, field,
                           "secret must be \"whsec_\" followed by the standard base64 (with "
                           "padding) of %d to %d random bytes",
                           HITL_WEBHOOK_SECRET_MIN, HITL_WEBHOOK_SECRET_MAX);
    w->secret = hitl_xstrdup(json_string_value(v));
  }
  if ((v = hitl__json_member(h, "rotate_secret")) != NULL) {
    hitl__path_key(field, at, "rotate_secret");
    if (!json_is_boolean(v)) return hitl__invalid(err, field, "rotate_secret must be true or false");
    if (json_is_true(v) && w->secret)
      return hitl__invalid(err, field, "give either a new secret or rotate_secret, not both");
    w->rotate = m->put && json_is_true(v);
  }
  json_t *prev = hitl__json_member(h, "previous_secret"),
         *until = hitl__json_member(h, "previous_secret_until");
  if (m->put && (prev || until)) {
    hitl__path_key(field, at, prev ? "previous_secret" : "previous_secret_until");
    return hitl__invalid(err, field,
                         "the server keeps the previous secret: rotate with a new secret or "
                         "rotate_secret");
  }
  if (prev) {
    hitl__path_key(field, at, "previous_secret");
    if (!secret_ok(prev) || !json_is_integer(until))
      return hitl__invalid(err, field, "previous_secret must be a secret with "
                                       "previous_secret_until");
    w->previous_secret = hitl_xstrdup(json_string_value(prev));
    w->previous_until = json_integer_value(until);
  }
  static const char *const shown[] = {"secret_hint", "previous_secret_hint", "rotation_ends_at"};
  for (size_t k = 0; k < COUNT(shown); k++)
    if ((v = hitl__json_member(h, shown[k])) != NULL && !json_is_string(v)) {
      hitl__path_key(field, at, shown[k]);
      return hitl__invalid(err, field, "%s is shown by the server and must be a string if sent",
                           shown[k]);
    }
  return 0;
}

/* Adds w's secrets, as stored, to its normalized form nh. */
static void store_webhook_secret(json_t *nh, const hitl_webhook *w) {
  if (w->secret) json_object_set_new(nh, "secret", json_string(w->secret));
  if (w->previous_secret) {
    json_object_set_new(nh, "previous_secret", json_string(w->previous_secret));
    json_object_set_new(nh, "previous_secret_until", json_integer(w->previous_until));
  }
}

int hitl__queue_webhooks_parse(const json_t *hooks, const hitl_webhook_parse *m,
                               hitl_queue_config *q, json_t *norm, hitl_err *err) {
  json_t *nhooks = json_array();
  json_object_set_new(norm, "webhooks", nhooks);
  if (hooks == NULL) return 0;
  if (!json_is_array(hooks) || json_array_size(hooks) > MAX_WEBHOOKS)
    return hitl__invalid(err, "webhooks", "webhooks must be an array of at most %d objects",
                   MAX_WEBHOOKS);
  size_t i;
  json_t *h;
  json_array_foreach(hooks, i, h) {
    char at[HITL_FIELD_PATH_LEN], field[HITL_FIELD_PATH_LEN];
    hitl__path_index(at, "webhooks", i);
    int rc = json_is_object(h) ? 0 : hitl__invalid(err, at, "a webhook must be an object");
    if (rc == 0) rc = hitl__json_check_keys(h, at, "a webhook", webhook_keys, err);
    if (rc < 0) return rc;
    hitl__path_key(field, at, "url");
    json_t *url = hitl__json_member(h, "url");
    if (url == NULL) return hitl__invalid(err, field, "url is required");
    if (!json_is_string(url) || json_string_length(url) > MAX_URL ||
        !is_http_url(json_string_value(url), json_string_length(url)))
      return hitl__invalid(err, field, "url must be an http:// or https:// URL of at most %d bytes",
                     MAX_URL);
    if (webhook_by_url(q, i, json_string_value(url)))
      return hitl__invalid(err, field,
                           "another webhook of the queue has this url: list its events in one");
    json_t *nh = json_pack("{s:s}", "url", json_string_value(url));
    json_array_append_new(nhooks, nh);
    if (q->webhooks == NULL) q->webhooks = hitl_xcalloc(json_array_size(hooks), sizeof *q->webhooks);
    hitl_webhook *w = &q->webhooks[q->n_webhooks++];
    w->url = hitl_xstrdup(json_string_value(url));
    if ((rc = parse_webhook_secret(h, at, m, w, err)) < 0) return rc;
    if (m->put) hitl__webhook_secret_settle(w, webhook_by_url(m->previous, i, w->url), m->now);
    store_webhook_secret(nh, w);
    hitl__path_key(field, at, "events");
    json_t *events = hitl__json_member(h, "events");
    if (events == NULL) continue;
    if (!json_is_array(events) || json_array_size(events) > MAX_EVENTS)
      return hitl__invalid(err, field, "events must be an array of at most %d event types", MAX_EVENTS);
    size_t j;
    json_t *e;
    json_array_foreach(events, j, e) {
      char ef[HITL_FIELD_PATH_LEN];
      hitl__path_index(ef, field, j);
      if (!json_is_string(e) || json_string_length(e) == 0 ||
          json_string_length(e) > MAX_EVENT_NAME)
        return hitl__invalid(err, ef, "an event type must be a string of 1 to %d bytes",
                       MAX_EVENT_NAME);
      bool known = false;
      for (size_t k = 0; webhook_events[k] && !known; k++)
        known = strcmp(json_string_value(e), webhook_events[k]) == 0;
      if (!known)
        return hitl__invalid(err, ef,
                             "\"%s\" is not an event type of a queue: use task.submitted, "
                             "task.leased, task.lease_renewed, task.lease_expired, task.released, "
                             "task.skipped, task.responded, task.escalated, task.decided, "
                             "task.expired, task.cancelled or queue.updated",
                             json_string_value(e));
      if (w->events == NULL) w->events = hitl_xcalloc(json_array_size(events), sizeof *w->events);
      w->events[w->n_events++] = hitl_xstrdup(json_string_value(e));
    }
    json_object_set_new(nh, "events", json_deep_copy(events));
  }
  return 0;
}

/* Replaces the secrets of the webhooks in norm by hints, for every reader. */
void hitl__queue_webhooks_hide(json_t *norm, const hitl_queue_config *q) {
  json_t *hooks = json_object_get(norm, "webhooks");
  for (size_t i = 0; i < json_array_size(hooks) && i < q->n_webhooks; i++) {
    json_t *h = json_array_get(hooks, i);
    const hitl_webhook *w = &q->webhooks[i];
    char hint[HITL_WEBHOOK_HINT_LEN];
    json_object_del(h, "secret");
    json_object_del(h, "previous_secret");
    json_object_del(h, "previous_secret_until");
    if (w->secret) {
      hitl__webhook_secret_hint(w->secret, hint);
      json_object_set_new(h, "secret_hint", json_string(hint));
    }
    if (w->previous_secret) {
      char until[HITL_TIME_LEN];
      hitl__webhook_secret_hint(w->previous_secret, hint);
      hitl_time_format(w->previous_until, until);
      json_object_set_new(h, "previous_secret_hint", json_string(hint));
      json_object_set_new(h, "rotation_ends_at", json_string(until));
    }
  }
}

