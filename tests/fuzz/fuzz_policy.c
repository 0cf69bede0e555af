/* SPDX-License-Identifier: MIT */
/* Fuzz target: a queue's policy, compiled from client JSON and evaluated against task documents. */
#include <string.h>

#include "api/policy_json.h"
#include "core/policy_regex.h"
#include "core/policy_rules.h"
#include "fuzz.h"

/* Task documents the compiled policy is evaluated against: numbers, strings, arrays, escaped
 * keys, nulls, a document without confidence. */
static const char doc_numbers[] =
    "{\"input\":{\"text\":\"call 555-12-3456 now\"},\"output\":{\"amount\":20000,\"text\":\"refund 300"
    " EUR\",\"labels\":[\"spam\",\"ham\"],\"ok\":true},\"metadata\":{\"customer\":\"internal\","
    "\"tags\":{\"b\":2,\"a\":1}},\"confidence\":0.42,\"probabilities\":{\"spam\":0.42,\"ham\":0.58},"
    "\"priority\":3,\"model_version\":\"m-1\",\"external_id\":\"e-1\"}";
static const char doc_escapes[] =
    "{\"input\":\"x\",\"output\":null,\"confidence\":1,\"items\":[{\"name\":\"x\"},{\"name\":\"y\"}],"
    "\"a/b\":{\"m~n\":1},\"\":{\"\":0},\"n\":-1.5e300,\"s\":\"\\u00e9\\n\"}";
static const char doc_no_confidence[] = "{\"input\":{},\"output\":[1,2,[3,{}]],\"metadata\":{}}";
static const char *const documents[] = {doc_numbers, doc_escapes, doc_no_confidence};

/* A document whose "/long" string is longer than a regex scans, in two-byte characters with a
 * one-byte start, so that the cut falls inside a character; made once. */
static json_t *long_document(void) {
  static json_t *doc;
  if (doc == NULL) {
    size_t n = 1 + 2 * (HITL_POLICY_REGEX_MAX_TEXT / 2 + 64);
    char *text = malloc(n + 1);
    FUZZ_CHECK(text != NULL);
    text[0] = 'x';
    for (size_t i = 1; i < n; i += 2) memcpy(text + i, "\xc3\xa9", 2);
    text[n] = '\0';
    doc = json_pack("{s:s%, s:{s:s%}}", "long", text, n, "output", "text", text, n);
    free(text);
  }
  return doc;
}

/* Evaluates p (compiled from size bytes) against doc and checks what every route must be. */
static void evaluate(const hitl_policy *p, const json_t *doc, size_t size) {
  const json_t *conf = json_object_get(doc, "confidence");
  hitl_json_doc *d = hitl__json_doc_new(doc);
  hitl_policy_input in = {
      .lookup = hitl__json_doc_lookup,
      .ctx = d,
      .sample_key = "t_fuzz",
      .has_confidence = json_is_number(conf),
      .confidence = json_number_value(conf),
  };
  hitl_route first, again;
  int rc = hitl_policy_evaluate(p, &in, &first);
  FUZZ_CHECK(rc == 0);
  FUZZ_CHECK(first.json != NULL && fuzz_json_valid(first.json));
  FUZZ_CHECK(first.rule_index >= -1 && first.rule_index < (int)hitl__policy_count(p));
  FUZZ_CHECK((first.rule_index < 0) == (first.rule_name == NULL));
  FUZZ_CHECK(!first.undecided || first.action == HITL_ACTION_REVIEW);
  /* The trace is capped; the rest of the route is the fired rule's name and role. */
  FUZZ_CHECK(strlen(first.json) <= HITL_POLICY_TRACE_MAX + 2 * size + 1024);
  /* Evaluation is deterministic, sampling included: the same task gets the same route. */
  rc = hitl_policy_evaluate(p, &in, &again);
  FUZZ_CHECK(rc == 0 && strcmp(first.json, again.json) == 0);
  hitl_route_clear(&first);
  hitl_route_clear(&again);
  hitl__json_doc_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *policy = fuzz_json_load(data, size);
  if (policy == NULL) return 0;
  hitl_policy *p = NULL;
  hitl_err err = {0};
  if (hitl__policy_from_json(policy, "policy", &p, &err) == 0) {
    FUZZ_CHECK(p != NULL);
    for (size_t i = 0; i < sizeof documents / sizeof *documents; i++) {
      json_t *doc = json_loads(documents[i], 0, NULL);
      FUZZ_CHECK(doc != NULL);
      evaluate(p, doc, size);
      json_decref(doc);
    }
    evaluate(p, long_document(), size);
    /* The input itself as a task document reaches pointers the fixed documents lack. */
    evaluate(p, policy, size);
    hitl_policy_free(p);
  } else {
    FUZZ_CHECK(p == NULL && err.code == HITL_EVALIDATION);
  }
  json_decref(policy);
  return 0;
}
