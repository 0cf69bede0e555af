/* SPDX-License-Identifier: MIT */
/* API test: a corpus of bad requests, each with its error, and nothing of them stored. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

/* Which token a case sends. */
typedef enum token_kind {
  TK_NONE,     /* No Authorization header. */
  TK_BAD,      /* A token the server never issued. */
  TK_ADMIN,    /* Orchestrator. */
  TK_AGENT,    /* Submits tasks. */
  TK_REVIEWER, /* Validator: reviews both test queues and holds the leases {L1} and {L2}. */
  TK_LABELER,  /* A role neither test queue allows. */
} token_kind;

/* One bad request and the answer it must get. In path and body, {T1} {L1} {T2} {L2} stand for
 * the leased tasks and their leases; a body "@name" is generated (see make_body). */
typedef struct bad_case {
  const char *method;
  const char *path;
  token_kind token;
  const char *body;     /* NULL: no body. */
  long status;
  const char *code;
  const char *field;    /* The exact error.field; "prefix*" matches a prefix; NULL: none. */
  const char *fragment; /* Must appear in error.message: what to fix. */
} bad_case;

#define Q "/v1/queues/bi"
#define Q2 "/v1/queues/bi2"
#define TASKS Q "/tasks"
#define BATCH Q "/tasks/batch"
#define RESP1 "/v1/tasks/{T1}/responses"
#define RESP2 "/v1/tasks/{T2}/responses"
#define A65 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define RULE(when_then) "{\"policy\":{\"rules\":[{\"name\":\"r\"" when_then "}]}}"
#define VALIDATION "validation_failed"

