/* SPDX-License-Identifier: MIT */
/* The reviewer's and the caller's task commands: claim, respond, release, cancel, task, tasks. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/request.h"

#define GLOBAL_OPTIONS "options: --url URL (HITL_URL), --token TOKEN (HITL_TOKEN)\n"

static const hitl__cli_optspec no_options[] = {{NULL, 0}};

/* Parses a line of one word (a queue or a task id), resolves the connection and puts in url the
 * route /v1/COLLECTION/WORD/ACTION (without /ACTION when action is NULL). Returns
 * HITL__CLI_CONTINUE or the exit code to leave with. */
static int begin(int argc, char **argv, const hitl__cli_optspec *spec, const char *usage,
                 const char *collection, const char *action, hitl__cli_args *a,
                 hitl__cli_conn *c, hitl_buf *url) {
  int code = hitl__cli_start(argc, argv, spec, usage, 1, 1, a);
  if (code != HITL__CLI_CONTINUE) return code;
  hitl_err err = {0};
  if (hitl__cli_conn_init(c, a, &err) < 0) return hitl__cli_fail(&err);
  if (a->positional[0][0] == '\0')
    return hitl__cli_usage_error(usage, "the first argument is empty");
  if (action)
    hitl__cli_url(url, NULL, c->base_url, "/v1/%s/%s/%s", collection, a->positional[0], action);
  else
    hitl__cli_url(url, NULL, c->base_url, "/v1/%s/%s", collection, a->positional[0]);
  return HITL__CLI_CONTINUE;
}

static const char claim_usage[] =
    "usage: hitl claim QUEUE\n"
    "  Leases the next task of QUEUE for you; prints it with lease.id for respond and release.\n"
    "  Exits 7 when there is nothing to claim.\n" GLOBAL_OPTIONS;

int hitl__cmd_claim(int argc, char **argv) {
  hitl__cli_args a;
  hitl__cli_conn c;
  hitl_buf url = HITL_BUF_INIT;
  int code = begin(argc, argv, no_options, claim_usage, "queues", "claim", &a, &c, &url);
  if (code == HITL__CLI_CONTINUE) {
    hitl__cli_reply r;
    hitl_err err = {0};
    if (hitl__cli_http(&c, "POST", url.data, "{}", 2, NULL, NULL, &r, &err) < 0) {
      code = hitl__cli_unreachable(&err);
    } else if (r.status == 204) {
      fprintf(stderr, "hitl: queue %s has no task for you to claim\n", a.positional[0]);
      code = HITL_EXIT_EMPTY;
    } else {
      code = hitl__cli_report(&c, &r);
    }
    hitl_buf_free(&r.body); /* Empty after a failure. */
  }
  hitl_buf_free(&url);
  return code;
}

static const char respond_usage[] =
    "usage: hitl respond TASK_ID --lease LEASE_ID ANSWER [--question Q] [--comment C]\n"
    "  ANSWER is one of:\n"
    "    --approve | --reject | --skip | --escalate\n"
    "    --modify FILE|-    the corrected output, as JSON\n"
    "    --label X          one label\n"
    "    --labels a,b       several labels (\"\" for none)\n"
    "    --rating N         a number\n"
    "    --text STRING      free text\n"
    "    --json FILE|-      the whole response object; --lease, --question and --comment\n"
    "                       fill in what it lacks\n"
    "  --question Q         the question answered, when the queue's schema has several\n"
    "  --comment C          a note for the record\n" GLOBAL_OPTIONS;

int hitl__cmd_respond(int argc, char **argv) {
  hitl__cli_args a;
  hitl__cli_conn c;
  hitl_buf url = HITL_BUF_INIT;
  char *body = NULL;
  int code = begin(argc, argv, hitl__cli_respond_options, respond_usage, "tasks", "responses",
                   &a, &c, &url);
  if (code == HITL__CLI_CONTINUE) {
    hitl_err err = {0};
    if (hitl__cli_respond_body(&a, &body, &err) < 0)
      code = err.code == HITL_EVALIDATION ? hitl__cli_usage_error(respond_usage, "%s", err.message)
                                          : hitl__cli_fail(&err);
    else
      code = hitl__cli_call(&c, "POST", url.data, body, strlen(body), NULL);
  }
  free(body);
  hitl_buf_free(&url);
  return code;
}

static const hitl__cli_optspec release_options[] = {{"lease", 1}, {NULL, 0}};
static const char release_usage[] =
    "usage: hitl release TASK_ID --lease LEASE_ID\n"
    "  Gives the lease back so that someone else can take the task.\n" GLOBAL_OPTIONS;

int hitl__cmd_release(int argc, char **argv) {
  hitl__cli_args a;
  hitl__cli_conn c;
  hitl_buf url = HITL_BUF_INIT, body = HITL_BUF_INIT;
  int code = begin(argc, argv, release_options, release_usage, "tasks", "release", &a, &c, &url);
  if (code == HITL__CLI_CONTINUE) {
    const char *lease = hitl__cli_opt(&a, "lease");
    if (lease == NULL) {
      code = hitl__cli_usage_error(release_usage, "--lease LEASE_ID is required");
    } else {
      hitl_buf_puts(&body, "{\"lease_id\":");
      hitl_buf_json_cstr(&body, lease);
      hitl_buf_putc(&body, '}');
      code = hitl__cli_call(&c, "POST", url.data, body.data, body.len, NULL);
    }
  }
  hitl_buf_free(&body);
  hitl_buf_free(&url);
  return code;
}

