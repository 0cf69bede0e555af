/* SPDX-License-Identifier: MIT */
/* Entry point of the hitl binary: global options, help, version, and dispatch to a sub-command. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "hitl/version.h"
#include "util/xmalloc.h"

/* One sub-command. */
typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv); /* Gets argv[0] = name. */
  int client;                        /* 1: talks to a server (takes --url/--token, needs curl). */
  const char *summary;
} command;

static const command commands[] = {
    {"serve", hitl__cmd_serve, 0, "run the server"},
    {"queue", hitl__cmd_queue, 1, "put, get or list queue configurations"},
    {"submit", hitl__cmd_submit, 1, "submit a task, a JSON array or JSON Lines of tasks"},
    {"claim", hitl__cmd_claim, 1, "lease the next task of a queue to review"},
    {"respond", hitl__cmd_respond, 1, "answer a leased task"},
    {"release", hitl__cmd_release, 1, "give a lease back"},
    {"cancel", hitl__cmd_cancel, 1, "cancel a task"},
    {"task", hitl__cmd_task, 1, "show a task, or wait for its decision"},
    {"tasks", hitl__cmd_tasks, 1, "list a queue's tasks"},
    {"events", hitl__cmd_events, 1, "read the event log"},
    {"export", hitl__cmd_export, 1, "stream a queue's decided tasks as training data"},
    {"import", hitl__cmd_import, 1, "import Label Studio tasks into a queue, all or nothing"},
    {"token", hitl__cmd_token, 1, "create a token on the server, or generate one locally"},
    {"audit", hitl__cmd_audit, 0, "verify the event hash chain of a database"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_help(FILE *f) {
  fprintf(f, "usage: hitl [--url URL] [--token TOKEN] COMMAND [ARGS...]\n\ncommands:\n");
  for (size_t i = 0; i < NCOMMANDS; i++)
    fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\n"
             "global options (before or after the command's words):\n"
             "  --url URL      server address; default $HITL_URL, else http://127.0.0.1:8080\n"
             "  --token TOKEN  bearer token; default $HITL_TOKEN\n"
             "  --help         help (also: hitl help COMMAND, hitl COMMAND --help)\n"
             "  --version      print the version\n"
             "  (HITL_CACERT=FILE: trust this CA certificate for an https:// server)\n"
             "\n"
             "exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 conflict, 5 not allowed,\n"
             "            6 server unreachable, 7 nothing to claim / not decided yet,\n"
             "            8 server error\n");
}

static const command *find_command(const char *name) {
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(commands[i].name, name) == 0) return &commands[i];
  return NULL;
}

/* Runs cmd with args; client commands get curl's global state around them. */
static int run(const command *cmd, int argc, char **argv) {
  if (!cmd->client) return cmd->run(argc, argv);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fprintf(stderr, "hitl: internal: cannot initialise libcurl\n");
    return HITL_EXIT_FAILURE;
  }
  int code = cmd->run(argc, argv);
  curl_global_cleanup();
  return code;
}

/* Returns 1 when arg is --url or --token given as "--url=V" (one word) or "--url" (two words). */
static int global_option_words(const char *arg) {
  if (strcmp(arg, "--url") == 0 || strcmp(arg, "--token") == 0) return 2;
  if (strncmp(arg, "--url=", 6) == 0 || strncmp(arg, "--token=", 8) == 0) return 1;
  return 0;
}

int main(int argc, char **argv) {
  /* Global options before the command are moved after its name, where every client command
   * parses them together with its own (later ones win). */
  int i = 1;
  while (i < argc && argv[i][0] == '-') {
    const char *arg = argv[i];
    if (strcmp(arg, "--version") == 0) {
      printf("hitl %s\n", HITL_VERSION);
      return HITL_EXIT_OK;
    }
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      print_help(stdout);
      return HITL_EXIT_OK;
    }
    int words = global_option_words(arg);
    if (words == 0) {
      fprintf(stderr, "hitl: unknown option '%s'\n", arg);
      print_help(stderr);
      return HITL_EXIT_USAGE;
    }
    if (i + words > argc) {
      fprintf(stderr, "hitl: option '%s' needs a value\n", arg);
      return HITL_EXIT_USAGE;
    }
    i += words;
  }
  int nglobal = i - 1;
  if (i == argc) {
    print_help(stderr);
    return HITL_EXIT_USAGE;
  }
  const char *name = argv[i];
  char *help_argv[3] = {NULL, "--help", NULL};
  if (strcmp(name, "help") == 0) {
    if (i + 1 == argc) {
      print_help(stdout);
      return HITL_EXIT_OK;
    }
    const command *cmd = find_command(argv[i + 1]);
    if (cmd == NULL) {
      fprintf(stderr, "hitl: no command '%s'; see hitl --help\n", argv[i + 1]);
      return HITL_EXIT_USAGE;
    }
    help_argv[0] = argv[i + 1];
    return run(cmd, 2, help_argv);
  }
  const command *cmd = find_command(name);
  if (cmd == NULL) {
    fprintf(stderr, "hitl: no command '%s'; see hitl --help\n", name);
    return HITL_EXIT_USAGE;
  }
  if (nglobal > 0 && !cmd->client) {
    fprintf(stderr, "hitl: --url and --token do not apply to '%s'\n", name);
    return HITL_EXIT_USAGE;
  }
  /* argv for the command: its name, the leading global options, then the rest. */
  int cargc = argc - 1;
  char **cargv = hitl_xmalloc(sizeof *cargv * (size_t)(cargc + 1));
  cargv[0] = argv[i];
  memcpy(cargv + 1, argv + 1, sizeof *cargv * (size_t)nglobal);
  memcpy(cargv + 1 + nglobal, argv + i + 1, sizeof *cargv * (size_t)(argc - i - 1));
  cargv[cargc] = NULL;
  int code = run(cmd, cargc, cargv);
  free(cargv);
  return code;
}