static const bad_case corpus[] = {
    /* Malformed JSON, on each kind of body. */
    {"POST", TASKS, TK_AGENT, "{\"input\":1", 400, "invalid_json", NULL, "expected"},
    {"POST", TASKS, TK_AGENT, "{\"input\":1} x", 400, "invalid_json", NULL, "end of file expected"},
    {"POST", TASKS, TK_AGENT, "{'input':1}", 400, "invalid_json", NULL, "column 2"},
    {"POST", TASKS, TK_AGENT, "{\"input\":1,\"input\":2}", 400, "invalid_json", NULL, "duplicate"},
    {"POST", TASKS, TK_AGENT, "", 400, "invalid_json", NULL, "empty"},
    {"POST", TASKS, TK_AGENT, NULL, 400, "invalid_json", NULL, "empty"},
    {"POST", TASKS, TK_AGENT, "{\"input\":\"\xff\xfe\"}", 400, "invalid_json", NULL, "UTF-8"},
    {"POST", TASKS, TK_AGENT, "{\"input\":\"a\\u0000b\"}", 400, "invalid_json", NULL, "u0000"},
    {"POST", TASKS, TK_AGENT, "{\"input\":\"\\ud800\"}", 400, "invalid_json", NULL, "Unicode"},
    {"POST", TASKS, TK_AGENT, "{\"input\":1,\"confidence\":1e400}", 400, "invalid_json", NULL, "overflow"},
    {"POST", TASKS, TK_AGENT, "@deep", 400, "invalid_json", NULL, "64 levels"},
    {"PUT", Q, TK_ADMIN, "{\"schema\":", 400, "invalid_json", NULL, "line 1"},
    {"POST", RESP1, TK_REVIEWER, "{\"lease_id\":", 400, "invalid_json", NULL, "line 1"},
    {"POST", "/v1/tokens", TK_ADMIN, "[\"x\",]", 400, "invalid_json", NULL, "line 1"},
    /* Bodies over the limit (--max-body 4096). */
    {"POST", TASKS, TK_AGENT, "@big", 413, "too_large", NULL, "4096 bytes"},
    {"PUT", Q, TK_ADMIN, "@big", 413, "too_large", NULL, "4096 bytes"},

    /* Task fields. */
    {"POST", TASKS, TK_AGENT, "{}", 400, VALIDATION, "input", "input is required"},
    {"POST", TASKS, TK_AGENT, "[{\"input\":1}]", 400, VALIDATION, NULL, "JSON object"},
    {"POST", TASKS, TK_AGENT, "{\"input\":1,\"confidence\":\"high\"}", 400, VALIDATION, "confidence", "from 0 to 1"},
    {"POST", TASKS, TK_AGENT, "{\"input\":1,\"confidence\":1.5}", 400, VALIDATION, "confidence", "from 0 to 1"},
    {"POST", TASKS, TK_AGENT, "{\"input\":1,\"confidence\":-0.1}", 400, VALIDATION, "confidence", "from 0 to 1"},
    {"POST", TASKS, TK_AGENT, "{\"input\":1,\"priority\":1.5}", 400, VALIDATION, "priority", "integer"},
    {"POST", TASKS, TK_AGENT, "{\"input\":1,\"priority\":1000000000000}", 400, VALIDATION, "priority", "-1000000 to 1000000"},
    {"POST", TASKS, TK_AGENT, "{\"input\":1,\"priority\":\"9\"}", 400, VALIDATION, "priority", "integer"},
    {"POST", TASKS, TK_AGENT, "{\"input\":1,\"metadata\":[1]}", 400, VALIDATION, "metadata", "object"},
    {"POST", TASKS, TK_AGENT, "{\"input\":1,\"probabilities\":{\"a\":0.7,\"b\":0.6}}", 400, VALIDATION, "probabilities", "more than 1"},
    {"POST", TASKS, TK_AGENT, "{\"input\":1,\"probabilities\":{\"a\":\"x\"}}", 400, VALIDATION, "probabilities", "\"a\""},
    {"POST", TASKS, TK_AGENT, "{\"input\":1,\"probabilities\":[0.5]}", 400, VALIDATION, "probabilities", "object"},
    {"POST", TASKS, TK_AGENT, "{\"input\":1,\"colour\":\"red\"}", 400, VALIDATION, "colour", "unknown field"},
    {"POST", TASKS, TK_AGENT, "{\"input\":1,\"model_version\":5}", 400, VALIDATION, "model_version", "string"},
    {"POST", TASKS, TK_AGENT, "{\"input\":1,\"external_id\":\"\"}", 400, VALIDATION, "external_id", "1 to 256"},
    {"POST", TASKS, TK_AGENT, "{\"input\":1,\"run_id\":\"a\\nb\"}", 400, VALIDATION, "run_id", "control"},

    /* Batches: all or nothing. */
    {"POST", BATCH, TK_AGENT, "@batch1001", 400, VALIDATION, "tasks", "at most 1000"},
    {"POST", BATCH, TK_AGENT, "{\"tasks\":[{\"input\":0},{\"input\":1},{\"input\":2},{\"input\":3,\"confidence\":2},{\"input\":4}]}",
     400, VALIDATION, "tasks[3]*", "from 0 to 1"},
    {"POST", BATCH, TK_AGENT, "{\"tasks\":[{\"input\":0},{\"input\":1},{\"input\":2},7]}", 400, VALIDATION, "tasks[3]", "object"},
    {"POST", BATCH, TK_AGENT, "{\"tasks\":[]}", 400, VALIDATION, "tasks", "1 to 1000"},
    {"POST", BATCH, TK_AGENT, "[{\"input\":1}]", 400, VALIDATION, "tasks", "{\"tasks\": [...]}"},
    {"POST", BATCH, TK_AGENT, "{\"tasks\":[{\"input\":1}],\"mode\":\"fast\"}", 400, VALIDATION, "mode", "unknown field"},
    /* Passes validation, fails in the writer after the first task was written: rolled back. */
    {"POST", BATCH, TK_AGENT,
     "{\"tasks\":[{\"input\":1,\"idempotency_key\":\"bk\"},{\"input\":2,\"idempotency_key\":\"bk\"}]}",
     409, "conflict", "tasks[1].idempotency_key", "different body"},

    /* Unknown things. */
    {"GET", "/v1/queues/nope", TK_AGENT, NULL, 404, "not_found", "queue", "\"nope\""},
    {"POST", "/v1/queues/nope/tasks", TK_AGENT, "{\"input\":1}", 404, "not_found", "queue", "\"nope\""},
    {"POST", "/v1/queues/nope/claim", TK_REVIEWER, NULL, 404, "not_found", "queue", "\"nope\""},
    {"GET", "/v1/tasks/t_nope", TK_AGENT, NULL, 404, "not_found", "task_id", "t_nope"},
    {"POST", "/v1/tasks/t_nope/responses", TK_REVIEWER, "{\"lease_id\":\"x\",\"kind\":\"approve\"}", 404, "not_found", "task_id", "t_nope"},
    {"POST", "/v1/tasks/t_nope/release", TK_REVIEWER, "{\"lease_id\":\"x\"}", 404, "not_found", "task_id", "t_nope"},
    {"POST", "/v1/tasks/t_nope/cancel", TK_AGENT, NULL, 404, "not_found", "task_id", "t_nope"},
    {"GET", "/v1/tasks/%FF%FE", TK_AGENT, NULL, 404, "not_found", "task_id", "no task"},
    {"GET", "/v1/nope", TK_ADMIN, NULL, 404, "not_found", NULL, "GET /v1/nope"},
    {"GET", "/nope", TK_NONE, NULL, 404, "not_found", NULL, "no such route"},
    {"DELETE", Q, TK_ADMIN, NULL, 405, "method_not_allowed", NULL, "use PUT, GET"},
    {"GET", Q "/claim", TK_REVIEWER, NULL, 405, "method_not_allowed", NULL, "use POST"},
    {"PATCH", "/healthz", TK_NONE, NULL, 405, "method_not_allowed", NULL, "use GET"},

    /* Queue names in the path. */
    {"PUT", "/v1/queues/a%2Fb", TK_ADMIN, "{}", 400, VALIDATION, "queue", "1 to 64 characters"},
    {"PUT", "/v1/queues/..", TK_ADMIN, "{}", 400, VALIDATION, "queue", "not . or .."},
    {"PUT", "/v1/queues/%2E%2E", TK_ADMIN, "{}", 400, VALIDATION, "queue", "not . or .."},
    {"POST", "/v1/queues/%2e%2e/tasks", TK_AGENT, "{\"input\":1}", 400, VALIDATION, "queue", "not . or .."},
    {"PUT", "/v1/queues/a%01b", TK_ADMIN, "{}", 400, VALIDATION, "queue", "A-Z a-z 0-9"},
    {"PUT", "/v1/queues/a%20b", TK_ADMIN, "{}", 400, VALIDATION, "queue", "A-Z a-z 0-9"},
    {"PUT", "/v1/queues/" A65, TK_ADMIN, "{}", 400, VALIDATION, "queue", "1 to 64 characters"},
    {"GET", "/v1/queues/" A65, TK_AGENT, NULL, 400, VALIDATION, "queue", "1 to 64 characters"},
    {"PUT", "/v1/queues/a%ZZ", TK_ADMIN, "{}", 400, VALIDATION, NULL, "percent-escape"},
    {"PUT", "/v1/queues/a%00", TK_ADMIN, "{}", 400, VALIDATION, NULL, "NUL"},

    /* Queue configurations and their policies (each would replace queue bi if accepted). */
    {"PUT", Q, TK_ADMIN, "[]", 400, VALIDATION, NULL, "JSON object"},
    {"PUT", Q, TK_ADMIN, "{\"overlapp\":1}", 400, VALIDATION, "overlapp", "allowed keys are"},
    {"PUT", Q, TK_ADMIN, RULE(",\"when\":{\"approx\":1},\"then\":{\"action\":\"review\"}"), 400, VALIDATION,
     "policy.rules[0].when.approx", "confidence_below"},
    {"PUT", Q, TK_ADMIN, RULE(",\"when\":{\"regex\":{\"path\":\"/input\",\"pattern\":\"([\"}},\"then\":{\"action\":\"review\"}"),
     400, VALIDATION, "policy.rules[0].when.regex.pattern", "regular expression"},
    {"PUT", Q, TK_ADMIN, RULE(",\"when\":{\"gt\":{\"path\":\"input\",\"value\":1}},\"then\":{\"action\":\"review\"}"),
     400, VALIDATION, "policy.rules[0].when.gt.path", "JSON pointer"},
    {"PUT", Q, TK_ADMIN, RULE(",\"when\":{\"confidence_below\":0.5}"), 400, VALIDATION, "policy.rules[0].then", "{\"action\": \"review\"}"},
    {"PUT", Q, TK_ADMIN, RULE(",\"then\":{\"action\":\"explode\"}"), 400, VALIDATION, "policy.rules[0].then.action",
     "accept, reject, review"},
    {"PUT", Q, TK_ADMIN, "{\"policy\":{\"rules\":[{\"then\":{\"action\":\"accept\"}}]}}", 400, VALIDATION,
     "policy.rules[0].name", "unique non-empty name"},
    {"PUT", Q, TK_ADMIN, "{\"assignment\":{\"overlap\":0}}", 400, VALIDATION, "assignment.overlap", "from 1 to 9"},
    {"PUT", Q, TK_ADMIN, "{\"assignment\":{\"overlap\":10}}", 400, VALIDATION, "assignment.overlap", "from 1 to 9"},
    {"PUT", Q, TK_ADMIN, "{\"assignment\":{\"lease_seconds\":1}}", 400, VALIDATION, "assignment.lease_seconds", "from 5 to 86400"},
    {"PUT", Q, TK_ADMIN, "{\"assignment\":{\"consensus\":\"mode\"}}", 400, VALIDATION, "assignment.consensus",
     "first, majority, unanimous"},
    {"PUT", Q, TK_ADMIN, "{\"assignment\":{\"roles\":[\"agent\"]}}", 400, VALIDATION, "assignment.roles[0]", "validator"},
    {"PUT", Q, TK_ADMIN, "{\"sla\":{\"on_timeout\":\"explode\"}}", 400, VALIDATION, "sla.on_timeout",
     "escalate, accept, reject, expire"},
    {"PUT", Q, TK_ADMIN, "{\"schema\":{\"questions\":[{\"name\":\"c\",\"type\":\"label\"}]}}", 400, VALIDATION,
     "schema.questions[0].labels", "labels is required"},
    {"PUT", Q, TK_ADMIN, "{\"schema\":{\"questions\":[{\"name\":\"c\",\"type\":\"poll\"}]}}", 400, VALIDATION,
     "schema.questions[0].type", "approve, label"},

    /* Responses under a lease ({L1}: approve question; {L2}: label "category" and rating "quality"). */
    {"POST", RESP1, TK_REVIEWER, "{\"lease_id\":\"{L1}\",\"kind\":\"label\",\"value\":\"spam\"}", 400, VALIDATION,
     "kind", "approve, reject, modify"},
    {"POST", RESP1, TK_REVIEWER, "{\"lease_id\":\"{L1}\",\"kind\":\"modify\"}", 400, VALIDATION, "value", "corrected output"},
    {"POST", RESP1, TK_REVIEWER, "{\"lease_id\":\"{L1}\",\"kind\":\"approve\",\"value\":1}", 400, VALIDATION, "value",
     "takes no value"},
    {"POST", RESP1, TK_REVIEWER, "{\"kind\":\"approve\"}", 400, VALIDATION, "lease_id", "lease_id is required"},
    {"POST", RESP1, TK_REVIEWER, "{\"lease_id\":\"{L1}\",\"kind\":\"approve\",\"mood\":1}", 400, VALIDATION, "mood",
     "unknown key"},
    {"POST", RESP1, TK_REVIEWER, "{\"lease_id\":\"l_wrong\",\"kind\":\"approve\"}", 409, "conflict", "lease_id", "lease"},
    {"POST", RESP1, TK_REVIEWER, "{\"lease_id\":\"{L2}\",\"kind\":\"approve\"}", 409, "conflict", "lease_id", "lease"},
    {"POST", RESP2, TK_REVIEWER, "{\"lease_id\":\"{L2}\",\"question\":\"category\",\"kind\":\"label\",\"value\":\"eggs\"}",
     400, VALIDATION, "value", "\"spam\", \"ham\""},
    {"POST", RESP2, TK_REVIEWER, "{\"lease_id\":\"{L2}\",\"question\":\"quality\",\"kind\":\"rating\",\"value\":6}",
     400, VALIDATION, "value", "from 1 to 5"},
    {"POST", RESP2, TK_REVIEWER, "{\"lease_id\":\"{L2}\",\"kind\":\"label\",\"value\":\"spam\"}", 400, VALIDATION,
     "question", "question is required"},
    {"POST", RESP2, TK_REVIEWER, "{\"lease_id\":\"{L2}\",\"question\":\"size\",\"kind\":\"label\",\"value\":\"spam\"}",
     400, VALIDATION, "question", "category"},
    {"POST", "/v1/tasks/{T1}/release", TK_REVIEWER, "{}", 400, VALIDATION, "lease_id", "lease_id is required"},
    {"POST", "/v1/tasks/{T1}/release", TK_REVIEWER, "{\"lease_id\":\"l_wrong\"}", 409, "conflict", "lease_id", "lease"},

    /* Who may do what. */
    {"GET", "/v1/queues", TK_NONE, NULL, 401, "unauthorized", NULL, "Authorization: Bearer"},
    {"GET", "/v1/queues", TK_BAD, NULL, 401, "unauthorized", NULL, "unknown or revoked"},
    {"POST", TASKS, TK_NONE, "{\"input\":1}", 401, "unauthorized", NULL, "Bearer"},
    {"PUT", Q, TK_REVIEWER, "{}", 403, "forbidden", NULL, "orchestrator role"},
    {"POST", TASKS, TK_REVIEWER, "{\"input\":1}", 403, "forbidden", NULL, "agent role"},
    {"POST", Q "/claim", TK_LABELER, NULL, 403, "forbidden", NULL, "none of the roles"},
    {"POST", "/v1/tasks/{T1}/cancel", TK_REVIEWER, NULL, 403, "forbidden", NULL, "needs the agent role"},
    {"GET", "/v1/events", TK_AGENT, NULL, 403, "forbidden", NULL, "orchestrator role"},
    {"POST", "/v1/tokens", TK_AGENT, "{\"name\":\"x\",\"roles\":[\"agent\"]}", 403, "forbidden", NULL, "orchestrator role"},

    /* Query arguments. */
    {"GET", TASKS "?limit=1", TK_AGENT, NULL, 403, "forbidden", NULL, "may not read queue"},
    {"GET", TASKS "?limit=0", TK_ADMIN, NULL, 400, VALIDATION, "limit", "from 1 to 1000"},
    {"GET", TASKS "?limit=abc", TK_ADMIN, NULL, 400, VALIDATION, "limit", "from 1 to 1000"},
    {"GET", TASKS "?limit=", TK_ADMIN, NULL, 400, VALIDATION, "limit", "from 1 to 1000"},
    {"GET", TASKS "?limit=99999999999999999999", TK_ADMIN, NULL, 400, VALIDATION, "limit", "from 1 to 1000"},
    {"GET", TASKS "?limit=1%ZZ", TK_ADMIN, NULL, 400, VALIDATION, "limit", "from 1 to 1000"},
    {"GET", TASKS "?state=bogus", TK_ADMIN, NULL, 400, VALIDATION, "state", "pending, leased, decided"},
    {"GET", TASKS "?cursor=abc", TK_ADMIN, NULL, 400, VALIDATION, "cursor", "next_cursor"},
    {"GET", TASKS "?cursor=-3", TK_ADMIN, NULL, 400, VALIDATION, "cursor", "next_cursor"},
    {"GET", "/v1/tasks/{T1}?wait=-1", TK_AGENT, NULL, 400, VALIDATION, "wait", "from 0 to 120"},
    {"GET", "/v1/tasks/{T1}?wait=99999", TK_AGENT, NULL, 400, VALIDATION, "wait", "from 0 to 120"},
    {"GET", "/v1/tasks/{T1}?wait=1.5", TK_AGENT, NULL, 400, VALIDATION, "wait", "whole number"},
    {"GET", "/v1/events?after=-5", TK_ADMIN, NULL, 400, VALIDATION, "after", "0 or more"},
    {"GET", "/v1/events?after=99999999999999999999", TK_ADMIN, NULL, 400, VALIDATION, "after", "0 or more"},
    {"GET", "/v1/events?limit=0", TK_ADMIN, NULL, 400, VALIDATION, "limit", "from 1 to 1000"},
    {"GET", "/v1/events?order=latest", TK_ADMIN, NULL, 400, VALIDATION, "order", "oldest or newest"},
    {"GET", "/v1/events?before=5", TK_ADMIN, NULL, 400, VALIDATION, "before", "order=newest"},
    {"GET", "/v1/events?order=newest&before=0", TK_ADMIN, NULL, 400, VALIDATION, "before", "next_before"},
    {"GET", "/v1/events?order=newest&before=x", TK_ADMIN, NULL, 400, VALIDATION, "before", "next_before"},
    {"GET", "/v1/events?order=newest&after=3", TK_ADMIN, NULL, 400, VALIDATION, "after", "page with before"},

    /* Tokens. */
    {"POST", "/v1/tokens", TK_ADMIN, "{\"name\":\"x\",\"roles\":[\"wizard\"]}", 400, VALIDATION, "roles[0]",
     "annotator, validator"},
    {"POST", "/v1/tokens", TK_ADMIN, "{\"name\":\"x\",\"roles\":[\"agent\",\"agent\"]}", 400, VALIDATION, "roles[1]",
     "listed twice"},
    {"POST", "/v1/tokens", TK_ADMIN, "{\"name\":\"x\",\"roles\":\"agent\"}", 400, VALIDATION, "roles", "array"},
    {"POST", "/v1/tokens", TK_ADMIN, "{\"name\":\"a b\",\"roles\":[\"agent\"]}", 400, VALIDATION, "name", "A-Z a-z 0-9"},
    {"POST", "/v1/tokens", TK_ADMIN, "{\"name\":\"admin\",\"roles\":[\"agent\"]}", 400, VALIDATION, "name", "HITL_ADMIN_TOKEN"},
    {"POST", "/v1/tokens", TK_ADMIN, "{\"name\":\"x\",\"roles\":[\"agent\"],\"ttl\":5}", 400, VALIDATION, "ttl",
     "unknown field"},
    {"POST", "/v1/tokens", TK_ADMIN, "{\"name\":\"rev\",\"roles\":[\"agent\"]}", 409, "conflict", "name", "already exists"},
    /* Webhook deliveries: the listing's filters and who may read it. */
    {"GET", Q "/webhook-deliveries?state=sent", TK_ADMIN, NULL, 400, VALIDATION, "state",
     "pending, delivered or failed"},
    {"GET", Q "/webhook-deliveries?limit=0", TK_ADMIN, NULL, 400, VALIDATION, "limit", "1 to 1000"},
    {"GET", Q "/webhook-deliveries?cursor=x", TK_ADMIN, NULL, 400, VALIDATION, "cursor",
     "next_cursor"},
    {"GET", "/v1/queues/nope/webhook-deliveries", TK_ADMIN, NULL, 404, "not_found", "queue",
     "\"nope\""},
    {"GET", Q "/webhook-deliveries", TK_REVIEWER, NULL, 403, "forbidden", NULL, "orchestrator role"},
    {"PUT", Q, TK_ADMIN, "{\"webhooks\":[{\"url\":\"http://127.0.0.1:1/\",\"events\":[\"task.done\"]}]}",
     400, VALIDATION, "webhooks[0].events[0]", "not an event type"},
    /* Webhook secrets in the wrong form, and redeliveries of what is not there. */
    {"PUT", Q, TK_ADMIN, "{\"webhooks\":[{\"url\":\"http://127.0.0.1:1/\",\"secret\":\"hunter2\"}]}",
     400, VALIDATION, "webhooks[0].secret", "whsec_"},
    {"PUT", Q, TK_ADMIN, "{\"webhooks\":[{\"url\":\"http://127.0.0.1:1/\",\"secret\":\"whsec_c2hvcnQ=\"}]}",
     400, VALIDATION, "webhooks[0].secret", "24 to 64 random bytes"},
    {"PUT", Q, TK_ADMIN, "{\"webhooks\":[{\"url\":\"http://127.0.0.1:1/\",\"previous_secret\":"
     "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"previous_secret_until\":1}]}",
     400, VALIDATION, "webhooks[0].previous_secret", "keeps the previous secret"},
    {"POST", Q "/webhook-deliveries/wh_nope/redeliver", TK_ADMIN, NULL, 404, "not_found", "delivery",
     "wh_nope"},
    {"POST", "/v1/queues/nope/webhook-deliveries/wh_nope/redeliver", TK_ADMIN, NULL, 404,
     "not_found", "queue", "\"nope\""},
    {"POST", Q "/webhook-deliveries/wh_nope/redeliver", TK_REVIEWER, NULL, 403, "forbidden", NULL,
     "orchestrator role"},
};

