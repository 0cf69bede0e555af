/* SPDX-License-Identifier: MIT */
/* `hitl import QUEUE FILE|-`: Label Studio tasks (its JSON export) into a queue, all or nothing. */
#include <jansson.h>
#include <string.h>

#include "cli/client.h"
#include "cli/commands.h"

static const char usage[] =
    "usage: hitl import QUEUE FILE|-\n"
    "  Imports Label Studio tasks (a JSON array of tasks with \"data\", and optional\n"
    "  \"predictions\" and \"annotations\", as Label Studio exports them) into QUEUE: data\n"
    "  become the input, the first prediction the output and confidence, annotations the\n"
    "  answers of their annotators. All or nothing: a task that does not fit the queue's\n"
    "  schema refuses the import and is named by its index. At most 1000 tasks per file.\n"
    "options: --url URL (HITL_URL), --token TOKEN (HITL_TOKEN)\n";

static const hitl__cli_optspec options[] = {{NULL, 0}};

int hitl__cmd_import(int argc, char **argv) {
  hitl__cli_args a;
  int code = hitl__cli_start(argc, argv, options, usage, 2, 2, &a);
  if (code != HITL__CLI_CONTINUE) return code;
  hitl__cli_conn c;
  hitl_err err = {0};
  hitl_buf url = HITL_BUF_INIT, body = HITL_BUF_INIT;
  if (hitl__cli_conn_init(&c, &a, &err) < 0) {
    code = hitl__cli_fail(&err);
  } else if (hitl__cli_url(&url, &err, c.base_url, "/v1/queues/%s/import?format=label-studio",
                           a.positional[0]) < 0) {
    code = hitl__cli_usage_error(usage, "the queue name is empty");
  } else if (hitl__cli_read_input(a.positional[1], &body, &err) < 0) {
    code = hitl__cli_fail(&err);
  } else {
    /* Checked here for a message with line and column; sent as written. */
    json_error_t jerr;
    json_t *doc = json_loadb(body.data ? body.data : "", body.len, 0, &jerr);
    const char *shown = strcmp(a.positional[1], "-") == 0 ? "standard input" : a.positional[1];
    if (!json_is_array(doc)) {
      if (doc)
        hitl_err_set(&err, HITL_EINVALID_JSON, NULL,
                     "%s: Label Studio tasks are a JSON array of tasks", shown);
      else
        hitl_err_set(&err, HITL_EINVALID_JSON, NULL, "%s: line %d column %d: %s", shown,
                     jerr.line, jerr.column, jerr.text);
      code = hitl__cli_fail(&err);
    } else {
      code = hitl__cli_call(&c, "POST", url.data, body.data, body.len, NULL);
    }
    json_decref(doc);
  }
  hitl_buf_free(&url);
  hitl_buf_free(&body);
  return code;
}
