/* SPDX-License-Identifier: MIT */
/* The route table: every HTTP route of hitl, and the matcher that picks one for a request. */
#include <stdlib.h>
#include <string.h>

#include "api/server_internal.h"
#include "util/xmalloc.h"

/* Shorthands for the access column. */
#define PUBLIC HITL_ACCESS_PUBLIC, NULL
#define TOKEN HITL_ACCESS_TOKEN, NULL
#define ROLE(name) HITL_ACCESS_ROLE, name

static const hitl_route_def routes[] = {
    {"GET", "/healthz", PUBLIC, HITL_BODY_NONE, hitl__h_healthz},
    {"GET", "/metrics", PUBLIC, HITL_BODY_NONE, hitl__h_metrics},
    {"GET", "/v1/queues", TOKEN, HITL_BODY_NONE, hitl__h_queue_list},
    {"PUT", "/v1/queues/{}", ROLE("orchestrator"), HITL_BODY_NORMAL, hitl__h_queue_put},
    {"GET", "/v1/queues/{}", TOKEN, HITL_BODY_NONE, hitl__h_queue_get},
    {"POST", "/v1/queues/{}/tasks", ROLE("agent"), HITL_BODY_NORMAL, hitl__h_task_submit},
    {"GET", "/v1/queues/{}/tasks", TOKEN, HITL_BODY_NONE, hitl__h_task_list},
    {"GET", "/v1/queues/{}/calibration", TOKEN, HITL_BODY_NONE, hitl__h_queue_calibration},
    {"POST", "/v1/queues/{}/tasks/batch", ROLE("agent"), HITL_BODY_BULK, hitl__h_task_batch},
    {"POST", "/v1/queues/{}/claim", TOKEN, HITL_BODY_NORMAL, hitl__h_claim},
    {"GET", "/v1/queues/{}/export", ROLE("orchestrator"), HITL_BODY_NONE, hitl__h_export},
    {"POST", "/v1/queues/{}/import", ROLE("orchestrator"), HITL_BODY_BULK, hitl__h_import},
    {"GET", "/v1/queues/{}/webhook-deliveries", ROLE("orchestrator"), HITL_BODY_NONE,
     hitl__h_webhook_deliveries},
    {"POST", "/v1/queues/{}/webhook-deliveries/{}/redeliver", ROLE("orchestrator"),
     HITL_BODY_NONE, hitl__h_webhook_redeliver},
    {"GET", "/v1/tasks/{}", TOKEN, HITL_BODY_NONE, hitl__h_task_get},
    {"POST", "/v1/tasks/{}/responses", TOKEN, HITL_BODY_NORMAL, hitl__h_respond},
    {"POST", "/v1/tasks/{}/release", TOKEN, HITL_BODY_NORMAL, hitl__h_release},
    {"POST", "/v1/tasks/{}/lease", TOKEN, HITL_BODY_NORMAL, hitl__h_renew},
    {"GET", "/v1/me", TOKEN, HITL_BODY_NONE, hitl__h_me},
    {"GET", "/v1/me/responses", TOKEN, HITL_BODY_NONE, hitl__h_me_responses},
    {"GET", "/v1/stats", ROLE("orchestrator"), HITL_BODY_NONE, hitl__h_stats},
    /* Agents may cancel only what they submitted: the handler checks that. */
    {"POST", "/v1/tasks/{}/cancel", ROLE("agent"), HITL_BODY_NORMAL, hitl__h_cancel},
    {"GET", "/v1/events", ROLE("orchestrator"), HITL_BODY_NONE, hitl__h_events},
    {"GET", "/v1/events/stream", ROLE("orchestrator"), HITL_BODY_NONE, hitl__h_events_stream},
    {"POST", "/v1/tokens", ROLE("orchestrator"), HITL_BODY_NORMAL, hitl__h_token_create},
    {"GET", "/v1/tokens", ROLE("orchestrator"), HITL_BODY_NONE, hitl__h_token_list},
    {"DELETE", "/v1/tokens/{}", ROLE("orchestrator"), HITL_BODY_NORMAL, hitl__h_token_revoke},
    /* Agent runs. Agents report only for runs they registered, and read only their commands:
     * the handlers check that. Every token may read runs. */
    {"POST", "/v1/runs", ROLE("agent"), HITL_BODY_NORMAL, hitl__h_run_create},
    {"GET", "/v1/runs", TOKEN, HITL_BODY_NONE, hitl__h_run_list},
    {"GET", "/v1/runs/{}", TOKEN, HITL_BODY_NONE, hitl__h_run_get},
    {"POST", "/v1/runs/{}/heartbeat", ROLE("agent"), HITL_BODY_NORMAL, hitl__h_run_heartbeat},
    {"POST", "/v1/runs/{}/steps", ROLE("agent"), HITL_BODY_NORMAL, hitl__h_run_step},
    {"POST", "/v1/runs/{}/commands", ROLE("orchestrator"), HITL_BODY_NORMAL, hitl__h_run_command},
    {"GET", "/v1/runs/{}/commands", ROLE("agent"), HITL_BODY_NONE, hitl__h_run_commands},
    {"POST", "/v1/runs/{}/commands/{}/ack", ROLE("agent"), HITL_BODY_NORMAL, hitl__h_run_ack},
    {"POST", "/v1/session", PUBLIC, HITL_BODY_NORMAL, hitl__h_session_create},
    {"GET", "/v1/session", TOKEN, HITL_BODY_NONE, hitl__h_session_get},
    {"DELETE", "/v1/session", TOKEN, HITL_BODY_NORMAL, hitl__h_session_delete},
    /* MCP (Streamable HTTP): each tool checks its own role, as the REST route it mirrors. */
    {"POST", "/mcp", TOKEN, HITL_BODY_NORMAL, hitl__h_mcp},
};

