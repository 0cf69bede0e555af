/* SPDX-License-Identifier: MIT */
/* Agent runs as JSON: decoding what agents and people send, encoding what they read. */
#include "api/run_json.h"

#include <stdlib.h>
#include <string.h>

#include "api/json_check.h"
#include "api/json_text.h"
#include "api/task_json.h"
#include "core/run_control.h"
#include "util/xmalloc.h"

static int need_object(const json_t *body, const char *what, hitl_err *err) {
  if (json_is_object(body)) return 0;
  return hitl__invalid(err, NULL, "the body must be a JSON object: %s", what);
}

/* Reads the string member key of body into *out (borrowed; NULL when absent or null), checking
 * its length (1..max bytes). */
static int get_text(const json_t *body, const char *key, size_t max, bool required,
                    const char **out, hitl_err *err) {
  *out = NULL;
  json_t *v = hitl__json_member(body, key);
  if (v == NULL) {
    if (required) return hitl__invalid(err, key, "\"%s\" is required: a string", key);
    return 0;
  }
  if (!json_is_string(v)) return hitl__invalid(err, key, "\"%s\" must be a string", key);
  size_t n = json_string_length(v);
  if (n == 0 || n > max)
    return hitl__invalid(err, key, "\"%s\" must be 1 to %zu bytes long (it is %zu)", key, max, n);
  if (strlen(json_string_value(v)) != n)
    return hitl__invalid(err, key, "\"%s\" must not hold a NUL character", key);
  *out = json_string_value(v);
  return 0;
}

