/* SPDX-License-Identifier: MIT */
/* Run routes: agents register runs, heartbeat, post steps and read and acknowledge commands;
 * orchestrators command; every token reads runs. The rules are core/run_control.c's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/heartbeats.h"
#include "api/run_cache.h"
#include "api/run_json.h"
#include "api/server_internal.h"
#include "api/session.h"
#include "core/run_control.h"
#include "util/clock.h"
#include "util/xmalloc.h"

#define MAX_WAIT_SECONDS 120
#define RECHECK_MS 5000   /* A long-poll looks again at its token at least this often. */
#define COMMAND_PAGE 100  /* Commands one GET returns at most. */
#define DETAIL_STEPS 50   /* Latest steps GET /v1/runs/{id} shows. */
#define DETAIL_TASKS 50   /* Open tasks GET /v1/runs/{id} shows. */

/* ---- writes: one job type, one operation each -------------------------------------------- */

typedef enum op { OP_CREATE, OP_HEARTBEAT, OP_STEP, OP_COMMAND, OP_ACK } op;

typedef struct run_job {
  hitl_job job;
  hitl_request *req;
  op kind;
  char *run_id;        /* The run of the path (all but OP_CREATE). */
  json_t *body;        /* Parsed body, or NULL. */
  bool finish;         /* OP_HEARTBEAT. */
  const char *text;    /* OP_STEP, borrowed from body. */
  char *data;          /* OP_STEP. */
  hitl_run_command_type type; /* OP_COMMAND. */
  const char *goal;    /* OP_COMMAND, borrowed from body. */
  int64_t seq;         /* OP_ACK. */
  bool again;          /* OP_ACK: acknowledged before. */
  hitl_run run;        /* OP_CREATE: the run to register; the run after the others. */
  hitl_run_step step;
  hitl_run_command cmd;
} run_job;

static void run_job_free(void *p) {
  run_job *j = p;
  free(j->run_id);
  json_decref(j->body);
  free(j->data);
  hitl_run_clear(&j->run);
  hitl_run_step_clear(&j->step);
  hitl_run_command_clear(&j->cmd);
  free(j);
}

static int run_job_run(hitl_job *job, hitl_txn *x) {
  run_job *j = (run_job *)job;
  const hitl_actor *a = &j->req->actor;
  if (j->kind != OP_CREATE) hitl_run_clear(&j->run); /* Left by a run rolled back. */
  switch (j->kind) {
  case OP_CREATE: return hitl_run_create(x, &j->run, a, &job->err);
  case OP_HEARTBEAT: return hitl_run_heartbeat(x, j->run_id, a, j->finish, &j->run, &job->err);
  case OP_STEP:
    return hitl_run_add_step(x, j->run_id, a, j->text, j->data, &j->step, &j->run, &job->err);
  case OP_COMMAND:
    return hitl_run_command_give(x, j->run_id, a, j->type, j->goal, &j->cmd, &j->run, &job->err);
  case OP_ACK: return hitl_run_command_ack(x, j->run_id, j->seq, a, &j->cmd, &j->again, &job->err);
  }
  return HITL_EINTERNAL;
}

static void run_job_done(hitl_job *job, int rc) {
  run_job *j = (run_job *)job;
  hitl_request *req = j->req;
  hitl_run_cache *cache = req->server->run_cache;
  /* A step or an ordinary heartbeat changes the run without an event (api/sync.c forgets the
   * others'): heartbeats read it again from now on. A new run is known as stored: no other
   * write can have touched it yet, for nobody else knows its id. */
  if (cache && j->run_id) hitl__run_cache_forget(cache, j->run_id);
  if (cache && j->kind == OP_CREATE && rc == 0)
    hitl__run_cache_put(cache, &j->run, hitl__run_cache_version(cache, j->run.id));
  if (rc) {
    hitl__reply_err(req, &job->err);
    hitl__request_resume(req);
    return;
  }
  hitl_buf b = HITL_BUF_INIT;
  int status = 200;
  switch (j->kind) {
  case OP_CREATE:
    status = 201;
    snprintf(req->location, sizeof req->location, "/v1/runs/%s", j->run.id);
    hitl__run_to_json(&b, &j->run);
    break;
  case OP_HEARTBEAT: hitl__run_to_json(&b, &j->run); break;
  case OP_STEP:
    status = 201;
    hitl__run_step_to_json(&b, &j->step);
    b.len--; /* The step with the run after it. */
    hitl_buf_puts(&b, ",\"run\":");
    hitl__run_to_json(&b, &j->run);
    hitl_buf_putc(&b, '}');
    break;
  case OP_COMMAND:
    status = 201;
    hitl__run_command_to_json(&b, &j->cmd);
    b.len--;
    hitl_buf_puts(&b, ",\"run\":");
    hitl__run_to_json(&b, &j->run);
    hitl_buf_putc(&b, '}');
    break;
  case OP_ACK: hitl__run_command_to_json(&b, &j->cmd); break;
  }
  hitl__reply_buf(req, status, &b);
  hitl__request_resume(req);
}