static test_server srv;
static char *agent, *reviewer, *labeler;
static char t1[64], l1[64], t2[64], l2[64];

/* What is stored, as the API shows it. */
typedef struct snapshot {
  size_t n_events;
  char last_hash[160];
  char *tasks_bi, *tasks_bi2, *queues;
} snapshot;

static snapshot before;

static const char *token_of(token_kind k) {
  switch (k) {
  case TK_NONE: return NULL;
  case TK_BAD: return "hitl_not_a_token_0000000000000000";
  case TK_ADMIN: return ADMIN_TOKEN;
  case TK_AGENT: return agent;
  case TK_REVIEWER: return reviewer;
  case TK_LABELER: return labeler;
  }
  return NULL;
}

/* Copies tmpl into out with {T1} {L1} {T2} {L2} replaced. */
static void expand(const char *tmpl, char *out, size_t n) {
  const char *names[] = {"{T1}", "{L1}", "{T2}", "{L2}"};
  const char *values[] = {t1, l1, t2, l2};
  size_t used = 0;
  out[0] = '\0';
  while (*tmpl && used + 1 < n) {
    size_t k = 0;
    while (k < 4 && strncmp(tmpl, names[k], 4) != 0) k++;
    if (k < 4) {
      used += (size_t)snprintf(out + used, n - used, "%s", values[k]);
      tmpl += 4;
    } else {
      out[used++] = *tmpl++;
      out[used] = '\0';
    }
  }
  assert_true(used + 1 < n);
}

