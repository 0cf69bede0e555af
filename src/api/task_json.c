/* SPDX-License-Identifier: MIT */
/* Conversion of tasks between the API's JSON and the task record. */
#include "api/task_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_text.h"
#include "util/clock.h"
#include "util/xmalloc.h"

#define MAX_ID_LEN 256
#define MAX_PRIORITY 1000000
#define MAX_TASK_DEADLINE 31536000 /* A year, as the queue's sla.deadline_seconds. */

bool hitl__queue_name_valid(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > 64 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

/* Reads an optional string member of at most MAX_ID_LEN bytes, without control characters. */
static int opt_string(const json_t *body, const char *key, const char *prefix, char **out,
                      hitl_err *err) {
  const json_t *v = json_object_get(body, key);
  if (v == NULL || json_is_null(v)) return 0;
  char field[128];
  snprintf(field, sizeof field, "%s%s", prefix, key);
  if (!json_is_string(v))
    return hitl_err_set(err, HITL_EVALIDATION, field, "%s must be a string", key);
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  if (n == 0 || n > MAX_ID_LEN)
    return hitl_err_set(err, HITL_EVALIDATION, field, "%s must have 1 to %d bytes", key, MAX_ID_LEN);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return hitl_err_set(err, HITL_EVALIDATION, field, "%s must not contain control characters", key);
  *out = hitl_xstrdup(s);
  return 0;
}

static const char *const known_keys[] = {
    "input", "output", "context", "metadata", "confidence", "probabilities", "priority",
    "model_version", "inference_id", "run_id", "external_id", "idempotency_key",
    "deadline_seconds"};

int hitl__task_from_json(const json_t *body, const char *header_key, const char *prefix,
                         hitl_task *t, hitl_err *err) {
  char field[128];
  if (!json_is_object(body)) {
    snprintf(field, sizeof field, "%.*s", (int)(prefix[0] ? strlen(prefix) - 1 : 0), prefix);
    return hitl_err_set(err, HITL_EVALIDATION, field[0] ? field : NULL,
                        "a task must be a JSON object with at least \"input\"");
  }
  const char *key;
  const json_t *v;
  json_object_foreach((json_t *)body, key, v) {
    bool known = false;
    for (size_t i = 0; i < sizeof known_keys / sizeof *known_keys && !known; i++)
      known = strcmp(key, known_keys[i]) == 0;
    if (!known) {
      snprintf(field, sizeof field, "%s%s", prefix, key);
      return hitl_err_set(err, HITL_EVALIDATION, field,
                          "unknown field \"%s\"; a task has input, output, context, metadata, "
                          "confidence, probabilities, priority, model_version, inference_id, "
                          "run_id, external_id, idempotency_key, deadline_seconds", key);
    }
  }
  if (json_object_get(body, "input") == NULL) {
    snprintf(field, sizeof field, "%sinput", prefix);
    return hitl_err_set(err, HITL_EVALIDATION, field, "input is required: the item to decide");
  }
  const json_t *md = json_object_get(body, "metadata");
  if (md && !json_is_object(md) && !json_is_null(md)) {
    snprintf(field, sizeof field, "%smetadata", prefix);
    return hitl_err_set(err, HITL_EVALIDATION, field, "metadata must be an object");
  }
  const json_t *conf = json_object_get(body, "confidence");
  if (conf && !json_is_null(conf)) {
    snprintf(field, sizeof field, "%sconfidence", prefix);
    if (!json_is_number(conf))
      return hitl_err_set(err, HITL_EVALIDATION, field, "confidence must be a number from 0 to 1");
    double c = json_number_value(conf);
    if (!(c >= 0.0 && c <= 1.0))
      return hitl_err_set(err, HITL_EVALIDATION, field, "confidence must be a number from 0 to 1");
    t->has_confidence = true;
    t->confidence = c;
  }
  const json_t *probs = json_object_get(body, "probabilities");
  if (probs && !json_is_null(probs)) {
    snprintf(field, sizeof field, "%sprobabilities", prefix);
    if (!json_is_object(probs) || json_object_size(probs) == 0)
      return hitl_err_set(err, HITL_EVALIDATION, field,
                          "probabilities must be an object of class name to probability");
    const char *cls;
    const json_t *p;
    double sum = 0;
    json_object_foreach((json_t *)probs, cls, p) {
      double x = json_is_number(p) ? json_number_value(p) : -1;
      if (!(x >= 0.0 && x <= 1.0))
        return hitl_err_set(err, HITL_EVALIDATION, field,
                            "probability of \"%s\" must be a number from 0 to 1", cls);
      sum += x;
    }
    if (sum > 1.0 + 1e-6)
      return hitl_err_set(err, HITL_EVALIDATION, field, "probabilities add up to %g, more than 1", sum);
  }
  const json_t *prio = json_object_get(body, "priority");
  if (prio && !json_is_null(prio)) {
    snprintf(field, sizeof field, "%spriority", prefix);
    if (!json_is_integer(prio) || json_integer_value(prio) < -MAX_PRIORITY ||
        json_integer_value(prio) > MAX_PRIORITY)
      return hitl_err_set(err, HITL_EVALIDATION, field,
                          "priority must be an integer from -%d to %d", MAX_PRIORITY, MAX_PRIORITY);
    t->priority = (int)json_integer_value(prio);
  }
  /* A task's own deadline, for agents that must fail closed (core/lifecycle.c). */
  const json_t *dl = json_object_get(body, "deadline_seconds");
  if (dl && !json_is_null(dl)) {
    snprintf(field, sizeof field, "%sdeadline_seconds", prefix);
    if (!json_is_integer(dl) || json_integer_value(dl) < 1 ||
        json_integer_value(dl) > MAX_TASK_DEADLINE)
      return hitl_err_set(err, HITL_EVALIDATION, field,
                          "deadline_seconds must be a whole number of seconds from 1 to %d",
                          MAX_TASK_DEADLINE);
    t->deadline_seconds = json_integer_value(dl);
  }
  int rc;
  if ((rc = opt_string(body, "model_version", prefix, &t->model_version, err)) ||
      (rc = opt_string(body, "inference_id", prefix, &t->inference_id, err)) ||
      (rc = opt_string(body, "run_id", prefix, &t->run_id, err)) ||
      (rc = opt_string(body, "external_id", prefix, &t->external_id, err)) ||
      (rc = opt_string(body, "idempotency_key", prefix, &t->idempotency_key, err)))
    return rc;
  if (t->idempotency_key == NULL && header_key && *header_key) {
    json_t *wrap = json_pack("{ss}", "idempotency_key", header_key);
    rc = wrap ? opt_string(wrap, "idempotency_key", prefix, &t->idempotency_key, err)
              : hitl_err_set(err, HITL_EVALIDATION, "Idempotency-Key", "the Idempotency-Key header must be UTF-8");
    json_decref(wrap);
    if (rc) return rc;
  }

  /* The payload keeps what the reviewer and the exports need; the hash covers the whole body
   * but the key, so a retry with the same key and body matches. */
  json_t *payload = json_object();
  const char *parts[] = {"input", "output", "context", "metadata", "probabilities"};
  for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
    json_t *p = json_object_get(body, parts[i]);
    if (p) json_object_set(payload, parts[i], p);
  }
  t->payload = hitl__json_text(payload, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(payload);
  json_t *copy = json_copy((json_t *)body);
  json_object_del(copy, "idempotency_key");
  char *canon = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(copy);
  if (t->payload == NULL || canon == NULL) {
    free(canon);
    snprintf(field, sizeof field, "%.*s", (int)(prefix[0] ? strlen(prefix) - 1 : 0), prefix);
    return hitl_err_set(err, HITL_EVALIDATION, field[0] ? field : NULL,
                        "the task cannot be encoded");
  }
  hitl_hash(canon, strlen(canon), t->body_hash);
  free(canon);
  return 0;
}

static void put_str(hitl_buf *b, const char *key, const char *value) {
  hitl_buf_printf(b, ",\"%s\":", key);
  hitl_buf_json_cstr(b, value);
}

void hitl__json_time_member(hitl_buf *b, const char *key, int64_t ms) {
  hitl_buf_puts(b, ",\"");
  hitl_buf_puts(b, key);
  if (ms == 0) {
    hitl_buf_puts(b, "\":null");
    return;
  }
  char ts[HITL_TIME_LEN];
  hitl_time_format(ms, ts);
  hitl_buf_puts(b, "\":\"");
  hitl_buf_puts(b, ts);
  hitl_buf_putc(b, '"');
}

void hitl__task_to_json(hitl_buf *b, const hitl_task *t, const hitl_response *responses, size_t n,
                        int flags) {
  hitl_buf_puts(b, "{\"id\":");
  hitl_buf_json_cstr(b, t->id);
  put_str(b, "queue", t->queue);
  hitl_buf_printf(b, ",\"state\":\"%s\",\"priority\":%d", hitl_task_state_name(t->state), t->priority);
  /* The payload's members (input, output, ...) go into the task object itself. */
  size_t plen = t->payload ? strlen(t->payload) : 0;
  if (plen > 2) {
    hitl_buf_putc(b, ',');
    hitl_buf_append(b, t->payload + 1, plen - 2);
  }
  if (t->has_confidence) {
    hitl_buf_puts(b, ",\"confidence\":");
    hitl_buf_double(b, t->confidence);
  } else
    hitl_buf_puts(b, ",\"confidence\":null");
  put_str(b, "model_version", t->model_version);
  put_str(b, "inference_id", t->inference_id);
  put_str(b, "run_id", t->run_id);
  put_str(b, "external_id", t->external_id);
  put_str(b, "idempotency_key", t->idempotency_key);
  put_str(b, "role", t->role);
  hitl_buf_printf(b, ",\"stage\":%d,\"answers\":%d,\"needed\":%d", t->stage, t->answers, t->needed);
  hitl__json_time_member(b, "created_at", t->created_at);
  hitl__json_time_member(b, "updated_at", t->updated_at);
  hitl__json_time_member(b, "deadline_at", t->deadline_at);
  hitl_buf_printf(b, ",\"route\":%s", t->route ? t->route : "null");
  hitl_buf_printf(b, ",\"decision\":%s", t->decision ? t->decision : "null");
  if ((flags & HITL_TASK_JSON_LEASE) && t->state == HITL_TASK_LEASED) {
    hitl_buf_puts(b, ",\"lease\":{\"id\":");
    hitl_buf_json_cstr(b, t->lease_id);
    put_str(b, "owner", t->lease_owner);
    hitl__json_time_member(b, "expires_at", t->lease_expires_at);
    hitl_buf_putc(b, '}');
  }
  if (flags & HITL_TASK_JSON_RESPONSES) {
    hitl_buf_puts(b, ",\"responses\":[");
    for (size_t i = 0; i < n; i++) {
      const hitl_response *r = &responses[i];
      if (i) hitl_buf_putc(b, ',');
      hitl_buf_puts(b, "{\"id\":");
      hitl_buf_json_cstr(b, r->id);
      put_str(b, "reviewer", r->reviewer);
      put_str(b, "question", r->question);
      put_str(b, "kind", r->kind);
      hitl_buf_printf(b, ",\"value\":%s", r->value ? r->value : "null");
      put_str(b, "comment", r->comment);
      hitl_buf_printf(b, ",\"stage\":%d,\"time_spent_ms\":%lld", r->stage, (long long)r->time_spent_ms);
      hitl__json_time_member(b, "created_at", r->created_at);
      hitl_buf_putc(b, '}');
    }
    hitl_buf_putc(b, ']');
  }
  hitl_buf_putc(b, '}');
}
