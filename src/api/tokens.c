/* SPDX-License-Identifier: MIT */
/* POST /v1/tokens: an orchestrator makes a token; the secret is shown once and stored hashed. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/server_internal.h"
#include "api/session.h"
#include "core/admin.h"
#include "util/clock.h"
#include "util/xmalloc.h"

typedef struct token_job {
  hitl_job job;
  hitl_request *req;
  char name[96];
  char roles[256];
  char secret[64];
} token_job;

static int token_run(hitl_job *job, hitl_txn *x) {
  token_job *j = (token_job *)job;
  return hitl_token_create(x, j->name, j->secret, j->roles, &j->req->actor, &job->err);
}

static void token_done(hitl_job *job, int rc) {
  token_job *j = (token_job *)job;
  hitl_request *req = j->req;
  if (rc) {
    hitl__reply_err(req, &job->err);
  } else {
    hitl_buf b = HITL_BUF_INIT;
    hitl_buf_puts(&b, "{\"token\":");
    hitl_buf_json_cstr(&b, j->secret);
    hitl_buf_putc(&b, ',');
    hitl_token_members(&b, j->name, j->roles);
    hitl_buf_putc(&b, '}');
    hitl__reply_buf(req, 201, &b);
  }
  hitl__request_resume(req);
}

/* The first key of body other than name and roles, or NULL. */
static const char *unknown_key(json_t *body) {
  const char *key;
  json_t *v;
  json_object_foreach(body, key, v) {
    if (strcmp(key, "name") != 0 && strcmp(key, "roles") != 0) return key;
  }
  return NULL;
}

/* Token names: 1 to 64 of [A-Za-z0-9_.@-]. */
static bool name_valid(const char *s, size_t n) {
  if (n == 0 || n > 64) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '.' || c == '-' || c == '@'))
      return false;
  }
  return true;
}

/* The actor names the server itself writes into events (HITL_ADMIN_TOKEN is "admin", the
 * sweeper acts as "system", decisions are by policy, human, consensus or sla). A token under one
 * of them, in any case, would make its events look like the server's own. */
static const char *const reserved_names[] = {"admin", "system",    "hitl", "server",
                                             "policy", "human", "consensus", "sla"};

/* True when s is one of reserved_names, ignoring case. */
static bool name_reserved(const char *s) {
  for (size_t i = 0; i < sizeof reserved_names / sizeof *reserved_names; i++)
    if (strcasecmp(s, reserved_names[i]) == 0) return true;
  return false;
}

void hitl__h_token_create(hitl_request *req) {
  json_t *body = hitl__body_json(req);
  if (body == NULL) return;
  token_job *j = hitl_xcalloc(1, sizeof *j);
  const json_t *name = json_object_get(body, "name"), *roles = json_object_get(body, "roles");
  const char *extra = NULL;
  if (!json_is_object(body)) {
    hitl__reply_error(req, HITL_EVALIDATION, NULL, "send {\"name\": \"...\", \"roles\": [...]}");
  } else if ((extra = unknown_key(body)) != NULL) {
    hitl__reply_error(req, HITL_EVALIDATION, extra,
                      "unknown field \"%.64s\"; a token has only name and roles", extra);
  } else if (!json_is_string(name) || !name_valid(json_string_value(name), json_string_length(name))) {
    hitl__reply_error(req, HITL_EVALIDATION, "name",
                      "name must have 1 to 64 characters from A-Z a-z 0-9 _ . @ -");
  } else if (name_reserved(json_string_value(name))) {
    hitl__reply_error(req, HITL_EVALIDATION, "name",
                      "\"%s\" is reserved: admin (HITL_ADMIN_TOKEN), system, hitl, server, policy, "
                      "human, consensus and sla, in any case, are the server's own actor names",
                      json_string_value(name));
  } else if (!json_is_array(roles) || json_array_size(roles) == 0 ||
             json_array_size(roles) > HITL_MAX_ROLES) {
    hitl__reply_error(req, HITL_EVALIDATION, "roles", "roles must be an array of 1 to %d role names",
                      HITL_MAX_ROLES);
  } else {
    snprintf(j->name, sizeof j->name, "%s", json_string_value(name));
    size_t i;
    const json_t *r;
    json_array_foreach(roles, i, r) {
      char field[32];
      snprintf(field, sizeof field, "roles[%zu]", i);
      if (!json_is_string(r) || !hitl__role_known(json_string_value(r))) {
        hitl__reply_error(req, HITL_EVALIDATION, field,
                          "unknown role \"%.32s\"; roles are annotator, validator, corrector, "
                          "arbiter, labeler, orchestrator, agent",
                          json_is_string(r) ? json_string_value(r) : "(not a string)");
        break;
      }
      bool twice = false;
      for (size_t k = 0; k < i && !twice; k++) twice = json_equal(json_array_get(roles, k), r);
      if (twice) {
        hitl__reply_error(req, HITL_EVALIDATION, field, "role \"%s\" is listed twice",
                          json_string_value(r));
        break;
      }
      if (i) strcat(j->roles, ",");
      strcat(j->roles, json_string_value(r));
    }
  }
  json_decref(body);
  if (req->phase == HITL_PHASE_ANSWERED) {
    free(j);
    return;
  }
  hitl_token_new(j->secret);
  j->req = req;
  j->job.run = token_run;
  j->job.done = token_done;
  req->state = j;
  req->state_free = free;
  hitl__request_suspend(req);
  hitl__committer_enqueue(req->server->committer, &j->job);
}