#define N_ROUTES (sizeof routes / sizeof *routes)

const hitl_route_def *hitl__routes(size_t *n) {
  *n = N_ROUTES;
  return routes;
}

size_t hitl__route_body_limit(const hitl_route_def *r, size_t max_body) {
  switch (r->body) {
  case HITL_BODY_NONE: return 0;
  case HITL_BODY_NORMAL: return max_body;
  case HITL_BODY_BULK: return max_body * HITL_BULK_BODY_FACTOR;
  }
  return 0;
}

/* True when a request with method may use a route of route_method: HEAD may use every GET route
 * (libmicrohttpd sends the headers of the GET answer and leaves out its body). */
static bool method_fits(const char *route_method, const char *method) {
  return strcmp(route_method, method) == 0 ||
         (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char *hitl__percent_decode(const char *s, size_t n) {
  char *out = hitl_xmalloc(n + 1), *w = out;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '%') {
      *w++ = s[i];
      continue;
    }
    int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
    int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
      free(out);
      return NULL;
    }
    *w++ = (char)(hi * 16 + lo);
    i += 2;
  }
  *w = '\0';
  return out;
}

/* Matches path against pattern; on success the {} segments are decoded into params. Returns 1
 * on a match, 0 on none, -1 on a match with a broken escape. */
static int match(const char *pattern, const char *path, char *params[HITL_MAX_PARAMS]) {
  const char *p = pattern, *s = path;
  int np = 0;
  char *found[HITL_MAX_PARAMS] = {0};
  while (*p && *s) {
    if (p[0] == '{' && p[1] == '}') {
      size_t len = strcspn(s, "/");
      if (len == 0 || np == HITL_MAX_PARAMS) goto nomatch;
      found[np] = hitl__percent_decode(s, len);
      if (found[np] == NULL) {
        for (int i = 0; i < np; i++) free(found[i]);
        return -1;
      }
      np++;
      s += len;
      p += 2;
    } else if (*p == *s) {
      p++;
      s++;
    } else {
      goto nomatch;
    }
  }
  if (*s == '/' && s[1] == '\0') s++; /* Tolerate one trailing slash. */
  if (*p || *s) goto nomatch;
  for (int i = 0; i < np; i++) params[i] = found[i];
  return 1;
nomatch:
  for (int i = 0; i < np; i++) free(found[i]);
  return 0;
}

const hitl_route_def *hitl__route_match(const char *method, const char *path,
                                        char *params[HITL_MAX_PARAMS], int *status) {
  *status = 404;
  for (size_t i = 0; i < N_ROUTES; i++) {
    char *got[HITL_MAX_PARAMS] = {0};
    int m = match(routes[i].pattern, path, got);
    if (m < 0) {
      *status = 400;
      return NULL;
    }
    if (m == 0) continue;
    if (method_fits(routes[i].method, method)) {
      for (int j = 0; j < HITL_MAX_PARAMS; j++) params[j] = got[j];
      return &routes[i];
    }
    for (int j = 0; j < HITL_MAX_PARAMS; j++) free(got[j]);
    *status = 405;
  }
  return NULL;
}

void hitl__route_allow(const char *path, char *out, size_t n) {
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < N_ROUTES && used < n; i++) {
    char *got[HITL_MAX_PARAMS] = {0};
    int m = match(routes[i].pattern, path, got);
    for (int j = 0; j < HITL_MAX_PARAMS; j++) free(got[j]);
    if (m == 1) {
      bool get = strcmp(routes[i].method, "GET") == 0;
      used += (size_t)snprintf(out + used, n - used, "%s%s%s", used ? ", " : "", routes[i].method,
                               get ? ", HEAD" : "");
    }
  }
}