static run_job *new_job(hitl_request *req, op kind, bool body_optional) {
  json_t *body = NULL;
  if (req->body.len > 0 || !body_optional) {
    body = hitl__body_json(req);
    if (body == NULL) return NULL;
  }
  run_job *j = hitl_xcalloc(1, sizeof *j);
  j->req = req;
  j->kind = kind;
  j->body = body;
  j->run_id = req->params[0] ? hitl_xstrdup(req->params[0]) : NULL;
  j->job.run = run_job_run;
  j->job.done = run_job_done;
  req->state = j;
  req->state_free = run_job_free;
  return j;
}

/* A heartbeat may wait this long for other writes to share its commit: at thousands of runs
 * heartbeating, one fsync then serves tens of them (bench/README.md, "Agent runs"). */
#define HEARTBEAT_BATCH_MS 50

static void enqueue(hitl_request *req, run_job *j) {
  hitl__request_suspend(req);
  if (j->kind == OP_HEARTBEAT && !j->finish)
    hitl__committer_enqueue_lazy(req->server->committer, &j->job, HEARTBEAT_BATCH_MS);
  else
    hitl__committer_enqueue(req->server->committer, &j->job);
}

/* Answers the decoding error in err; the job is freed with the request. */
static void refuse(hitl_request *req, const hitl_err *err) { hitl__reply_err(req, err); }

void hitl__h_run_create(hitl_request *req) {
  run_job *j = new_job(req, OP_CREATE, false);
  if (j == NULL) return;
  hitl_err err = {0};
  if (hitl__run_from_json(j->body, &j->run, &err) != 0) return refuse(req, &err);
  enqueue(req, j);
}

/* The heartbeat of a live run before its due time, the frequent case: checked and answered
 * from a read, stored by the writer with the others of the next moments in one operation
 * (api/heartbeats.c), so it is not a job of its own; the answer waits until that write is
 * durable. Returns false when the heartbeat takes the transaction path instead (a lost or
 * overdue run, a stopping server); true when req was answered or is held until it is. */
static bool quick_heartbeat(hitl_request *req, run_job *j) {
  hitl_server *s = req->server;
  if (__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE)) return false;
  hitl_err err = {0};
  int rc = 0;
  if (s->run_cache == NULL || !hitl__run_cache_get(s->run_cache, j->run_id, &j->run)) {
    hitl_store *st = hitl__server_reader(s);
    if (st == NULL) return false; /* The transaction path answers for the store. */
    uint64_t version = s->run_cache ? hitl__run_cache_version(s->run_cache, j->run_id) : 0;
    rc = hitl_run_read(st, j->run_id, &j->run, &err);
    if (rc == 0 && s->run_cache) hitl__run_cache_put(s->run_cache, &j->run, version);
  }
  if (rc == 0) rc = hitl_run_heartbeat_check(j->run_id, &req->actor, hitl_now_ms(), &j->run, &err);
  if (rc == HITL_ERETRY) return false;
  if (rc) {
    hitl__reply_err(req, &err);
    return true;
  }
  hitl_run_touch t = {.run_seq = j->run.seq,
                      .at = j->run.last_heartbeat_at,
                      .due_at = j->run.heartbeat_due_at};
  snprintf(t.run_id, sizeof t.run_id, "%s", j->run.id);
  hitl_buf b = HITL_BUF_INIT;
  hitl__run_to_json(&b, &j->run);
  /* Suspended before the table holds it: the writer may answer it at once. */
  hitl__request_suspend(req);
  if (hitl__heartbeats_add(s->heartbeats, &t, req, &b)) return true;
  hitl_buf_free(&b);
  /* The table is full or the writer stopping: a transaction of its own (already suspended). */
  hitl__committer_enqueue(s->committer, &j->job);
  return true;
}