/* The body of a case (malloc'd), generating "@deep", "@big" and "@batch1001". */
static char *make_body(const char *spec) {
  if (spec == NULL) return NULL;
  if (strcmp(spec, "@deep") == 0) { /* 100 nested arrays in a task. */
    char *b = calloc(1, 256);
    strcpy(b, "{\"input\":");
    for (int i = 0; i < 100; i++) strcat(b, "[");
    for (int i = 0; i < 100; i++) strcat(b, "]");
    return strcat(b, "}");
  }
  if (strcmp(spec, "@big") == 0) { /* A well-formed task of 5,000 bytes. */
    char *b = malloc(5001);
    memset(b, 'a', 5000);
    memcpy(b, "{\"input\":\"", 10);
    memcpy(b + 4998, "\"}", 2);
    b[5000] = '\0';
    return b;
  }
  if (strcmp(spec, "@batch1001") == 0) {
    size_t cap = 1001 * 16 + 32, used = 0;
    char *b = malloc(cap);
    used += (size_t)snprintf(b, cap, "{\"tasks\":[");
    for (int i = 0; i < 1001; i++)
      used += (size_t)snprintf(b + used, cap - used, "%s{\"input\":%d}", i ? "," : "", i);
    snprintf(b + used, cap - used, "]}");
    return b;
  }
  char *b = malloc(8192);
  expand(spec, b, 8192);
  return b;
}

