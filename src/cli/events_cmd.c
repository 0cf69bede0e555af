/* SPDX-License-Identifier: MIT */
/* `hitl events` and `hitl export`: reading the event log and streaming a queue's training data. */
#include <stdint.h>
#include <stdio.h>

#include "cli/client.h"
#include "cli/commands.h"

#define GLOBAL_OPTIONS "options: --url URL (HITL_URL), --token TOKEN (HITL_TOKEN)\n"

static const hitl__cli_optspec events_options[] = {{"after", 1}, {NULL, 0}};
static const char events_usage[] =
    "usage: hitl events [--after SEQ]\n"
    "  Prints the events after sequence number SEQ (default 0: from the start).\n" GLOBAL_OPTIONS;

int hitl__cmd_events(int argc, char **argv) {
  hitl__cli_args a;
  int code = hitl__cli_start(argc, argv, events_options, events_usage, 0, 0, &a);
  if (code != HITL__CLI_CONTINUE) return code;
  hitl__cli_conn c;
  hitl_err err = {0};
  hitl_buf url = HITL_BUF_INIT;
  const char *after = hitl__cli_opt(&a, "after");
  long long seq = 0;
  if (hitl__cli_conn_init(&c, &a, &err) < 0) {
    code = hitl__cli_fail(&err);
  } else if (after && hitl__cli_parse_count(after, "after", INT64_MAX, &seq, &err) < 0) {
    code = hitl__cli_usage_error(events_usage, "%s", err.message);
  } else {
    hitl__cli_url(&url, &err, c.base_url, "/v1/events");
    hitl__cli_url_query(&url, "after", after ? after : "0");
    code = hitl__cli_call(&c, "GET", url.data, NULL, 0, NULL);
  }
  hitl_buf_free(&url);
  return code;
}

static const hitl__cli_optspec export_options[] = {
    {"format", 1}, {"since", 1}, {"model-version", 1}, {NULL, 0}};
static const char export_usage[] =
    "usage: hitl export QUEUE [--format FORMAT] [--since TIME] [--model-version V]\n"
    "  Streams QUEUE's decided tasks to standard output. FORMAT: jsonl (default), sft, dpo,\n"
    "  labels, label-studio. --since keeps tasks decided at or after TIME (RFC 3339);\n"
    "  --model-version keeps the tasks of that model version.\n" GLOBAL_OPTIONS;

int hitl__cmd_export(int argc, char **argv) {
  hitl__cli_args a;
  int code = hitl__cli_start(argc, argv, export_options, export_usage, 1, 1, &a);
  if (code != HITL__CLI_CONTINUE) return code;
  hitl__cli_conn c;
  hitl_err err = {0};
  hitl_buf url = HITL_BUF_INIT;
  hitl__cli_reply r = {0};
  if (hitl__cli_conn_init(&c, &a, &err) < 0) {
    code = hitl__cli_fail(&err);
  } else if (hitl__cli_url(&url, &err, c.base_url, "/v1/queues/%s/export", a.positional[0]) < 0) {
    code = hitl__cli_usage_error(export_usage, "the queue name is empty");
  } else {
    hitl__cli_url_query(&url, "format", hitl__cli_opt(&a, "format"));
    hitl__cli_url_query(&url, "since", hitl__cli_opt(&a, "since"));
    hitl__cli_url_query(&url, "model_version", hitl__cli_opt(&a, "model-version"));
    if (hitl__cli_http(&c, "GET", url.data, NULL, 0, NULL, stdout, &r, &err) < 0) {
      code = hitl__cli_unreachable(&err);
    } else if (hitl__cli_exit_code(r.status) == HITL_EXIT_OK) {
      code = fflush(stdout) == 0 ? HITL_EXIT_OK : HITL_EXIT_FAILURE; /* Streamed already. */
    } else {
      code = hitl__cli_report(&c, &r);
    }
  }
  hitl_buf_free(&r.body);
  hitl_buf_free(&url);
  return code;
}
