/* SPDX-License-Identifier: MIT */
/* Command-line parsing for the client commands: options anywhere, --url and --token everywhere. */
#ifndef HITL_CLI_ARGS_H
#define HITL_CLI_ARGS_H

#include <stddef.h>

#include "hitl/error.h"
#include "util/buf.h"

#define HITL__CLI_MAX_POSITIONAL 4 /* "queue put NAME FILE" is the longest. */
#define HITL__CLI_MAX_OPTIONS 24   /* Options of one command, not counting the global ones. */

/* One option a command accepts, written --name VALUE, --name=VALUE, or --name for a flag. */
typedef struct hitl__cli_optspec {
  const char *name; /* Long name without the dashes; NULL ends a table. */
  int takes_value;  /* 1: needs a value; 0: a flag. */
} hitl__cli_optspec;

/* A parsed command line. Strings are borrowed from argv and the spec table. */
typedef struct hitl__cli_args {
  const hitl__cli_optspec *spec;                  /* The table the line was parsed against. */
  const char *url;                                /* --url, or NULL. */
  const char *token;                              /* --token, or NULL. */
  int help;                                       /* 1 when --help or -h was given. */
  const char *positional[HITL__CLI_MAX_POSITIONAL]; /* Words that are not options, in order. */
  size_t npositional;
  const char *value[HITL__CLI_MAX_OPTIONS];       /* Per spec row: its value, "" for a flag that
                                                   * was given, NULL when absent. Last one wins. */
} hitl__cli_args;

/* Parses argv[1..argc) (argv[0] is the command's name) against spec (NULL-terminated, at most
 * HITL__CLI_MAX_OPTIONS rows). Options may come before, between or after the words; "--" ends the
 * options; "-" is a word (standard input). Returns 0, or HITL_EVALIDATION with err saying which
 * argument is wrong (unknown option, missing value, too many words). */
int hitl__cli_args_parse(int argc, char **argv, const hitl__cli_optspec *spec, hitl__cli_args *out,
                         hitl_err *err);

/* Returns the value of option name (see hitl__cli_args.value), or NULL when it was not given. */
const char *hitl__cli_opt(const hitl__cli_args *a, const char *name);

/* Parses s as a decimal integer in [0, max]; what names the option for the message. Returns 0 and
 * sets *out, or HITL_EVALIDATION with err set. */
int hitl__cli_parse_count(const char *s, const char *what, long long max, long long *out,
                          hitl_err *err);

/* Reads the whole file at path ("-" or NULL: standard input) into out (appending). Returns 0, or
 * HITL_EINTERNAL with err naming the file and the system error. */
int hitl__cli_read_input(const char *path, hitl_buf *out, hitl_err *err);

/* Sentinel of hitl__cli_start: the command should go on. */
#define HITL__CLI_CONTINUE (-1)

/* The common start of a command: parses argv into a, handles --help (prints usage to stdout and
 * returns HITL_EXIT_OK), and checks that between min_words and max_words words were given (prints
 * the problem and usage to stderr and returns HITL_EXIT_USAGE). Returns HITL__CLI_CONTINUE when
 * the command should run. */
int hitl__cli_start(int argc, char **argv, const hitl__cli_optspec *spec, const char *usage,
                    size_t min_words, size_t max_words, hitl__cli_args *a);

/* Prints "hitl: MESSAGE" and usage to stderr and returns HITL_EXIT_USAGE. */
int hitl__cli_usage_error(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
