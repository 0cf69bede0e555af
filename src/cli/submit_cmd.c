/* SPDX-License-Identifier: MIT */
/* `hitl submit`: one task, a JSON array of tasks, or JSON Lines, sent in batches of 1,000. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/request.h"

static const char usage[] =
    "usage: hitl submit QUEUE [FILE|-] [--idempotency-key KEY] [--jsonl]\n"
    "  Submits the task in FILE (default: standard input). A JSON object is one task; a JSON\n"
    "  array, or JSON Lines with --jsonl (one task per line), is sent in batches of up to 1000.\n"
    "  --idempotency-key KEY  resubmitting with the same KEY and body returns the same task\n"
    "                         (one task only; give batch tasks their own keys in the body)\n"
    "options: --url URL (HITL_URL), --token TOKEN (HITL_TOKEN)\n";

static const hitl__cli_optspec options[] = {{"idempotency-key", 1}, {"jsonl", 0}, {NULL, 0}};

/* When the server's error in r names a task of the batch ("tasks[K]..." in error.field), writes
 * the input line (JSON Lines) or position (array) of that task to *at and the rest of the field
 * (such as ".confidence", or "") to rest, and returns true. */
static bool failed_task(const hitl__cli_reply *r, const hitl__cli_span *spans, size_t start,
                        size_t count, size_t *at, char rest[160]) {
  json_t *doc = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
  const char *field = json_string_value(json_object_get(json_object_get(doc, "error"), "field"));
  size_t k = 0;
  int used = 0;
  bool found = field && sscanf(field, "tasks[%zu]%n", &k, &used) == 1 && used > 0 && k < count;
  if (found) {
    *at = spans[start + k].line;
    snprintf(rest, 160, "%s", field + used + (field[used] == '.' ? 1 : 0));
  }
  json_decref(doc);
  return found;
}

/* Posts the batches of spans; prints each answer. Returns the exit code. */
static int submit_batches(const hitl__cli_conn *c, const char *queue, const char *text,
                          const hitl__cli_span *spans, size_t n, int jsonl) {
  hitl_buf url = HITL_BUF_INIT, body = HITL_BUF_INIT;
  hitl_err err = {0};
  int code = HITL_EXIT_OK;
  size_t start = 0, count;
  hitl__cli_url(&url, &err, c->base_url, "/v1/queues/%s/tasks/batch", queue);
  while ((count = hitl__cli_batch_body(&body, text, spans, n, start)) > 0) {
    hitl__cli_reply r;
    size_t at = 0;
    char rest[160] = "";
    bool named = false;
    if (hitl__cli_http(c, "POST", url.data, body.data, body.len, NULL, NULL, &r, &err) < 0) {
      code = hitl__cli_unreachable(&err);
    } else {
      code = hitl__cli_report(c, &r);
      named = code != HITL_EXIT_OK && failed_task(&r, spans, start, count, &at, rest);
      hitl_buf_free(&r.body);
    }
    if (code != HITL_EXIT_OK) {
      const char *unit = jsonl ? "line" : "task";
      if (named)
        fprintf(stderr, "hitl: at fault: %s %zu of the input%s%s%s\n", unit, at,
                rest[0] ? " (field " : "", rest, rest[0] ? ")" : "");
      fprintf(stderr,
              "hitl: the batch starting at %s %zu failed; %zu of %zu tasks were submitted\n",
              unit, spans[start].line, start, n);
      break;
    }
    start += count;
  }
  hitl_buf_free(&url);
  hitl_buf_free(&body);
  return code;
}

int hitl__cmd_submit(int argc, char **argv) {
  hitl__cli_args a;
  int code = hitl__cli_start(argc, argv, options, usage, 1, 2, &a);
  if (code != HITL__CLI_CONTINUE) return code;
  hitl__cli_conn c;
  hitl_err err = {0};
  hitl_buf url = HITL_BUF_INIT, input = HITL_BUF_INIT, text = HITL_BUF_INIT,
           header = HITL_BUF_INIT;
  hitl__cli_span *spans = NULL;
  json_t *doc = NULL;
  size_t n = 0;
  const char *queue = a.positional[0];
  const char *file = a.npositional > 1 ? a.positional[1] : "-";
  const char *key = hitl__cli_opt(&a, "idempotency-key");
  int jsonl = hitl__cli_opt(&a, "jsonl") != NULL;
  if (hitl__cli_conn_init(&c, &a, &err) < 0) {
    code = hitl__cli_fail(&err);
    goto cleanup;
  }
  if (hitl__cli_url(&url, &err, c.base_url, "/v1/queues/%s/tasks", queue) < 0) {
    code = hitl__cli_usage_error(usage, "the queue name is empty");
    goto cleanup;
  }
  for (const char *p = key; p && *p; p++) {
    if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) {
      code = hitl__cli_usage_error(usage, "the idempotency key holds a control character");
      goto cleanup;
    }
  }
  if (hitl__cli_read_input(file, &input, &err) < 0) {
    code = hitl__cli_fail(&err);
    goto cleanup;
  }
  const char *data = input.data ? input.data : "";
  if (jsonl) {
    if (hitl__cli_jsonl_split(data, input.len, &spans, &n, &err) < 0) {
      code = hitl__cli_fail(&err);
      goto cleanup;
    }
  } else {
    json_error_t jerr;
    doc = json_loadb(data, input.len, 0, &jerr);
    if (doc == NULL) {
      hitl_err_set(&err, HITL_EINVALID_JSON, NULL, "line %d column %d: %s%s", jerr.line,
                   jerr.column, jerr.text, jerr.line > 1 ? " (JSON Lines? add --jsonl)" : "");
      code = hitl__cli_fail(&err);
      goto cleanup;
    }
    if (json_is_object(doc)) {
      if (key) hitl_buf_printf(&header, "Idempotency-Key: %s", key);
      code = hitl__cli_call(&c, "POST", url.data, data, input.len, key ? header.data : NULL);
      goto cleanup;
    }
    if (hitl__cli_array_split(data, input.len, &text, &spans, &n, &err) < 0) {
      code = hitl__cli_fail(&err);
      goto cleanup;
    }
    data = text.data ? text.data : "";
  }
  if (n == 0) {
    hitl_err_set(&err, HITL_EINVALID_JSON, NULL, "the input holds no task");
    code = hitl__cli_fail(&err);
    goto cleanup;
  }
  if (key) {
    code = hitl__cli_usage_error(usage, "--idempotency-key is for one task; this input has a list");
    goto cleanup;
  }
  code = submit_batches(&c, queue, data, spans, n, jsonl);
cleanup:
  json_decref(doc);
  free(spans);
  hitl_buf_free(&url);
  hitl_buf_free(&input);
  hitl_buf_free(&text);
  hitl_buf_free(&header);
  return code;
}
