/* SPDX-License-Identifier: MIT */
/* Entry point of the hitl binary: dispatches to the sub-commands. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "serve") == 0) return hitl__cmd_serve(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "audit") == 0) return hitl__cmd_audit(argc - 1, argv + 1);
  fprintf(stderr, "usage: hitl serve|audit ...\n");
  return HITL_EXIT_USAGE;
}