void hitl__h_run_heartbeat(hitl_request *req) {
  run_job *j = new_job(req, OP_HEARTBEAT, true);
  if (j == NULL) return;
  hitl_err err = {0};
  if (hitl__run_heartbeat_from_json(j->body, &j->finish, &err) != 0) return refuse(req, &err);
  if (!j->finish && quick_heartbeat(req, j)) return;
  enqueue(req, j);
}

void hitl__h_run_step(hitl_request *req) {
  run_job *j = new_job(req, OP_STEP, false);
  if (j == NULL) return;
  hitl_err err = {0};
  if (hitl__run_step_from_json(j->body, &j->text, &j->data, &err) != 0) return refuse(req, &err);
  enqueue(req, j);
}

void hitl__h_run_command(hitl_request *req) {
  run_job *j = new_job(req, OP_COMMAND, false);
  if (j == NULL) return;
  hitl_err err = {0};
  if (hitl__run_command_from_json(j->body, &j->type, &j->goal, &err) != 0)
    return refuse(req, &err);
  enqueue(req, j);
}

/* Parses a non-negative whole number; false when s is not one. */
static bool parse_count(const char *s, long long max, long long *out) {
  char *end;
  errno = 0;
  *out = strtoll(s, &end, 10);
  return *s && *end == '\0' && errno == 0 && *out >= 0 && *out <= max;
}

void hitl__h_run_ack(hitl_request *req) {
  long long seq;
  if (!parse_count(req->params[1], INT64_MAX, &seq) || seq < 1) {
    hitl__reply_error(req, HITL_EVALIDATION, "seq",
                      "the command seq in the path must be a whole number from 1");
    return;
  }
  run_job *j = new_job(req, OP_ACK, true);
  if (j == NULL) return;
  if (j->body && !(json_is_object(j->body) && json_object_size(j->body) == 0)) {
    hitl__reply_error(req, HITL_EVALIDATION, NULL, "an acknowledgement has no body (or {})");
    return;
  }
  j->seq = seq;
  enqueue(req, j);
}

/* ---- reads -------------------------------------------------------------------------------- */

/* Reads run id into *r; answers 404 (or 503) and returns false when it cannot. */
static bool load_run(hitl_request *req, hitl_store *st, const char *id, hitl_run *r) {
  int rc = st->vt->run_get(st, id, r);
  if (rc == 0) return true;
  if (rc == HITL_ENOT_FOUND)
    hitl__reply_error(req, HITL_ENOT_FOUND, "run_id", "no run with id \"%s\"", id);
  else
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "could not read the run");
  return false;
}

void hitl__h_run_list(hitl_request *req) {
  int state = -1;
  const char *s = hitl__query(req, "state");
  if (s && ((state = hitl_run_state_parse(s)) < 0 || state == HITL_RUN_WAITING)) {
    hitl__reply_error(req, HITL_EVALIDATION, "state",
                      "state must be running, paused, stopped, finished or lost (a waiting run "
                      "is running: filter on running)");
    return;
  }
  long long limit, cursor;
  if (!hitl__query_page(req, 50, 500, &limit, &cursor)) return;
  hitl_store *st = hitl__reader(req);
  if (st == NULL) return;
  hitl_run *runs = NULL;
  size_t n = 0;
  if (st->vt->run_list(st, state, cursor, (size_t)limit, &runs, &n) != 0) {
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "could not read the runs");
    return;
  }
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_puts(&b, "{\"runs\":[");
  for (size_t i = 0; i < n; i++) {
    if (i) hitl_buf_putc(&b, ',');
    hitl__run_to_json(&b, &runs[i]);
  }
  if (n == (size_t)limit)
    hitl_buf_printf(&b, "],\"next_cursor\":\"%lld\"}", (long long)runs[n - 1].seq);
  else
    hitl_buf_puts(&b, "],\"next_cursor\":null}");
  for (size_t i = 0; i < n; i++) hitl_run_clear(&runs[i]);
  free(runs);
  hitl__reply_buf(req, 200, &b);
}

