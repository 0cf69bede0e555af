/* SPDX-License-Identifier: MIT */
/* The sub-commands of the hitl binary: each takes the arguments after its name and returns an exit code. */
#ifndef HITL_CLI_COMMANDS_H
#define HITL_CLI_COMMANDS_H

/* Exit codes every command uses, so scripts can tell failures apart. */
enum {
  HITL_EXIT_OK = 0,
  HITL_EXIT_FAILURE = 1,  /* The server refused the request (4xx other than below) or it failed. */
  HITL_EXIT_USAGE = 2,    /* Bad command line. */
  HITL_EXIT_NOT_FOUND = 3,
  HITL_EXIT_CONFLICT = 4,
  HITL_EXIT_AUTH = 5,     /* 401 or 403. */
  HITL_EXIT_UNREACHABLE = 6, /* Could not talk to the server. */
  HITL_EXIT_EMPTY = 7,    /* claim: nothing to claim; task --wait: not decided in time. */
  HITL_EXIT_SERVER = 8,   /* 5xx. */
};

/* `hitl serve`: runs the server until SIGINT or SIGTERM. */
int hitl__cmd_serve(int argc, char **argv);
/* `hitl audit verify --db FILE`: recomputes the event hash chain. */
int hitl__cmd_audit(int argc, char **argv);

/* The client commands talk to a server over HTTP (see docs/cli.md). Each takes argv[0] = its own
 * name; options may come anywhere; --url/--token/--help are accepted by all. */

/* `hitl queue put NAME FILE|-`, `hitl queue get NAME`, `hitl queue list`. */
int hitl__cmd_queue(int argc, char **argv);
/* `hitl submit QUEUE [FILE|-] [--idempotency-key K] [--jsonl]`: one task or batches of 1,000. */
int hitl__cmd_submit(int argc, char **argv);
/* `hitl claim QUEUE`: leases the next task; HITL_EXIT_EMPTY when there is none. */
int hitl__cmd_claim(int argc, char **argv);
/* `hitl respond TASK_ID --lease L ANSWER [--question Q] [--comment C]`. */
int hitl__cmd_respond(int argc, char **argv);
/* `hitl release TASK_ID --lease L`. */
int hitl__cmd_release(int argc, char **argv);
/* `hitl cancel TASK_ID`. */
int hitl__cmd_cancel(int argc, char **argv);
/* `hitl task ID [--wait S]`: HITL_EXIT_EMPTY when still undecided after a wait. */
int hitl__cmd_task(int argc, char **argv);
/* `hitl tasks QUEUE [--state S] [--limit N] [--cursor C]`. */
int hitl__cmd_tasks(int argc, char **argv);
/* `hitl events [--after SEQ]`. */
int hitl__cmd_events(int argc, char **argv);
/* `hitl export QUEUE [--format F]`: streams to stdout. */
int hitl__cmd_export(int argc, char **argv);
/* `hitl import QUEUE FILE|-`: Label Studio tasks into a queue, all or nothing. */
int hitl__cmd_import(int argc, char **argv);
/* `hitl token create --name N --roles a,b` and `hitl token generate` (no server). */
int hitl__cmd_token(int argc, char **argv);

#endif
