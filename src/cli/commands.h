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

#endif