void hitl__h_run_get(hitl_request *req) {
  hitl_store *st = hitl__reader(req);
  if (st == NULL) return;
  hitl_run r = {0};
  if (!load_run(req, st, req->params[0], &r)) return;
  hitl_run_step *steps = NULL;
  hitl_run_command *cmds = NULL;
  hitl_task *tasks = NULL;
  size_t n_steps = 0, n_cmds = 0, n_tasks = 0;
  int rc = st->vt->run_step_list(st, r.seq, 0, DETAIL_STEPS, &steps, &n_steps);
  if (rc == 0) rc = st->vt->run_command_list(st, r.seq, 0, true, COMMAND_PAGE, &cmds, &n_cmds);
  if (rc == 0) rc = st->vt->run_open_tasks(st, r.id, DETAIL_TASKS, &tasks, &n_tasks);
  if (rc) {
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "could not read the run");
  } else {
    hitl_buf b = HITL_BUF_INIT;
    hitl__run_to_json(&b, &r);
    b.len--;
    hitl_buf_puts(&b, ",\"steps\":[");
    for (size_t i = 0; i < n_steps; i++) {
      if (i) hitl_buf_putc(&b, ',');
      hitl__run_step_to_json(&b, &steps[i]);
    }
    hitl_buf_puts(&b, "],\"commands\":[");
    for (size_t i = 0; i < n_cmds; i++) {
      if (i) hitl_buf_putc(&b, ',');
      hitl__run_command_to_json(&b, &cmds[i]);
    }
    hitl_buf_puts(&b, "],\"tasks\":[");
    for (size_t i = 0; i < n_tasks; i++) {
      if (i) hitl_buf_putc(&b, ',');
      hitl__run_task_to_json(&b, &tasks[i]);
    }
    hitl_buf_puts(&b, "]}");
    hitl__reply_buf(req, 200, &b);
  }
  for (size_t i = 0; i < n_steps; i++) hitl_run_step_clear(&steps[i]);
  for (size_t i = 0; i < n_cmds; i++) hitl_run_command_clear(&cmds[i]);
  for (size_t i = 0; i < n_tasks; i++) hitl_task_clear(&tasks[i]);
  free(steps);
  free(cmds);
  free(tasks);
  hitl_run_clear(&r);
}

/* ---- commands, long-polled ---------------------------------------------------------------- */

typedef struct command_wait {
  char run_id[HITL_ID_LEN];
  int64_t run_seq;
  int64_t after;
  int64_t deadline; /* When the wait ends with no command (ms). */
} command_wait;

/* Reads the commands after w->after; with answer_empty or some found, answers with them and
 * returns 1; returns 0 when there are none (nothing answered), -1 when it answered an error. */
static int answer_commands(hitl_request *req, hitl_store *st, const command_wait *w,
                           bool answer_empty) {
  hitl_run_command *cmds = NULL;
  size_t n = 0;
  if (st == NULL || st->vt->run_command_list(st, w->run_seq, w->after, false, COMMAND_PAGE, &cmds,
                                             &n) != 0) {
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "could not read the commands");
    return -1;
  }
  if (n == 0 && !answer_empty) return 0;
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_puts(&b, "{\"commands\":[");
  for (size_t i = 0; i < n; i++) {
    if (i) hitl_buf_putc(&b, ',');
    hitl__run_command_to_json(&b, &cmds[i]);
    hitl_run_command_clear(&cmds[i]);
  }
  hitl_buf_puts(&b, "]}");
  free(cmds);
  hitl__reply_buf(req, 200, &b);
  return 1;
}

static void commands_resumed(hitl_request *req);

/* Suspends req until a change of its run, its deadline or the next look at its token; then
 * looks again, so that a command committed before the registration is not missed. */
static void commands_register(hitl_request *req, command_wait *w) {
  int64_t wake = hitl_now_ms() + RECHECK_MS;
  req->on_resume = commands_resumed;
  hitl__request_suspend(req);
  hitl__waiters_add(req->server->waiters, req, w->run_id, wake < w->deadline ? wake : w->deadline);
  hitl_store *st = hitl__server_reader(req->server);
  hitl_run_command *cmds = NULL;
  size_t n = 0;
  if (st && st->vt->run_command_list(st, w->run_seq, w->after, false, 1, &cmds, &n) == 0 && n &&
      hitl__waiters_remove(req->server->waiters, req, w->run_id))
    hitl__request_resume(req);
  for (size_t i = 0; i < n; i++) hitl_run_command_clear(&cmds[i]);
  free(cmds);
}

static void commands_resumed(hitl_request *req) {
  command_wait *w = req->state;
  if (!hitl__principal_recheck(req)) {
    hitl__reply_error(req, HITL_EUNAUTHORIZED, NULL,
                      "the token was revoked or the session ended while waiting");
    return;
  }
  bool stopping = __atomic_load_n(&req->server->stopping, __ATOMIC_ACQUIRE);
  bool last = stopping || hitl_now_ms() >= w->deadline;
  if (answer_commands(req, hitl__server_reader(req->server), w, last) == 0)
    commands_register(req, w);
}