/* Fetches path with the admin token and returns its body (malloc'd), asserting 200. */
static char *get_body(const char *path) {
  test_resp r;
  long st = tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r);
  if (st != 200) fail_msg("GET %s: %ld %s", path, st, r.body);
  char *body = strdup(r.body);
  tr_free(&r);
  return body;
}

static void take_snapshot(snapshot *s) {
  test_resp r;
  assert_int_equal(tr(&srv, "GET", "/v1/events?after=0&limit=1000", ADMIN_TOKEN, NULL, &r), 200);
  const json_t *evs = json_object_get(r.json, "events");
  s->n_events = json_array_size(evs);
  assert_true(s->n_events > 0 && s->n_events < 1000);
  const json_t *last = json_array_get(evs, s->n_events - 1);
  snprintf(s->last_hash, sizeof s->last_hash, "%s", json_string_value(json_object_get(last, "hash")));
  tr_free(&r);
  s->tasks_bi = get_body(TASKS "?limit=1000");
  s->tasks_bi2 = get_body(Q2 "/tasks?limit=1000");
  s->queues = get_body("/v1/queues");
}

static void free_snapshot(snapshot *s) {
  free(s->tasks_bi);
  free(s->tasks_bi2);
  free(s->queues);
  memset(s, 0, sizeof *s);
}

