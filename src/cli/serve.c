/* SPDX-License-Identifier: MIT */
/* `hitl serve`. */
#include <stdio.h>

#include "cli/commands.h"

int hitl__cmd_serve(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "hitl serve: not built yet\n");
  return HITL_EXIT_FAILURE;
}

int hitl__cmd_audit(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "hitl audit: not built yet\n");
  return HITL_EXIT_FAILURE;
}