int hitl__run_from_json(const json_t *body, hitl_run *r, hitl_err *err) {
  static const char *const keys[] = {"agent", "goal", "metadata", "heartbeat_seconds", NULL};
  int rc = need_object(body, "{\"agent\", \"goal\", \"metadata\", \"heartbeat_seconds\"}", err);
  if (rc == 0) rc = hitl__json_check_keys(body, "", "a run", keys, err);
  const char *agent = NULL, *goal = NULL;
  if (rc == 0) rc = get_text(body, "agent", HITL_RUN_MAX_AGENT, true, &agent, err);
  if (rc == 0) rc = get_text(body, "goal", HITL_RUN_MAX_TEXT, false, &goal, err);
  if (rc) return rc;
  json_t *meta = hitl__json_member(body, "metadata");
  if (meta && !json_is_object(meta))
    return hitl__invalid(err, "metadata", "\"metadata\" must be a JSON object");
  json_t *hb = hitl__json_member(body, "heartbeat_seconds");
  json_int_t seconds = HITL_RUN_DEFAULT_HEARTBEAT;
  if (hb) {
    if (!json_is_integer(hb) || json_integer_value(hb) < HITL_RUN_MIN_HEARTBEAT ||
        json_integer_value(hb) > HITL_RUN_MAX_HEARTBEAT)
      return hitl__invalid(err, "heartbeat_seconds",
                           "\"heartbeat_seconds\" must be a whole number from %d to %d",
                           HITL_RUN_MIN_HEARTBEAT, HITL_RUN_MAX_HEARTBEAT);
    seconds = json_integer_value(hb);
  }
  char *meta_text = NULL;
  if (meta && (meta_text = hitl__json_text(meta, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
    return hitl_err_set(err, HITL_EUNAVAILABLE, NULL, "out of memory; retry later");
  r->agent = hitl_xstrdup(agent);
  r->goal = goal ? hitl_xstrdup(goal) : NULL;
  r->metadata = meta_text;
  r->heartbeat_seconds = (int)seconds;
  return 0;
}

int hitl__run_heartbeat_from_json(const json_t *body, bool *finish, hitl_err *err) {
  static const char *const keys[] = {"state", NULL};
  *finish = false;
  if (body == NULL) return 0;
  int rc = need_object(body, "{} or {\"state\": \"finished\"}", err);
  if (rc == 0) rc = hitl__json_check_keys(body, "", "a heartbeat", keys, err);
  if (rc) return rc;
  json_t *v = hitl__json_member(body, "state");
  if (v == NULL) return 0;
  const char *s = json_string_value(v);
  if (s == NULL || (strcmp(s, "running") != 0 && strcmp(s, "finished") != 0))
    return hitl__invalid(err, "state",
                         "\"state\" must be \"running\" or \"finished\" (the agent is done)");
  *finish = strcmp(s, "finished") == 0;
  return 0;
}

int hitl__run_step_from_json(const json_t *body, const char **text, char **data, hitl_err *err) {
  static const char *const keys[] = {"text", "data", NULL};
  *data = NULL;
  int rc = need_object(body, "{\"text\": \"...\", \"data\": {...}}", err);
  if (rc == 0) rc = hitl__json_check_keys(body, "", "a step", keys, err);
  if (rc == 0) rc = get_text(body, "text", HITL_RUN_MAX_TEXT, true, text, err);
  if (rc) return rc;
  json_t *d = hitl__json_member(body, "data");
  if (d && (*data = hitl__json_text(d, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)) == NULL)
    return hitl_err_set(err, HITL_EUNAVAILABLE, NULL, "out of memory; retry later");
  return 0;
}

int hitl__run_command_from_json(const json_t *body, hitl_run_command_type *type,
                                const char **goal, hitl_err *err) {
  static const char *const keys[] = {"type", "goal", NULL};
  *goal = NULL;
  int rc = need_object(body, "{\"type\": \"pause\" | \"resume\" | \"stop\" | \"goal\"}", err);
  if (rc == 0) rc = hitl__json_check_keys(body, "", "a command", keys, err);
  if (rc) return rc;
  json_t *t = hitl__json_member(body, "type");
  int parsed = json_is_string(t) ? hitl_run_command_parse(json_string_value(t)) : -1;
  if (parsed < 0)
    return hitl__invalid(err, "type",
                         "\"type\" must be \"pause\", \"resume\", \"stop\" or \"goal\"");
  *type = (hitl_run_command_type)parsed;
  bool wants_goal = *type == HITL_RUN_GOAL;
  if (!wants_goal && hitl__json_member(body, "goal"))
    return hitl__invalid(err, "goal", "only a \"goal\" command takes a \"goal\"");
  return wants_goal ? get_text(body, "goal", HITL_RUN_MAX_TEXT, true, goal, err) : 0;
}

/* Appends ,"key":<s as a JSON string> or ,"key":null. */
/* Appends ,"key": (key a literal without escapes). */
static void put_key(hitl_buf *b, const char *key) {
  hitl_buf_puts(b, ",\"");
  hitl_buf_puts(b, key);
  hitl_buf_puts(b, "\":");
}

static void put_str(hitl_buf *b, const char *key, const char *s) {
  put_key(b, key);
  hitl_buf_json_cstr(b, s); /* null when s is NULL. */
}

static void put_int(hitl_buf *b, const char *key, long long v) {
  put_key(b, key);
  hitl_buf_int(b, v);
}

/* Every heartbeat answers with this, so it is built from puts, not printf. */
void hitl__run_to_json(hitl_buf *b, const hitl_run *r) {
  hitl_buf_puts(b, "{\"id\":\"");
  hitl_buf_puts(b, r->id);
  hitl_buf_putc(b, '"');
  put_str(b, "agent", r->agent);
  put_str(b, "goal", r->goal);
  put_key(b, "metadata");
  hitl_buf_puts(b, r->metadata ? r->metadata : "{}");
  put_key(b, "state");
  hitl_buf_putc(b, '"');
  hitl_buf_puts(b, hitl_run_state_name(hitl_run_shown_state(r)));
  hitl_buf_putc(b, '"');
  put_str(b, "owner", r->owner);
  put_int(b, "heartbeat_seconds", r->heartbeat_seconds);
  hitl__json_time_member(b, "created_at", r->created_at);
  hitl__json_time_member(b, "updated_at", r->updated_at);
  hitl__json_time_member(b, "last_heartbeat_at", r->last_heartbeat_at);
  hitl__json_time_member(b, "heartbeat_due_at", r->heartbeat_due_at);
  hitl__json_time_member(b, "ended_at", r->ended_at);
  put_int(b, "step_count", (long long)r->steps);
  put_int(b, "command_count", (long long)r->commands);
  put_int(b, "pending_commands", (long long)(r->commands - r->acked));
  put_int(b, "open_tasks", (long long)r->open_tasks);
  hitl_buf_putc(b, '}');
}

void hitl__run_command_to_json(hitl_buf *b, const hitl_run_command *c) {
  hitl_buf_printf(b, "{\"seq\":%lld,\"type\":\"%s\"", (long long)c->seq,
                  hitl_run_command_name(c->type));
  put_str(b, "goal", c->goal);
  put_str(b, "actor", c->actor);
  hitl__json_time_member(b, "created_at", c->created_at);
  hitl__json_time_member(b, "acked_at", c->acked_at);
  hitl_buf_putc(b, '}');
}

void hitl__run_step_to_json(hitl_buf *b, const hitl_run_step *s) {
  hitl_buf_printf(b, "{\"n\":%lld", (long long)s->n);
  put_str(b, "text", s->text);
  hitl_buf_printf(b, ",\"data\":%s", s->data ? s->data : "null");
  hitl__json_time_member(b, "created_at", s->created_at);
  hitl_buf_putc(b, '}');
}

void hitl__run_task_to_json(hitl_buf *b, const hitl_task *t) {
  hitl_buf_printf(b, "{\"id\":\"%s\"", t->id);
  put_str(b, "queue", t->queue);
  hitl_buf_printf(b, ",\"state\":\"%s\",\"priority\":%d", hitl_task_state_name(t->state),
                  t->priority);
  hitl__json_time_member(b, "created_at", t->created_at);
  hitl__json_time_member(b, "deadline_at", t->deadline_at);
  hitl_buf_putc(b, '}');
}