/* Claims the next task of queue for the reviewer; copies its id and lease id. */
static void claim(const char *queue, char id[64], char lease[64]) {
  char path[96];
  snprintf(path, sizeof path, "/v1/queues/%s/claim", queue);
  test_resp r;
  assert_int_equal(tr(&srv, "POST", path, reviewer, NULL, &r), 200);
  snprintf(id, 64, "%s", tj_str(&r, "id"));
  snprintf(lease, 64, "%s", tj_str(&r, "lease.id"));
  tr_free(&r);
}

static int setup(void **state) {
  (void)state;
  const char *const args[] = {"--max-body", "4096", NULL};
  ts_start(&srv, args);
  agent = ts_token(&srv, "agent-1", "agent");
  reviewer = ts_token(&srv, "rev", "validator");
  labeler = ts_token(&srv, "lab", "labeler");
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", Q, ADMIN_TOKEN,
                      "{\"policy\":{\"rules\":[{\"name\":\"low\",\"when\":{\"confidence_below\":0.5},"
                      "\"then\":{\"action\":\"review\"}},{\"name\":\"default\",\"then\":{\"action\":\"accept\"}}]},"
                      "\"assignment\":{\"roles\":[\"validator\"]}}", &r), 201);
  tr_free(&r);
  assert_int_equal(tr(&srv, "PUT", Q2, ADMIN_TOKEN,
                      "{\"schema\":{\"questions\":["
                      "{\"name\":\"category\",\"type\":\"label\",\"labels\":[\"spam\",\"ham\"]},"
                      "{\"name\":\"quality\",\"type\":\"rating\",\"max\":5}]}}", &r), 201);
  tr_free(&r);
  const char *submits[][2] = {{TASKS, "{\"input\":\"review me\",\"confidence\":0.1}"},
                              {TASKS, "{\"input\":\"fine\",\"confidence\":0.9}"},
                              {TASKS, "{\"input\":\"later\",\"confidence\":0.2,\"priority\":-5}"},
                              {Q2 "/tasks", "{\"input\":{\"text\":\"win money\"}}"}};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(tr(&srv, "POST", submits[i][0], agent, submits[i][1], &r), 201);
    tr_free(&r);
  }
  claim("bi", t1, l1);
  claim("bi2", t2, l2);
  take_snapshot(&before);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  /* A graceful stop lets the sanitizer build report leaks into the log ts_cleanup checks. */
  ts_stop(&srv, SIGTERM);
  ts_cleanup(&srv);
  free_snapshot(&before);
  free(agent);
  free(reviewer);
  free(labeler);
  return 0;
}

