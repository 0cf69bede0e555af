/* SPDX-License-Identifier: MIT */
/* `hitl queue put|get|list|deliveries|redeliver`: a queue's configuration, live counts and
 * webhook deliveries. */
#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "cli/client.h"
#include "cli/commands.h"

static const char usage[] =
    "usage: hitl queue put NAME FILE|-   create or replace a queue from a JSON file (or stdin)\n"
    "       hitl queue get NAME          one queue's configuration and counts\n"
    "       hitl queue list              every queue\n"
    "       hitl queue deliveries NAME [--state pending|delivered|failed] [--limit N]\n"
    "                                    [--cursor CURSOR]\n"
    "                                    what the queue's webhooks sent, newest first; pass\n"
    "                                    the answer's next_cursor as --cursor for the next page\n"
    "       hitl queue redeliver NAME ID  send a delivered or failed webhook delivery again\n"
    "options: --url URL (HITL_URL), --token TOKEN (HITL_TOKEN)\n";

static const hitl__cli_optspec options[] = {{"state", 1}, {"limit", 1}, {"cursor", 1}, {NULL, 0}};

int hitl__cmd_queue(int argc, char **argv) {
  hitl__cli_args a;
  int code = hitl__cli_start(argc, argv, options, usage, 1, 3, &a);
  if (code != HITL__CLI_CONTINUE) return code;
  hitl__cli_conn c;
  hitl_err err = {0};
  hitl_buf url = HITL_BUF_INIT, body = HITL_BUF_INIT;
  const char *verb = a.positional[0];
  bool paged = hitl__cli_opt(&a, "state") || hitl__cli_opt(&a, "limit") ||
               hitl__cli_opt(&a, "cursor");
  if (hitl__cli_conn_init(&c, &a, &err) < 0) {
    code = hitl__cli_fail(&err);
  } else if (paged && strcmp(verb, "deliveries") != 0) {
    code = hitl__cli_usage_error(usage, "--state, --limit and --cursor go with queue deliveries");
  } else if (strcmp(verb, "deliveries") == 0) {
    if (a.npositional != 2) {
      code = hitl__cli_usage_error(usage, "queue deliveries needs NAME");
    } else if (hitl__cli_url(&url, &err, c.base_url, "/v1/queues/%s/webhook-deliveries",
                             a.positional[1]) < 0) {
      code = hitl__cli_usage_error(usage, "the queue name is empty");
    } else {
      code = hitl__cli_get_page(&c, &a, &url, usage);
    }
  } else if (strcmp(verb, "redeliver") == 0) {
    if (a.npositional != 3) {
      code = hitl__cli_usage_error(usage, "queue redeliver needs NAME and ID");
    } else if (hitl__cli_url(&url, &err, c.base_url,
                             "/v1/queues/%s/webhook-deliveries/%s/redeliver", a.positional[1],
                             a.positional[2]) < 0) {
      code = hitl__cli_usage_error(usage, "the queue name and the delivery id may not be empty");
    } else {
      code = hitl__cli_call(&c, "POST", url.data, NULL, 0, NULL);
    }
  } else if (strcmp(verb, "list") == 0) {
    if (a.npositional != 1) {
      code = hitl__cli_usage_error(usage, "queue list takes no more words");
    } else {
      hitl__cli_url(&url, &err, c.base_url, "/v1/queues");
      code = hitl__cli_call(&c, "GET", url.data, NULL, 0, NULL);
    }
  } else if (strcmp(verb, "get") == 0) {
    if (a.npositional != 2) {
      code = hitl__cli_usage_error(usage, "queue get needs NAME");
    } else if (hitl__cli_url(&url, &err, c.base_url, "/v1/queues/%s", a.positional[1]) < 0) {
      code = hitl__cli_usage_error(usage, "the queue name is empty");
    } else {
      code = hitl__cli_call(&c, "GET", url.data, NULL, 0, NULL);
    }
  } else if (strcmp(verb, "put") == 0) {
    if (a.npositional != 3) {
      code = hitl__cli_usage_error(usage, "queue put needs NAME and FILE (- for stdin)");
    } else if (hitl__cli_url(&url, &err, c.base_url, "/v1/queues/%s", a.positional[1]) < 0) {
      code = hitl__cli_usage_error(usage, "the queue name is empty");
    } else if (hitl__cli_read_input(a.positional[2], &body, &err) < 0) {
      code = hitl__cli_fail(&err);
    } else {
      /* Checked here for a message with line and column; sent as written. */
      json_error_t jerr;
      json_t *doc = json_loadb(body.data ? body.data : "", body.len, 0, &jerr);
      if (!json_is_object(doc)) {
        const char *shown = strcmp(a.positional[2], "-") == 0 ? "standard input" : a.positional[2];
        if (doc)
          hitl_err_set(&err, HITL_EINVALID_JSON, NULL, "%s: a queue configuration is a JSON object",
                       shown);
        else
          hitl_err_set(&err, HITL_EINVALID_JSON, NULL, "%s: line %d column %d: %s", shown,
                       jerr.line, jerr.column, jerr.text);
        code = hitl__cli_fail(&err);
      } else {
        code = hitl__cli_call(&c, "PUT", url.data, body.data, body.len, NULL);
      }
      json_decref(doc);
    }
  } else {
    code = hitl__cli_usage_error(usage, "unknown queue command '%s'", verb);
  }
  hitl_buf_free(&url);
  hitl_buf_free(&body);
  return code;
}
