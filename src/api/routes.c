/* SPDX-License-Identifier: MIT */
/* The route table: every HTTP route of hitl, and the matcher that picks one for a request. */
#include <stdlib.h>
#include <string.h>

#include "api/server_internal.h"
#include "util/xmalloc.h"

static const hitl_route_def routes[] = {
    {"GET", "/healthz", hitl__h_healthz, true, false},
    {"GET", "/metrics", hitl__h_metrics, true, false},
    {"GET", "/v1/queues", hitl__h_queue_list, false, false},
    {"PUT", "/v1/queues/{}", hitl__h_queue_put, false, false},
    {"GET", "/v1/queues/{}", hitl__h_queue_get, false, false},
    {"POST", "/v1/queues/{}/tasks", hitl__h_task_submit, false, false},
    {"GET", "/v1/queues/{}/tasks", hitl__h_task_list, false, false},
    {"POST", "/v1/queues/{}/tasks/batch", hitl__h_task_batch, false, true},
    {"POST", "/v1/queues/{}/claim", hitl__h_claim, false, false},
    {"GET", "/v1/queues/{}/export", hitl__h_export, false, false},
    {"GET", "/v1/queues/{}/webhook-deliveries", hitl__h_webhook_deliveries, false, false},
    {"GET", "/v1/tasks/{}", hitl__h_task_get, false, false},
    {"POST", "/v1/tasks/{}/responses", hitl__h_respond, false, false},
    {"POST", "/v1/tasks/{}/release", hitl__h_release, false, false},
    {"POST", "/v1/tasks/{}/lease", hitl__h_renew, false, false},
    {"GET", "/v1/me", hitl__h_me, false, false},
    {"GET", "/v1/me/responses", hitl__h_me_responses, false, false},
    {"GET", "/v1/stats", hitl__h_stats, false, false},
    {"POST", "/v1/tasks/{}/cancel", hitl__h_cancel, false, false},
    {"GET", "/v1/events", hitl__h_events, false, false},
    {"GET", "/v1/events/stream", hitl__h_events_stream, false, false},
    {"POST", "/v1/tokens", hitl__h_token_create, false, false},
    {"GET", "/v1/tokens", hitl__h_token_list, false, false},
    {"DELETE", "/v1/tokens/{}", hitl__h_token_revoke, false, false},
    {"POST", "/v1/session", hitl__h_session_create, true, false},
    {"GET", "/v1/session", hitl__h_session_get, false, false},
    {"DELETE", "/v1/session", hitl__h_session_delete, false, false},
};

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
  for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
    char *got[HITL_MAX_PARAMS] = {0};
    int m = match(routes[i].pattern, path, got);
    if (m < 0) {
      *status = 400;
      return NULL;
    }
    if (m == 0) continue;
    if (strcmp(routes[i].method, method) == 0) {
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
  for (size_t i = 0; i < sizeof routes / sizeof *routes && used < n; i++) {
    char *got[HITL_MAX_PARAMS] = {0};
    int m = match(routes[i].pattern, path, got);
    for (int j = 0; j < HITL_MAX_PARAMS; j++) free(got[j]);
    if (m == 1)
      used += (size_t)snprintf(out + used, n - used, "%s%s", used ? ", " : "", routes[i].method);
  }
}