/* The commands of a run as Server-Sent Events ("event: run.command"), for agents that keep a
 * stream open rather than long-poll. The stream ends once the run is over and all is sent. */
typedef struct command_stream {
  char run_id[HITL_ID_LEN];
  int64_t run_seq;
} command_stream;

static int load_commands(void *ctx, hitl_store *st, int64_t *after, hitl_buf *out) {
  const command_stream *cs = ctx;
  hitl_run_command *cmds = NULL;
  size_t n = 0;
  if (st->vt->run_command_list(st, cs->run_seq, *after, false, COMMAND_PAGE, &cmds, &n) != 0)
    return 0;
  for (size_t i = 0; i < n; i++) {
    hitl_buf_printf(out, "id: %lld\nevent: run.command\ndata: ", (long long)cmds[i].seq);
    hitl__run_command_to_json(out, &cmds[i]);
    hitl_buf_puts(out, "\n\n");
    *after = cmds[i].seq;
    hitl_run_command_clear(&cmds[i]);
  }
  free(cmds);
  if (n) return (int)n;
  hitl_run r = {0};
  bool over = st->vt->run_get(st, cs->run_id, &r) == 0 && hitl_run_is_final(r.state);
  hitl_run_clear(&r);
  return over ? -1 : 0;
}

/* True when the caller asks for an event stream (?stream=1 or Accept: text/event-stream). */
static bool wants_stream(hitl_request *req) {
  const char *q = hitl__query(req, "stream"), *accept = hitl__header(req, "Accept");
  return (q && (strcmp(q, "1") == 0 || strcmp(q, "true") == 0)) ||
         (accept && strstr(accept, "text/event-stream"));
}

void hitl__h_run_commands(hitl_request *req) {
  long long after = 0, wait = 0;
  const char *s;
  /* An event stream resumes after the last id it saw. */
  if (wants_stream(req) && hitl__query(req, "after") == NULL &&
      (s = hitl__header(req, "Last-Event-ID")) && !parse_count(s, INT64_MAX, &after)) {
    hitl__reply_error(req, HITL_EVALIDATION, "Last-Event-ID", "Last-Event-ID must be a command seq");
    return;
  }
  if ((s = hitl__query(req, "after")) && !parse_count(s, INT64_MAX, &after)) {
    hitl__reply_error(req, HITL_EVALIDATION, "after",
                      "after must be a command seq (0 or more): the last one you have seen");
    return;
  }
  if ((s = hitl__query(req, "wait")) && !parse_count(s, MAX_WAIT_SECONDS, &wait)) {
    hitl__reply_error(req, HITL_EVALIDATION, "wait",
                      "wait must be a whole number of seconds from 0 to %d", MAX_WAIT_SECONDS);
    return;
  }
  hitl_store *st = hitl__reader(req);
  if (st == NULL) return;
  hitl_run r = {0};
  if (!load_run(req, st, req->params[0], &r)) return;
  if (!hitl_run_may_report(&req->actor, &r)) {
    hitl__reply_error(req, HITL_EFORBIDDEN, NULL,
                      "token \"%s\" did not register run \"%s\": only its agent reads its commands",
                      req->who.name, r.id);
    hitl_run_clear(&r);
    return;
  }
  if (wants_stream(req)) {
    command_stream *cs = hitl_xmalloc(sizeof *cs);
    snprintf(cs->run_id, sizeof cs->run_id, "%s", r.id);
    cs->run_seq = r.seq;
    hitl_run_clear(&r);
    if (!hitl__limits_wait_begin(req)) { /* 429: the token has its waits open already. */
      free(cs);
      return;
    }
    hitl__sse_begin(req, cs->run_id, after, load_commands, cs, free);
    return;
  }
  command_wait w = {.run_seq = r.seq, .after = after};
  snprintf(w.run_id, sizeof w.run_id, "%s", r.id);
  /* A run that is over gets no more commands: answer at once rather than wait. */
  bool over = hitl_run_is_final(r.state);
  hitl_run_clear(&r);
  if (answer_commands(req, st, &w, wait == 0 || over) != 0) return;
  if (!hitl__limits_wait_begin(req)) return; /* 429: the token has its waits open already. */
  command_wait *saved = hitl_xmalloc(sizeof *saved);
  *saved = w;
  saved->deadline = hitl_now_ms() + wait * 1000;
  req->state = saved;
  req->state_free = free;
  commands_register(req, saved);
}