/* ---- revoke and list ---------------------------------------------------------------------- */

typedef struct revoke_job {
  hitl_job job;
  hitl_request *req;
  char name[96];
} revoke_job;

static int revoke_run(hitl_job *job, hitl_txn *x) {
  revoke_job *j = (revoke_job *)job;
  return hitl_token_revoke(x, j->name, &j->req->actor, &job->err);
}

static void revoke_done(hitl_job *job, int rc) {
  revoke_job *j = (revoke_job *)job;
  hitl_request *req = j->req;
  if (rc) {
    hitl__reply_err(req, &job->err);
  } else {
    /* From now on the token opens nothing: not from the cache, not through a session. */
    hitl__auth_forget(req->server->auth, j->name);
    hitl__sessions_end_for(req->server->sessions, j->name);
    /* Open event streams and long-polls look again at their token, and end. */
    hitl__waiters_wake_all(req->server->waiters);
    hitl_buf b = HITL_BUF_INIT;
    hitl_buf_puts(&b, "{\"name\":");
    hitl_buf_json_cstr(&b, j->name);
    hitl_buf_puts(&b, ",\"revoked\":true}");
    hitl__reply_buf(req, 200, &b);
  }
  hitl__request_resume(req);
}

void hitl__h_token_revoke(hitl_request *req) {
  const char *name = req->params[0];
  if (!name_valid(name, strlen(name))) {
    hitl__reply_error(req, HITL_EVALIDATION, "name",
                      "a token name has 1 to 64 characters from A-Z a-z 0-9 _ . @ -");
    return;
  }
  if (strcmp(name, "admin") == 0) {
    hitl__reply_error(req, HITL_EVALIDATION, "name",
                      "\"admin\" is HITL_ADMIN_TOKEN: change the environment and restart instead");
    return;
  }
  revoke_job *j = hitl_xcalloc(1, sizeof *j);
  snprintf(j->name, sizeof j->name, "%s", name);
  j->req = req;
  j->job.run = revoke_run;
  j->job.done = revoke_done;
  req->state = j;
  req->state_free = free;
  hitl__request_suspend(req);
  hitl__committer_enqueue(req->server->committer, &j->job);
}

void hitl__h_token_list(hitl_request *req) {
  hitl_store *st = hitl__reader(req);
  if (st == NULL) return;
  hitl_token_row *rows = NULL;
  size_t n = 0;
  if (st->vt->token_list(st, &rows, &n) != 0) {
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "could not read the tokens");
    return;
  }
  /* Names, roles and dates only: the secrets are not stored, so they cannot be shown. */
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_puts(&b, "{\"tokens\":[");
  for (size_t i = 0; i < n; i++) {
    char at[HITL_TIME_LEN];
    hitl_time_format(rows[i].created_at, at);
    hitl_buf_puts(&b, i ? ",{" : "{");
    hitl_token_members(&b, rows[i].name ? rows[i].name : "", rows[i].roles ? rows[i].roles : "");
    hitl_buf_printf(&b, ",\"created_at\":\"%s\",\"revoked\":%s}", at,
                    rows[i].revoked ? "true" : "false");
    hitl_token_row_clear(&rows[i]);
  }
  free(rows);
  hitl_buf_puts(&b, "]}");
  hitl__reply_buf(req, 200, &b);
}
