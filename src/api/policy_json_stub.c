/* SPDX-License-Identifier: MIT */
/* TEMPORARY stand-in for the policy compiler, written on another branch: delete on merge. */
#include <stdlib.h>
#include <string.h>

#include "api/policy_json.h"
#include "util/xmalloc.h"

struct hitl_policy {
  int unused; /* The stub compiles every policy to "no rules". */
};

struct hitl_json_doc {
  const json_t *doc;
};

/* Accepts NULL or an object and builds an empty policy; refuses anything else. */
int hitl__policy_from_json(const json_t *policy, const char *field_prefix, hitl_policy **out,
                           hitl_err *err) {
  *out = NULL;
  if (policy != NULL && !json_is_object(policy))
    return hitl_err_set(err, HITL_EVALIDATION, field_prefix, "%s must be an object",
                        field_prefix);
  *out = hitl_xcalloc(1, sizeof **out);
  return 0;
}

/* Routes every task to review: the stub has no rules. */
int hitl_policy_evaluate(const hitl_policy *p, const hitl_policy_input *in, hitl_route *out) {
  (void)p;
  (void)in;
  memset(out, 0, sizeof *out);
  out->rule_index = -1;
  out->action = HITL_ACTION_REVIEW;
  out->json = hitl_xstrdup("{\"action\":\"review\",\"rule\":null,\"trace\":[]}");
  return 0;
}

void hitl_policy_free(hitl_policy *p) { free(p); }

void hitl_route_clear(hitl_route *r) {
  if (r == NULL) return;
  free(r->rule_name);
  free(r->role);
  free(r->json);
  memset(r, 0, sizeof *r);
}

const char *hitl_action_name(hitl_action a) {
  switch (a) {
  case HITL_ACTION_ACCEPT: return "accept";
  case HITL_ACTION_REJECT: return "reject";
  case HITL_ACTION_REVIEW: return "review";
  }
  return NULL;
}

hitl_json_doc *hitl__json_doc_new(const json_t *doc) {
  hitl_json_doc *d = hitl_xcalloc(1, sizeof *d);
  d->doc = doc;
  return d;
}

void hitl__json_doc_free(hitl_json_doc *d) { free(d); }

int hitl__json_doc_lookup(void *ctx, const char *pointer, hitl_value *out) {
  (void)ctx;
  (void)pointer;
  memset(out, 0, sizeof *out);
  out->type = HITL_VALUE_MISSING;
  return 0;
}