/* Checks one answer against its case; returns a description of the first mismatch, or NULL. */
static const char *mismatch(const bad_case *c, const test_resp *r, char *why, size_t n) {
  const char *code = tj_str(r, "error.code"), *message = tj_str(r, "error.message");
  const json_t *field = json_object_get(json_object_get(r->json, "error"), "field");
  if (r->status != c->status) {
    snprintf(why, n, "status %ld, expected %ld", r->status, c->status);
  } else if (r->json == NULL || code == NULL || message == NULL) {
    snprintf(why, n, "the body is not {\"error\":{\"code\",\"message\"}}");
  } else if (r->content_type == NULL || strncmp(r->content_type, "application/json", 16) != 0) {
    snprintf(why, n, "content type %s", r->content_type ? r->content_type : "(none)");
  } else if (strcmp(code, c->code) != 0) {
    snprintf(why, n, "code %s, expected %s", code, c->code);
  } else if (strstr(message, c->fragment) == NULL) {
    snprintf(why, n, "the message lacks \"%s\"", c->fragment);
  } else if (c->field == NULL && field != NULL) {
    snprintf(why, n, "unexpected field %s", json_string_value(field));
  } else if (c->field != NULL) {
    size_t len = strlen(c->field);
    bool prefix = c->field[len - 1] == '*';
    const char *got = json_string_value(field);
    if (got == NULL || (prefix ? strncmp(got, c->field, len - 1) != 0 : strcmp(got, c->field) != 0))
      snprintf(why, n, "field %s, expected %s", got ? got : "(none)", c->field);
    else
      return NULL;
  } else {
    return NULL;
  }
  return why;
}

