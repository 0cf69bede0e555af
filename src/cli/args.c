/* SPDX-License-Identifier: MIT */
/* Command-line parsing for the client commands, and reading a command's input file. */
#include "cli/args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

/* Finds the spec row of the option named by the n bytes at name; -1 when unknown. */
static int find_option(const hitl__cli_optspec *spec, const char *name, size_t n) {
  for (int i = 0; spec && spec[i].name; i++)
    if (strlen(spec[i].name) == n && memcmp(spec[i].name, name, n) == 0) return i;
  return -1;
}

int hitl__cli_args_parse(int argc, char **argv, const hitl__cli_optspec *spec, hitl__cli_args *out,
                         hitl_err *err) {
  memset(out, 0, sizeof *out);
  out->spec = spec;
  int only_words = 0; /* Set after "--". */
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int is_option = !only_words && arg[0] == '-' && arg[1] != '\0';
    if (!is_option) {
      if (out->npositional == HITL__CLI_MAX_POSITIONAL)
        return hitl_err_set(err, HITL_EVALIDATION, NULL, "too many arguments at '%s'", arg);
      out->positional[out->npositional++] = arg;
      continue;
    }
    if (strcmp(arg, "--") == 0) {
      only_words = 1;
      continue;
    }
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      out->help = 1;
      continue;
    }
    if (arg[1] != '-')
      return hitl_err_set(err, HITL_EVALIDATION, NULL, "unknown option '%s'", arg);
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
    const char *value = eq ? eq + 1 : NULL;
    const char **slot = NULL;
    int takes_value = 1;
    if (name_len == 3 && memcmp(name, "url", 3) == 0) {
      slot = &out->url;
    } else if (name_len == 5 && memcmp(name, "token", 5) == 0) {
      slot = &out->token;
    } else {
      int row = find_option(spec, name, name_len);
      if (row < 0 || row >= HITL__CLI_MAX_OPTIONS)
        return hitl_err_set(err, HITL_EVALIDATION, NULL, "unknown option '--%.*s'", (int)name_len,
                            name);
      slot = &out->value[row];
      takes_value = spec[row].takes_value;
    }
    if (!takes_value) {
      if (value)
        return hitl_err_set(err, HITL_EVALIDATION, NULL, "option '--%.*s' takes no value",
                            (int)name_len, name);
      *slot = "";
      continue;
    }
    if (value == NULL) {
      if (i + 1 >= argc)
        return hitl_err_set(err, HITL_EVALIDATION, NULL, "option '--%.*s' needs a value",
                            (int)name_len, name);
      value = argv[++i];
    }
    *slot = value;
  }
  return 0;
}

const char *hitl__cli_opt(const hitl__cli_args *a, const char *name) {
  int row = find_option(a->spec, name, strlen(name));
  return row < 0 || row >= HITL__CLI_MAX_OPTIONS ? NULL : a->value[row];
}

int hitl__cli_parse_count(const char *s, const char *what, long long max, long long *out,
                          hitl_err *err) {
  errno = 0;
  char *end = NULL;
  long long v = (s[0] >= '0' && s[0] <= '9') ? strtoll(s, &end, 10) : -1;
  if (v < 0 || errno != 0 || end == NULL || *end != '\0' || v > max)
    return hitl_err_set(err, HITL_EVALIDATION, what,
                        "%s must be a whole number from 0 to %lld, not '%s'", what, max, s);
  *out = v;
  return 0;
}

int hitl__cli_read_input(const char *path, hitl_buf *out, hitl_err *err) {
  int from_stdin = path == NULL || strcmp(path, "-") == 0;
  const char *shown = from_stdin ? "standard input" : path;
  FILE *f = from_stdin ? stdin : fopen(path, "rb");
  int rc = 0;
  if (f == NULL) {
    rc = hitl_err_set(err, HITL_EINTERNAL, NULL, "cannot open %s: %s", shown, strerror(errno));
    goto cleanup;
  }
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) hitl_buf_append(out, chunk, n);
  if (ferror(f)) rc = hitl_err_set(err, HITL_EINTERNAL, NULL, "cannot read %s", shown);
cleanup:
  if (f && !from_stdin) fclose(f);
  return rc;
}

int hitl__cli_usage_error(const char *usage, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("hitl: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n%s", usage);
  return HITL_EXIT_USAGE;
}

int hitl__cli_start(int argc, char **argv, const hitl__cli_optspec *spec, const char *usage,
                    size_t min_words, size_t max_words, hitl__cli_args *a) {
  hitl_err err = {0};
  if (hitl__cli_args_parse(argc, argv, spec, a, &err) < 0)
    return hitl__cli_usage_error(usage, "%s", err.message);
  if (a->help) {
    fputs(usage, stdout);
    return HITL_EXIT_OK;
  }
  if (a->npositional < min_words) return hitl__cli_usage_error(usage, "missing arguments");
  if (a->npositional > max_words)
    return hitl__cli_usage_error(usage, "unexpected argument '%s'", a->positional[max_words]);
  return HITL__CLI_CONTINUE;
}