static const char cancel_usage[] =
    "usage: hitl cancel TASK_ID\n"
    "  Cancels a task that is not decided yet.\n" GLOBAL_OPTIONS;

int hitl__cmd_cancel(int argc, char **argv) {
  hitl__cli_args a;
  hitl__cli_conn c;
  hitl_buf url = HITL_BUF_INIT;
  int code = begin(argc, argv, no_options, cancel_usage, "tasks", "cancel", &a, &c, &url);
  if (code == HITL__CLI_CONTINUE) code = hitl__cli_call(&c, "POST", url.data, "{}", 2, NULL);
  hitl_buf_free(&url);
  return code;
}

static const hitl__cli_optspec task_options[] = {{"wait", 1}, {NULL, 0}};
#define MAX_WAIT_PER_REQUEST 120 /* The server's limit for ?wait. */
static const char task_usage[] =
    "usage: hitl task TASK_ID [--wait SECONDS]\n"
    "  Prints the task with its responses and decision. --wait long-polls until it is decided;\n"
    "  exits 7 when it is still undecided after SECONDS.\n" GLOBAL_OPTIONS;

int hitl__cmd_task(int argc, char **argv) {
  hitl__cli_args a;
  hitl__cli_conn c;
  hitl_buf url = HITL_BUF_INIT;
  json_t *doc = NULL;
  int code = begin(argc, argv, task_options, task_usage, "tasks", NULL, &a, &c, &url);
  if (code != HITL__CLI_CONTINUE) goto cleanup;
  const char *wait = hitl__cli_opt(&a, "wait");
  long long seconds = 0;
  hitl_err err = {0};
  if (wait && hitl__cli_parse_count(wait, "wait", 86400, &seconds, &err) < 0) {
    code = hitl__cli_usage_error(task_usage, "%s", err.message);
    goto cleanup;
  }
  /* The server holds one request for at most MAX_WAIT_PER_REQUEST seconds: a longer wait is a
   * series of long-polls, each answered at once when the task is decided. */
  size_t base_len = url.len;
  time_t deadline = time(NULL) + (time_t)seconds;
  for (;;) {
    long long left = (long long)(deadline - time(NULL));
    if (left < 0) left = 0;
    long long chunk = left < MAX_WAIT_PER_REQUEST ? left : MAX_WAIT_PER_REQUEST;
    url.len = base_len;
    url.data[base_len] = '\0';
    if (wait) {
      char n[24];
      snprintf(n, sizeof n, "%lld", chunk);
      hitl__cli_url_query(&url, "wait", n);
    }
    hitl__cli_reply r;
    time_t asked = time(NULL);
    if (hitl__cli_http(&c, "GET", url.data, NULL, 0, NULL, NULL, &r, &err) < 0) {
      code = hitl__cli_unreachable(&err);
      goto cleanup;
    }
    bool open = false;
    const char *s = "";
    if (r.status == 200 && wait) {
      json_decref(doc);
      doc = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
      const json_t *state = json_object_get(doc, "state");
      s = json_is_string(state) ? json_string_value(state) : "";
      open = strcmp(s, "pending") == 0 || strcmp(s, "leased") == 0;
      /* Undecided after a full wait, and time is left: wait again. An early answer (the server
       * stopping) ends the loop, so that nothing spins. */
      if (open && chunk < left && time(NULL) - asked >= chunk - 1) {
        hitl_buf_free(&r.body);
        continue;
      }
    }
    code = hitl__cli_report(&c, &r);
    if (code == HITL_EXIT_OK && open) {
      fprintf(stderr, "hitl: task %s is still %s after %lld s\n", a.positional[0], s, seconds);
      code = HITL_EXIT_EMPTY;
    }
    hitl_buf_free(&r.body);
    break;
  }
cleanup:
  json_decref(doc);
  hitl_buf_free(&url);
  return code;
}

static const hitl__cli_optspec tasks_options[] = {
    {"state", 1}, {"limit", 1}, {"cursor", 1}, {NULL, 0}};
static const char tasks_usage[] =
    "usage: hitl tasks QUEUE [--state STATE] [--limit N] [--cursor CURSOR]\n"
    "  Lists the tasks of QUEUE, newest first. STATE: pending, leased, decided, expired,\n"
    "  cancelled. Pass the answer's next_cursor as --cursor for the next page.\n" GLOBAL_OPTIONS;

int hitl__cmd_tasks(int argc, char **argv) {
  hitl__cli_args a;
  hitl__cli_conn c;
  hitl_buf url = HITL_BUF_INIT;
  int code = begin(argc, argv, tasks_options, tasks_usage, "queues", "tasks", &a, &c, &url);
  if (code == HITL__CLI_CONTINUE) code = hitl__cli_get_page(&c, &a, &url, tasks_usage);
  hitl_buf_free(&url);
  return code;
}
