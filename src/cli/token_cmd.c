/* SPDX-License-Identifier: MIT */
/* `hitl token create|generate|list|revoke`: bearer tokens (create and generate are the only
 * commands that ever print one). */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/request.h"
#include "util/id.h"

static const char usage[] =
    "usage: hitl token create --name NAME --roles ROLE[,ROLE...]\n"
    "         Creates a token on the server and prints it (shown once).\n"
    "       hitl token generate\n"
    "         Prints a fresh random token without asking a server (for HITL_ADMIN_TOKEN).\n"
    "       hitl token list\n"
    "         Lists the tokens' names, roles and whether they are revoked (never a secret).\n"
    "       hitl token revoke NAME\n"
    "         Revokes the token named NAME: it stops working at once, sessions included.\n"
    "  Roles: annotator, validator, corrector, arbiter, labeler, orchestrator, agent.\n"
    "options: --url URL (HITL_URL), --token TOKEN (HITL_TOKEN)\n";

static const hitl__cli_optspec options[] = {{"name", 1}, {"roles", 1}, {NULL, 0}};

/* POST /v1/tokens and prints the new token alone. */
static int create(const hitl__cli_args *a) {
  hitl__cli_conn c;
  hitl_err err = {0};
  hitl_buf url = HITL_BUF_INIT;
  hitl__cli_reply r = {0};
  json_t *req = NULL, *roles = NULL, *answer = NULL;
  char *body = NULL;
  int code;
  const char *name = hitl__cli_opt(a, "name"), *role_list = hitl__cli_opt(a, "roles");
  if (name == NULL || role_list == NULL) {
    code = hitl__cli_usage_error(usage, "token create needs --name and --roles");
    goto cleanup;
  }
  if (hitl__cli_conn_init(&c, a, &err) < 0 ||
      hitl__cli_list_json(role_list, "roles", &roles, &err) < 0) {
    code = hitl__cli_fail(&err);
    goto cleanup;
  }
  req = json_pack("{s:s, s:O}", "name", name, "roles", roles);
  body = req ? json_dumps(req, JSON_COMPACT) : NULL;
  if (body == NULL) {
    code = hitl__cli_usage_error(usage, "--name must be UTF-8 text");
    goto cleanup;
  }
  hitl__cli_url(&url, &err, c.base_url, "/v1/tokens");
  if (hitl__cli_http(&c, "POST", url.data, body, strlen(body), NULL, NULL, &r, &err) < 0) {
    code = hitl__cli_unreachable(&err);
    goto cleanup;
  }
  if (hitl__cli_exit_code(r.status) != HITL_EXIT_OK) {
    code = hitl__cli_report(&c, &r);
    goto cleanup;
  }
  answer = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
  const json_t *token = json_object_get(answer, "token");
  if (!json_is_string(token)) {
    fprintf(stderr, "hitl: internal: the server's answer has no token\n");
    code = HITL_EXIT_FAILURE;
    goto cleanup;
  }
  printf("%s\n", json_string_value(token));
  fprintf(stderr, "hitl: token '%s' created; it is shown this once, store it now\n", name);
  code = HITL_EXIT_OK;
cleanup:
  json_decref(answer);
  json_decref(req);
  json_decref(roles);
  free(body);
  hitl_buf_free(&r.body);
  hitl_buf_free(&url);
  return code;
}

int hitl__cmd_token(int argc, char **argv) {
  hitl__cli_args a;
  int code = hitl__cli_start(argc, argv, options, usage, 1, 2, &a);
  if (code != HITL__CLI_CONTINUE) return code;
  const char *sub = a.positional[0];
  bool takes_name = strcmp(sub, "revoke") == 0;
  if (a.npositional != (takes_name ? 2u : 1u))
    return hitl__cli_usage_error(usage, takes_name ? "token revoke needs the token's NAME"
                                                   : "token %s takes no further words", sub);
  if (strcmp(sub, "create") == 0) return create(&a);
  if (strcmp(sub, "list") == 0 || takes_name) {
    hitl__cli_conn c;
    hitl_err err = {0};
    hitl_buf url = HITL_BUF_INIT;
    if (hitl__cli_conn_init(&c, &a, &err) < 0) return hitl__cli_fail(&err);
    if (takes_name
            ? hitl__cli_url(&url, &err, c.base_url, "/v1/tokens/%s", a.positional[1]) < 0
            : hitl__cli_url(&url, &err, c.base_url, "/v1/tokens") < 0) {
      hitl_buf_free(&url);
      return hitl__cli_usage_error(usage, "the token name is empty");
    }
    code = hitl__cli_call(&c, takes_name ? "DELETE" : "GET", url.data, NULL, 0, NULL);
    hitl_buf_free(&url);
    return code;
  }
  if (strcmp(a.positional[0], "generate") != 0)
    return hitl__cli_usage_error(usage, "unknown token command '%s'", a.positional[0]);
  if (hitl__cli_opt(&a, "name") || hitl__cli_opt(&a, "roles"))
    return hitl__cli_usage_error(usage, "token generate takes no --name or --roles");
  if (hitl_id_init() < 0) {
    fprintf(stderr, "hitl: internal: cannot initialise the random generator\n");
    return HITL_EXIT_FAILURE;
  }
  char token[64];
  hitl_token_new(token);
  printf("%s\n", token);
  return HITL_EXIT_OK;
}