static void test_corpus(void **state) {
  (void)state;
  size_t n = sizeof corpus / sizeof *corpus, failures = 0;
  for (size_t i = 0; i < n; i++) {
    const bad_case *c = &corpus[i];
    char path[512], why[256];
    expand(c->path, path, sizeof path);
    char *body = make_body(c->body);
    test_resp r;
    tr(&srv, c->method, path, token_of(c->token), body, &r);
    if (mismatch(c, &r, why, sizeof why)) {
      fprintf(stderr, "case %zu: %s %s %.80s\n  %s\n  got: %.400s\n", i, c->method, path,
              body ? body : "(no body)", why, r.body);
      failures++;
    }
    tr_free(&r);
    free(body);
    /* Still serving after each one. */
    if (tr(&srv, "GET", "/healthz", NULL, NULL, &r) != 200)
      fail_msg("the server stopped answering after case %zu (%s %s)", i, c->method, path);
    tr_free(&r);
  }
  if (failures) fail_msg("%zu of %zu bad-input cases got the wrong answer", failures, n);
}

/* A chunked upload has no Content-Length to refuse early: it is read, dropped and refused. */
static void test_chunked_body_over_limit(void **state) {
  (void)state;
  char *body = make_body("@big");
  const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
  test_resp r;
  assert_int_equal(tr_headers(&srv, "POST", TASKS, agent, body, chunked, &r), 413);
  assert_string_equal(tj_str(&r, "error.code"), "too_large");
  tr_free(&r);
  /* A chunked body under the limit is read whole: the same bytes cut short are parsed (and
   * refused only for what they say, not for their size). */
  body[3000] = '\0';
  assert_int_equal(tr_headers(&srv, "POST", TASKS, agent, body, chunked, &r), 400);
  assert_string_equal(tj_str(&r, "error.code"), "invalid_json");
  tr_free(&r);
  /* The connection and the server are fine afterwards. */
  assert_int_equal(tr(&srv, "GET", "/healthz", NULL, NULL, &r), 200);
  tr_free(&r);
  free(body);
}

/* Nothing of the bad requests was stored: no event, no task, no queue change. */
static void test_nothing_stored(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "GET", "/healthz", NULL, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "status"), "ok");
  tr_free(&r);
  snapshot after;
  take_snapshot(&after);
  assert_int_equal(after.n_events, before.n_events);
  assert_string_equal(after.last_hash, before.last_hash);
  assert_string_equal(after.tasks_bi, before.tasks_bi);
  assert_string_equal(after.tasks_bi2, before.tasks_bi2);
  assert_string_equal(after.queues, before.queues);
  free_snapshot(&after);
  /* The leases the corpus tried to misuse still work. */
  char path[128], body[160];
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", t1);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}", l1);
  assert_int_equal(tr(&srv, "POST", path, reviewer, body, &r), 200);
  assert_string_equal(tj_str(&r, "decision.outcome"), "approve");
  tr_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_corpus),
      cmocka_unit_test(test_chunked_body_over_limit),
      cmocka_unit_test(test_nothing_stored),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
