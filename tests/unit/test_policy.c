/* SPDX-License-Identifier: MIT */
/* Unit tests of the routing policy: decoding, every operator, order, sampling and the trace. */
#include <jansson.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/policy_json.h"
#include "core/policy.h"
#include "core/policy_regex.h"
#include "core/policy_rules.h"
#include "util/id.h"

/* Compiles policy text that must be valid. */
static hitl_policy *compile(const char *text) {
  json_error_t jerr;
  json_t *j = json_loads(text, 0, &jerr);
  if (j == NULL) fail_msg("bad test JSON: %s: %s", jerr.text, text);
  hitl_policy *p = NULL;
  hitl_err err = {0};
  int rc = hitl__policy_from_json(j, "policy", &p, &err);
  if (rc != 0) fail_msg("policy rejected: %s: %s (%s)", err.field, err.message, text);
  json_decref(j);
  assert_non_null(p);
  return p;
}

/* Evaluates p against the task document doc_text (confidence only when has_conf). */
static int evaluate(const hitl_policy *p, const char *doc_text, double confidence, bool has_conf,
                    const char *sample_key, hitl_route *route) {
  json_t *doc = json_loads(doc_text, JSON_ALLOW_NUL, NULL);
  assert_non_null(doc);
  hitl_json_doc *d = hitl__json_doc_new(doc);
  hitl_policy_input in = {.lookup = hitl__json_doc_lookup,
                          .ctx = d,
                          .sample_key = sample_key,
                          .has_confidence = has_conf,
                          .confidence = confidence};
  int rc = hitl_policy_evaluate(p, &in, route);
  hitl__json_doc_free(d);
  json_decref(doc);
  return rc;
}

/* True when the single rule "r" with condition cond fires on doc. */
static bool holds(const char *cond, const char *doc) {
  char text[2048];
  snprintf(text, sizeof text,
           "{\"rules\": [{\"name\": \"r\", \"when\": %s, \"then\": {\"action\": \"accept\"}}]}", cond);
  hitl_policy *p = compile(text);
  hitl_route r;
  assert_int_equal(evaluate(p, doc, 0.5, true, "k", &r), 0);
  bool fired = r.rule_index == 0;
  assert_int_equal(r.action, fired ? HITL_ACTION_ACCEPT : HITL_ACTION_REVIEW);
  hitl_route_clear(&r);
  hitl_policy_free(p);
  return fired;
}

typedef struct op_case {
  const char *cond;
  const char *doc;
  bool expected;
} op_case;

static void test_operators(void **state) {
  (void)state;
  static const op_case cases[] = {
      {"{\"eq\": {\"path\": \"/output/amount\", \"value\": 5}}", "{\"output\": {\"amount\": 5}}", true},
      {"{\"eq\": {\"path\": \"/output/amount\", \"value\": 5}}", "{\"output\": {\"amount\": 5.0}}", true},
      {"{\"eq\": {\"path\": \"/output/amount\", \"value\": 5}}", "{\"output\": {\"amount\": 6}}", false},
      {"{\"eq\": {\"path\": \"/output/amount\", \"value\": 5}}", "{\"output\": {\"amount\": \"5\"}}", false},
      {"{\"eq\": {\"path\": \"/output/amount\", \"value\": 5}}", "{\"output\": {}}", false},
      {"{\"eq\": {\"path\": \"/m/c\", \"value\": \"internal\"}}", "{\"m\": {\"c\": \"internal\"}}", true},
      {"{\"eq\": {\"path\": \"/m/c\", \"value\": \"internal\"}}", "{\"m\": {\"c\": \"internal \"}}", false},
      {"{\"eq\": {\"path\": \"/b\", \"value\": true}}", "{\"b\": true}", true},
      {"{\"eq\": {\"path\": \"/b\", \"value\": true}}", "{\"b\": false}", false},
      {"{\"eq\": {\"path\": \"/b\", \"value\": true}}", "{\"b\": 1}", false},
      {"{\"eq\": {\"path\": \"/n\", \"value\": null}}", "{\"n\": null}", true},
      {"{\"eq\": {\"path\": \"/n\", \"value\": null}}", "{}", false},
      {"{\"eq\": {\"path\": \"/a\", \"value\": [1, 2]}}", "{\"a\": [1, 2]}", true},
      {"{\"eq\": {\"path\": \"/a\", \"value\": [1, 2]}}", "{\"a\": [2, 1]}", false},
      {"{\"eq\": {\"path\": \"/o\", \"value\": {\"a\": 1, \"b\": [true]}}}",
       "{\"o\": {\"b\": [true], \"a\": 1}}", true},
      {"{\"eq\": {\"path\": \"/o\", \"value\": {\"a\": 1}}}", "{\"o\": {\"a\": 2}}", false},
      {"{\"ne\": {\"path\": \"/s\", \"value\": \"x\"}}", "{\"s\": \"y\"}", true},
      {"{\"ne\": {\"path\": \"/s\", \"value\": \"x\"}}", "{\"s\": \"x\"}", false},
      {"{\"ne\": {\"path\": \"/s\", \"value\": \"x\"}}", "{}", true},
      {"{\"gt\": {\"path\": \"/v\", \"value\": 10}}", "{\"v\": 10.5}", true},
      {"{\"gt\": {\"path\": \"/v\", \"value\": 10}}", "{\"v\": 10}", false},
      {"{\"gt\": {\"path\": \"/v\", \"value\": 10}}", "{\"v\": \"11\"}", false},
      {"{\"gt\": {\"path\": \"/v\", \"value\": 10}}", "{}", false},
      {"{\"lt\": {\"path\": \"/v\", \"value\": -1}}", "{\"v\": -2}", true},
      {"{\"lt\": {\"path\": \"/v\", \"value\": -1}}", "{\"v\": -1}", false},
      {"{\"lt\": {\"path\": \"/v\", \"value\": 3}}", "{\"v\": null}", false},
      {"{\"gte\": {\"path\": \"/v\", \"value\": 10}}", "{\"v\": 10}", true},
      {"{\"gte\": {\"path\": \"/v\", \"value\": 10}}", "{\"v\": 9.999}", false},
      {"{\"gte\": {\"path\": \"/v\", \"value\": 1}}", "{\"v\": true}", false},
      {"{\"lte\": {\"path\": \"/v\", \"value\": 0.5}}", "{\"v\": 0.5}", true},
      {"{\"lte\": {\"path\": \"/v\", \"value\": 0.5}}", "{\"v\": 0.51}", false},
      {"{\"lte\": {\"path\": \"/v\", \"value\": 1}}", "{\"v\": [0]}", false},
      {"{\"in\": {\"path\": \"/c\", \"values\": [\"a\", 2, null]}}", "{\"c\": 2}", true},
      {"{\"in\": {\"path\": \"/c\", \"values\": [\"a\", 2, null]}}", "{\"c\": \"a\"}", true},
      {"{\"in\": {\"path\": \"/c\", \"values\": [\"a\", 2, null]}}", "{\"c\": null}", true},
      {"{\"in\": {\"path\": \"/c\", \"values\": [\"a\", 2, null]}}", "{\"c\": \"b\"}", false},
      {"{\"in\": {\"path\": \"/c\", \"values\": [\"a\", 2, null]}}", "{}", false},
      {"{\"in\": {\"path\": \"/c\", \"values\": [[1], {\"k\": 1}]}}", "{\"c\": {\"k\": 1}}", true},
      {"{\"exists\": {\"path\": \"/x\"}}", "{\"x\": 0}", true},
      {"{\"exists\": {\"path\": \"/x\"}}", "{\"x\": null}", true},
      {"{\"exists\": {\"path\": \"/x\"}}", "{\"y\": 1}", false},
      {"{\"exists\": {\"path\": \"/x/y\"}}", "{\"x\": \"string\"}", false},
      {"{\"regex\": {\"path\": \"/t\", \"pattern\": \"[0-9]{3}-[0-9]{2}-[0-9]{4}\"}}",
       "{\"t\": \"ssn 123-45-6789 here\"}", true},
      {"{\"regex\": {\"path\": \"/t\", \"pattern\": \"[0-9]{3}-[0-9]{2}-[0-9]{4}\"}}",
       "{\"t\": \"ssn 123-456-789\"}", false},
      {"{\"regex\": {\"path\": \"/t\", \"pattern\": \"^ab+$\"}}", "{\"t\": \"abbb\"}", true},
      {"{\"regex\": {\"path\": \"/t\", \"pattern\": \"^ab+$\"}}", "{\"t\": \"abbbc\"}", false},
      {"{\"regex\": {\"path\": \"/t\", \"pattern\": \"1\"}}", "{\"t\": 1}", false},
      {"{\"regex\": {\"path\": \"/t\", \"pattern\": \".*\"}}", "{}", false},
      {"{\"confidence_below\": 0.8}", "{}", true},  /* Confidence 0.5 (see holds()). */
      {"{\"confidence_below\": 0.5}", "{}", false},
      {"{\"confidence_at_least\": 0.5}", "{}", true},
      {"{\"confidence_at_least\": 0.51}", "{}", false},
      {"{\"sample_percent\": 100}", "{}", true},
      {"{\"sample_percent\": 0}", "{}", false},
      {"{\"all\": [{\"exists\": {\"path\": \"/a\"}}, {\"exists\": {\"path\": \"/b\"}}]}",
       "{\"a\": 1, \"b\": 2}", true},
      {"{\"all\": [{\"exists\": {\"path\": \"/a\"}}, {\"exists\": {\"path\": \"/b\"}}]}", "{\"a\": 1}",
       false},
      {"{\"any\": [{\"exists\": {\"path\": \"/a\"}}, {\"exists\": {\"path\": \"/b\"}}]}", "{\"b\": 1}",
       true},
      {"{\"any\": [{\"exists\": {\"path\": \"/a\"}}, {\"exists\": {\"path\": \"/b\"}}]}", "{\"c\": 1}",
       false},
      {"{\"not\": {\"exists\": {\"path\": \"/a\"}}}", "{\"b\": 1}", true},
      {"{\"not\": {\"exists\": {\"path\": \"/a\"}}}", "{\"a\": 1}", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    bool got = holds(cases[i].cond, cases[i].doc);
    if (got != cases[i].expected)
      fail_msg("case %zu: %s on %s gave %d", i, cases[i].cond, cases[i].doc, got);
  }
}

static void test_nesting(void **state) {
  (void)state;
  /* The DESIGN.md example: big amounts not from internal customers. */
  const char *cond = "{\"all\": [{\"gt\": {\"path\": \"/output/amount\", \"value\": 10000}},"
                     " {\"not\": {\"eq\": {\"path\": \"/metadata/customer\", \"value\": \"internal\"}}},"
                     " {\"any\": [{\"confidence_below\": 0.9}, {\"exists\": {\"path\": \"/flag\"}}]}]}";
  assert_true(holds(cond, "{\"output\": {\"amount\": 20000}, \"metadata\": {\"customer\": \"acme\"}}"));
  assert_false(holds(cond, "{\"output\": {\"amount\": 20000}, \"metadata\": {\"customer\": \"internal\"}}"));
  assert_false(holds(cond, "{\"output\": {\"amount\": 200}, \"metadata\": {\"customer\": \"acme\"}}"));

  /* Thirty "not" around a leaf: an even count keeps the leaf's value. */
  char text[4096] = "";
  for (int i = 0; i < 30; i++) strcat(text, "{\"not\": ");
  strcat(text, "{\"exists\": {\"path\": \"/a\"}}");
  for (int i = 0; i < 30; i++) strcat(text, "}");
  assert_true(holds(text, "{\"a\": 1}"));
  assert_false(holds(text, "{}"));
}

static void test_first_match_order(void **state) {
  (void)state;
  hitl_policy *p = compile(
      "{\"rules\": ["
      " {\"name\": \"pii\", \"when\": {\"regex\": {\"path\": \"/output/text\", \"pattern\": \"secret\"}},"
      "  \"then\": {\"action\": \"review\", \"role\": \"validator\", \"priority\": 10}},"
      " {\"name\": \"bad\", \"when\": {\"eq\": {\"path\": \"/output/label\", \"value\": \"spam\"}},"
      "  \"then\": {\"action\": \"reject\"}},"
      " {\"name\": \"default\", \"then\": {\"action\": \"accept\", \"priority\": -3}}]}");
  hitl_route r;
  assert_int_equal(evaluate(p, "{\"output\": {\"text\": \"a secret\", \"label\": \"spam\"}}", 0.9, true,
                            "k", &r),
                   0);
  assert_int_equal(r.rule_index, 0);
  assert_string_equal(r.rule_name, "pii");
  assert_int_equal(r.action, HITL_ACTION_REVIEW);
  assert_string_equal(r.role, "validator");
  assert_true(r.has_priority);
  assert_int_equal(r.priority, 10);
  hitl_route_clear(&r);

  assert_int_equal(evaluate(p, "{\"output\": {\"text\": \"fine\", \"label\": \"spam\"}}", 0.9, true, "k", &r), 0);
  assert_int_equal(r.rule_index, 1);
  assert_int_equal(r.action, HITL_ACTION_REJECT);
  assert_null(r.role);
  assert_false(r.has_priority);
  hitl_route_clear(&r);

  assert_int_equal(evaluate(p, "{\"output\": {\"text\": \"fine\", \"label\": \"ham\"}}", 0.9, true, "k", &r), 0);
  assert_int_equal(r.rule_index, 2);
  assert_string_equal(r.rule_name, "default");
  assert_int_equal(r.action, HITL_ACTION_ACCEPT);
  assert_true(r.has_priority);
  assert_int_equal(r.priority, -3);
  json_t *j = json_loads(r.json, 0, NULL);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "rule")), "default");
  assert_string_equal(json_string_value(json_object_get(j, "action")), "accept");
  assert_true(json_is_null(json_object_get(j, "role")));
  assert_int_equal(json_integer_value(json_object_get(j, "priority")), -3);
  /* Two leaves were evaluated (one per earlier rule); the default rule has none. */
  assert_int_equal(json_array_size(json_object_get(j, "trace")), 2);
  json_decref(j);
  hitl_route_clear(&r);
  assert_null(r.json);
  assert_int_equal(r.rule_index, -1);
  hitl_policy_free(p);
}

static void test_no_match_reviews(void **state) {
  (void)state;
  hitl_policy *p = compile("{\"rules\": [{\"name\": \"big\", \"when\": {\"gt\": {\"path\": \"/v\", "
                           "\"value\": 1}}, \"then\": {\"action\": \"accept\"}}]}");
  hitl_route r;
  assert_int_equal(evaluate(p, "{\"v\": 0}", 0, false, "k", &r), 0);
  assert_int_equal(r.rule_index, -1);
  assert_null(r.rule_name);
  assert_int_equal(r.action, HITL_ACTION_REVIEW);
  json_t *j = json_loads(r.json, 0, NULL);
  assert_non_null(j);
  assert_true(json_is_null(json_object_get(j, "rule")));
  assert_string_equal(json_string_value(json_object_get(j, "action")), "review");
  assert_true(json_is_null(json_object_get(j, "role")));
  assert_true(json_is_null(json_object_get(j, "priority")));
  json_decref(j);
  hitl_route_clear(&r);
  hitl_policy_free(p);

  /* No policy object, an empty policy and an empty rule list all review everything. */
  hitl_err err = {0};
  assert_int_equal(hitl__policy_from_json(NULL, "policy", &p, &err), 0);
  assert_int_equal(evaluate(p, "{}", 1, true, "k", &r), 0);
  assert_int_equal(r.rule_index, -1);
  assert_string_equal(r.json, "{\"rule\":null,\"action\":\"review\",\"role\":null,\"priority\":null,\"trace\":[]}");
  hitl_route_clear(&r);
  hitl_policy_free(p);
  p = compile("{}");
  assert_int_equal(evaluate(p, "{}", 1, true, "k", &r), 0);
  assert_int_equal(r.action, HITL_ACTION_REVIEW);
  hitl_route_clear(&r);
  hitl_policy_free(p);
}

static void test_missing_confidence(void **state) {
  (void)state;
  hitl_policy *p = compile(
      "{\"rules\": [{\"name\": \"sure\", \"when\": {\"confidence_at_least\": 0.9}, \"then\": {\"action\": \"accept\"}},"
      " {\"name\": \"unsure\", \"when\": {\"confidence_below\": 0.5}, \"then\": {\"action\": \"review\", \"role\": \"arbiter\"}},"
      " {\"name\": \"rest\", \"then\": {\"action\": \"accept\"}}]}");
  hitl_route r;
  assert_int_equal(evaluate(p, "{}", 0, false, "k", &r), 0);
  assert_string_equal(r.rule_name, "unsure");
  assert_string_equal(r.role, "arbiter");
  json_t *j = json_loads(r.json, 0, NULL);
  json_t *trace = json_object_get(j, "trace");
  assert_int_equal(json_array_size(trace), 2);
  for (size_t i = 0; i < 2; i++) {
    json_t *e = json_array_get(trace, i);
    assert_true(json_is_null(json_object_get(e, "actual")));
    assert_true(json_is_true(json_object_get(e, "missing")));
    assert_true(json_is_null(json_object_get(e, "path")));
  }
  assert_false(json_is_true(json_object_get(json_array_get(trace, 0), "result")));
  assert_true(json_is_true(json_object_get(json_array_get(trace, 1), "result")));
  json_decref(j);
  hitl_route_clear(&r);

  /* With a confidence the same policy accepts, and the trace shows the number, not "missing". */
  assert_int_equal(evaluate(p, "{}", 0.95, true, "k", &r), 0);
  assert_string_equal(r.rule_name, "sure");
  assert_non_null(strstr(r.json, "\"op\":\"confidence_at_least\",\"path\":null,\"actual\":0.95,"
                                  "\"expected\":0.9,\"result\":true}"));
  assert_null(strstr(r.json, "missing"));
  hitl_route_clear(&r);
  hitl_policy_free(p);
}

static void test_sample_percent(void **state) {
  (void)state;
  hitl_policy *p = compile("{\"rules\": [{\"name\": \"audit\", \"when\": {\"sample_percent\": 10},"
                           " \"then\": {\"action\": \"review\"}}, {\"name\": \"rest\", \"then\": {\"action\": \"accept\"}}]}");
  hitl_policy *other = compile("{\"rules\": [{\"name\": \"audit2\", \"when\": {\"sample_percent\": 10},"
                               " \"then\": {\"action\": \"review\"}}]}");
  int sampled = 0, both = 0;
  for (int i = 0; i < 10000; i++) {
    char key[32];
    snprintf(key, sizeof key, "t_%d", i);
    hitl_route a, b;
    assert_int_equal(evaluate(p, "{}", 0, false, key, &a), 0);
    assert_int_equal(evaluate(p, "{}", 0, false, key, &b), 0);
    assert_int_equal(a.rule_index, b.rule_index); /* Same key, same outcome. */
    assert_string_equal(a.json, b.json);
    bool in_a = a.rule_index == 0;
    sampled += in_a;
    hitl_route_clear(&a);
    hitl_route_clear(&b);
    assert_int_equal(evaluate(other, "{}", 0, false, key, &b), 0);
    both += in_a && b.rule_index == 0;
    hitl_route_clear(&b);
  }
  assert_in_range(sampled, 800, 1200);
  /* The rule name is part of the hash: two 10% rules pick (nearly) independent samples. */
  assert_in_range(both, 20, 250);
  hitl_policy_free(p);
  hitl_policy_free(other);

  /* The trace shows the task's place on the 0..100 scale, which decides against the percent. */
  p = compile("{\"rules\": [{\"name\": \"s\", \"when\": {\"sample_percent\": 2.5}, \"then\": {\"action\": \"review\"}}]}");
  hitl_route r;
  assert_int_equal(evaluate(p, "{}", 0, false, "abc", &r), 0);
  json_t *j = json_loads(r.json, 0, NULL);
  json_t *e = json_array_get(json_object_get(j, "trace"), 0);
  assert_string_equal(json_string_value(json_object_get(e, "op")), "sample_percent");
  double place = json_number_value(json_object_get(e, "actual"));
  assert_true(place >= 0 && place < 100);
  assert_true(json_number_value(json_object_get(e, "expected")) == 2.5);
  assert_int_equal(json_is_true(json_object_get(e, "result")), place < 2.5);
  assert_int_equal(r.rule_index == 0, place < 2.5);
  uint32_t bucket = hitl_hash_bucket("s\nabc", 5);
  assert_true(place * 100 > bucket - 0.5 && place * 100 < bucket + 0.5);
  json_decref(j);
  hitl_route_clear(&r);
  hitl_policy_free(p);
}

static void test_trace(void **state) {
  (void)state;
  hitl_policy *p = compile(
      "{\"rules\": ["
      " {\"name\": \"one\", \"when\": {\"any\": [{\"gt\": {\"path\": \"/output/amount\", \"value\": 100}},"
      "   {\"in\": {\"path\": \"/c\", \"values\": [\"x\", [1]]}}, {\"exists\": {\"path\": \"/never\"}}]},"
      "  \"then\": {\"action\": \"reject\"}},"
      " {\"name\": \"two\", \"when\": {\"all\": [{\"regex\": {\"path\": \"/s\", \"pattern\": \"^h\"}},"
      "   {\"eq\": {\"path\": \"/missing\", \"value\": {\"b\": 1, \"a\": [2]}}}, {\"exists\": {\"path\": \"/s\"}}]},"
      "  \"then\": {\"action\": \"accept\"}}]}");
  hitl_route r;
  assert_int_equal(evaluate(p, "{\"output\": {\"amount\": 50}, \"c\": \"y\", \"s\": \"h\\\"i\"}", 0, false,
                            "k", &r),
                   0);
  /* Rule one: gt false, in false, exists false. Rule two: regex true, eq false, stop. */
  const char *expected =
      "{\"rule\":null,\"action\":\"review\",\"role\":null,\"priority\":null,\"trace\":["
      "{\"rule\":\"one\",\"op\":\"gt\",\"path\":\"/output/amount\",\"actual\":50,\"expected\":100,\"result\":false},"
      "{\"rule\":\"one\",\"op\":\"in\",\"path\":\"/c\",\"actual\":\"y\",\"expected\":[\"x\",[1]],\"result\":false},"
      "{\"rule\":\"one\",\"op\":\"exists\",\"path\":\"/never\",\"actual\":null,\"missing\":true,\"expected\":true,\"result\":false},"
      "{\"rule\":\"two\",\"op\":\"regex\",\"path\":\"/s\",\"actual\":\"h\\\"i\",\"expected\":\"^h\",\"result\":true},"
      "{\"rule\":\"two\",\"op\":\"eq\",\"path\":\"/missing\",\"actual\":null,\"missing\":true,"
      "\"expected\":{\"a\":[2],\"b\":1},\"result\":false}]}";
  assert_string_equal(r.json, expected);
  hitl_route_clear(&r);

  /* any short-circuits on the first true leaf: only gt is recorded for rule one. */
  assert_int_equal(evaluate(p, "{\"output\": {\"amount\": 500}}", 0, false, "k", &r), 0);
  assert_string_equal(r.rule_name, "one");
  json_t *j = json_loads(r.json, 0, NULL);
  json_t *trace = json_object_get(j, "trace");
  assert_int_equal(json_array_size(trace), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(trace, 0), "op")), "gt");
  assert_true(json_is_true(json_object_get(json_array_get(trace, 0), "result")));
  json_decref(j);
  hitl_route_clear(&r);
  hitl_policy_free(p);
}

static void test_pointers(void **state) {
  (void)state;
  const char *doc = "{\"a/b\": {\"m~n\": 1, \"~1\": 2}, \"items\": [{\"name\": \"x\"}, {\"name\": \"y\"}],"
                    " \"\": {\"\": 3}, \"n\": {\"0\": \"obj\"}}";
  assert_true(holds("{\"eq\": {\"path\": \"/a~1b/m~0n\", \"value\": 1}}", doc));
  assert_true(holds("{\"eq\": {\"path\": \"/a~1b/~01\", \"value\": 2}}", doc));
  assert_false(holds("{\"exists\": {\"path\": \"/a/b\"}}", doc));
  assert_true(holds("{\"eq\": {\"path\": \"/items/1/name\", \"value\": \"y\"}}", doc));
  assert_true(holds("{\"eq\": {\"path\": \"/items/0/name\", \"value\": \"x\"}}", doc));
  assert_false(holds("{\"exists\": {\"path\": \"/items/2\"}}", doc));
  assert_false(holds("{\"exists\": {\"path\": \"/items/01\"}}", doc));
  assert_false(holds("{\"exists\": {\"path\": \"/items/-\"}}", doc));
  assert_false(holds("{\"exists\": {\"path\": \"/items/x\"}}", doc));
  assert_false(holds("{\"exists\": {\"path\": \"/items/99999999999999999999999\"}}", doc));
  assert_true(holds("{\"eq\": {\"path\": \"/n/0\", \"value\": \"obj\"}}", doc));
  assert_true(holds("{\"eq\": {\"path\": \"//\", \"value\": 3}}", doc));
  assert_true(holds("{\"exists\": {\"path\": \"\"}}", doc));
  assert_true(holds("{\"eq\": {\"path\": \"/items\", \"value\": [{\"name\": \"x\"}, {\"name\": \"y\"}]}}", doc));

  /* Direct lookups: values and their JSON text stay valid until the doc is freed. */
  json_t *j = json_loads(doc, 0, NULL);
  hitl_json_doc *d = hitl__json_doc_new(j);
  hitl_value v, w;
  assert_int_equal(hitl__json_doc_lookup(d, "/items/1", &v), 0);
  assert_int_equal(v.type, HITL_VALUE_OBJECT);
  assert_string_equal(v.json, "{\"name\":\"y\"}");
  assert_int_equal(hitl__json_doc_lookup(d, "/items/1/name", &w), 0);
  assert_int_equal(w.type, HITL_VALUE_STRING);
  assert_int_equal(w.length, 1);
  assert_memory_equal(w.string, "y", 1);
  assert_null(w.json); /* Strings are traced from their bytes, never dumped whole. */
  assert_string_equal(v.json, "{\"name\":\"y\"}");
  assert_int_equal(hitl__json_doc_lookup(d, "/nope", &v), 0);
  assert_int_equal(v.type, HITL_VALUE_MISSING);
  assert_null(v.json);
  assert_true(hitl__json_doc_lookup(d, "no-slash", &v) < 0);
  hitl__json_doc_free(d);
  json_decref(j);
}

#ifdef REG_STARTEND
static void test_regex_embedded_nul(void **state) {
  (void)state;
  /* The whole string is matched, including bytes after an embedded NUL. */
  assert_true(holds("{\"regex\": {\"path\": \"/s\", \"pattern\": \"b$\"}}", "{\"s\": \"a\\u0000b\"}"));
  assert_false(holds("{\"regex\": {\"path\": \"/s\", \"pattern\": \"^a$\"}}", "{\"s\": \"a\\u0000b\"}"));
}
#endif

/* Refuses pattern with a message containing want, or accepts it when want is NULL. */
static void check_pattern(const char *pattern, const char *want) {
  hitl_cond *c = NULL;
  char msg[256] = "";
  int rc = hitl__cond_regex("/s", pattern, &c, msg, sizeof msg);
  if (want == NULL) {
    if (rc != 0) fail_msg("pattern %s refused: %s", pattern, msg);
    hitl__cond_free(c);
    return;
  }
  if (rc != HITL_EVALIDATION) fail_msg("pattern %s accepted", pattern);
  assert_null(c);
  if (strstr(msg, want) == NULL) fail_msg("pattern %s: got \"%s\", want \"%s\"", pattern, msg, want);
}

static void test_regex_limits(void **state) {
  (void)state;
  /* Stacked repetitions double glibc's compiled expression each time: a+ is compiled as aa*.
   * Before the limit, 40 of them hung the server in regcomp (found by fuzz_policy). */
  check_pattern("a+++++++++", NULL);
  check_pattern("a++++++++++", "more than 1000 parts");
  check_pattern("a++++++++++++++++++++++++++++++++++++++++", "more than 1000 parts");
  check_pattern("a{1000}", NULL);
  check_pattern("a{1001}", "more than 1000 parts");
  check_pattern("a{2,}{2,}{2,}{2,}{2,}{2,}{2,}", "more than 1000 parts");
  check_pattern("(a{50}){50}", "more than 1000 parts");
  check_pattern("((ab){10}c){10}", NULL);
  check_pattern("[0-9]{3}-[0-9]{2}-[0-9]{4}", NULL);
  /* A bracket expression is one part, whatever it holds. */
  check_pattern("[]a(]{1000}", NULL);
  check_pattern("[[:alpha:]]{1000}", NULL);
  check_pattern("x[[:alpha:]]{1000}", "more than 1000 parts");
  check_pattern("\\({1000}", NULL);
  /* Back-references make matching exponential. */
  check_pattern("(a*)*\\1", "back-references (\\1)");
  check_pattern("[\\1]", NULL);
  /* Deep groups exhausted glibc's stack (30000 crashed it). */
  char deep[128] = "";
  for (int i = 0; i < 32; i++) strcat(deep, "(");
  strcat(deep, "a");
  for (int i = 0; i < 32; i++) strcat(deep, ")");
  check_pattern(deep, NULL);
  char deeper[128] = "(";
  strcat(deeper, deep);
  strcat(deeper, ")");
  check_pattern(deeper, "nested more than 32 deep");
  /* The decoder names the pattern. */
  json_t *j = json_loads("{\"rules\": [{\"name\": \"r\", \"when\": {\"regex\": {\"path\": \"/a\", "
                         "\"pattern\": \"(a{40}){40}\"}}, \"then\": {\"action\": \"review\"}}]}",
                         0, NULL);
  hitl_policy *p = NULL;
  hitl_err err = {0};
  assert_int_equal(hitl__policy_from_json(j, "policy", &p, &err), HITL_EVALIDATION);
  assert_null(p);
  assert_string_equal(err.field, "policy.rules[0].when.regex.pattern");
  assert_non_null(strstr(err.message, "invalid regular expression: its repetitions expand it"));
  json_decref(j);
}

/* ---- Regex dialect, bounds and undecided leaves ---------------------------------------------- */

/* The outcome of hitl__regex_match of pattern (which must compile) on the n bytes of text. */
static int match_outcome(const char *pattern, const char *text, size_t n, const char **why) {
  hitl_regex *re = NULL;
  char msg[256] = "";
  if (hitl__regex_compile(pattern, &re, msg, sizeof msg) != 0) fail_msg("%s refused: %s", pattern, msg);
  int rc = hitl__regex_match(re, text, n, why);
  hitl__regex_free(re);
  return rc;
}

/* The dialect is POSIX ERE as glibc reads it: on ASCII text, every pattern below matches what
 * glibc's regexec matches, and the patterns glibc refuses are refused. */
static void test_regex_dialect_is_posix(void **state) {
  (void)state;
  static const char *const patterns[] = {
      "abc", "^abc$", "a|b", "(ab)+c", "a{2}{3}", "a{,3}b", "a{2,}", "a{0}b", "[[:digit:]]+",
      "[^a-c]", "[]a]", "[^]a]", "[a-]", "[\\.]", "[\\d]", "\\.", "\\d", "\\<ab", "ab\\>", "\\bab",
      "\\Bb", "\\w+", "\\W", "\\s", "\\S", "x*?", "a+*", "a**", "a++b", "(a|)b", "()", "(|a)",
      "a||b", ".", "a.c", "abc$", "^$", "[[.-.]]", "[[=a=]]", "\\`a", "a\\'", "[[:alpha:]_][[:alnum:]_]*",
      "x+y?z*", "(a(b(c)))", "a\\|b", "\\{", "\\*", "\\}", "}", "]", "a{1}{2}", "(a*)+b", "[a-c-]",
      "[[:upper:][:digit:]]", "#", "a b", "[.]", "[*+?{]", "(^a)", "(a$)", "x(^a)", "[[]", "a)", ")*",
  };
  static const char *const subjects[] = {
      "", "abc", "xabcx", "aaaaaa", "aaaaa", "b", "a\nc", "abc\n", "-", "]", "\\", ".", "d", "1",
      " ab", "ab ", "cab", "a_1", "x|y", "a|b", "{", "}", "*", "ab", "hello world", "xyz", "Z9",
      "#", "a b", "[", "ba", "aab", "a)", "))",
  };
  for (size_t i = 0; i < sizeof patterns / sizeof *patterns; i++) {
    regex_t posix;
    if (regcomp(&posix, patterns[i], REG_EXTENDED | REG_NOSUB) != 0)
      fail_msg("glibc refuses %s: fix the test", patterns[i]);
    for (size_t k = 0; k < sizeof subjects / sizeof *subjects; k++) {
      const char *why = NULL;
      int got = match_outcome(patterns[i], subjects[k], strlen(subjects[k]), &why);
      int want = regexec(&posix, subjects[k], 0, NULL, 0) == 0 ? HITL_REGEX_MATCH : HITL_REGEX_NO_MATCH;
      if (got != want)
        fail_msg("pattern %s on \"%s\": %d, glibc says %d", patterns[i], subjects[k], got, want);
    }
    regfree(&posix);
  }
  static const char *const refused[] = {"*a", "a|*b", "(*a)", "^*a", "a$*", "+", "a{", "a{x}", "a{1",
                                        "a\\", "x{2,1}", "[a", "(a", "[[:foo:]]", "[[.ab.]]",
                                        "{1}a"};
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
    regex_t posix;
    if (regcomp(&posix, refused[i], REG_EXTENDED | REG_NOSUB) == 0) {
      regfree(&posix);
      fail_msg("glibc accepts %s: fix the test", refused[i]);
    }
    hitl_regex *re = NULL;
    char msg[256] = "";
    if (hitl__regex_compile(refused[i], &re, msg, sizeof msg) != HITL_EVALIDATION)
      fail_msg("pattern %s accepted", refused[i]);
    assert_null(re);
    assert_true(msg[0] != '\0');
  }
  /* Characters, not bytes: "." takes one "é" (two bytes), brackets take it whole. */
  const char *why;
  assert_int_equal(match_outcome("^.$", "\xc3\xa9", 2, &why), HITL_REGEX_MATCH);
  assert_int_equal(match_outcome("^[\xc3\xa9x]$", "\xc3\xa9", 2, &why), HITL_REGEX_MATCH);
}

/* A 60 KB text of words of the kind that made glibc backtrack for seconds. */
static char *words(size_t n) {
  static const char unit[] = "abcde fghij ";
  char *s = malloc(n + 1);
  assert_non_null(s);
  for (size_t i = 0; i < n; i++) s[i] = unit[i % (sizeof unit - 1)];
  s[n] = '\0';
  return s;
}

/* Routes {"output": {"text": text}} with the policy policy_text; *route is filled. */
static void route_text(const char *policy_text, const char *text, size_t n, hitl_route *route) {
  hitl_policy *p = compile(policy_text);
  json_t *doc = json_pack("{s:{s:s%}}", "output", "text", text, n);
  assert_non_null(doc);
  hitl_json_doc *d = hitl__json_doc_new(doc);
  hitl_policy_input in = {.lookup = hitl__json_doc_lookup, .ctx = d, .sample_key = "k"};
  assert_int_equal(hitl_policy_evaluate(p, &in, route), 0);
  hitl__json_doc_free(d);
  json_decref(doc);
  hitl_policy_free(p);
}

static void test_regex_bounded(void **state) {
  (void)state;
  size_t n = 60000;
  char *text = words(n);
  const char *why = "unset";
  /* The nested repetition that took glibc 4.3 s here is decided in one pass: no match. */
  assert_int_equal(match_outcome("([a-z]+ ?)*!", text, n, &why), HITL_REGEX_NO_MATCH);
  assert_null(why);
  assert_int_equal(match_outcome("(([a-z]+)*[a-z ]*)*[0-9]", text, n, &why), HITL_REGEX_NO_MATCH);
  assert_int_equal(match_outcome("j a", text, n, &why), HITL_REGEX_MATCH);
  /* A pattern that must follow more paths at once than the workspace holds is undecided. */
  assert_int_equal(match_outcome("[a-z ]{100}[0-9]", text, n, &why), HITL_REGEX_UNDECIDED);
  assert_string_equal(why, "state_limit");
  free(text);

  /* Past HITL_POLICY_REGEX_MAX_TEXT bytes: a match in the scanned part counts; anything else is
   * undecided, also a match that would need what follows the cut ("$", "\>"). */
  n = 100000;
  text = words(n);
  text[n - 1] = '7';
  assert_int_equal(match_outcome("fghij", text, n, &why), HITL_REGEX_MATCH);
  assert_int_equal(match_outcome("^abcde", text, n, &why), HITL_REGEX_MATCH);
  assert_int_equal(match_outcome("[0-9]", text, n, &why), HITL_REGEX_UNDECIDED);
  assert_string_equal(why, "text_too_long");
  assert_int_equal(match_outcome("[a-z ]*$", text, HITL_POLICY_REGEX_MAX_TEXT + 1, &why),
                   HITL_REGEX_UNDECIDED);
  assert_int_equal(match_outcome("[a-z ]*$", text, HITL_POLICY_REGEX_MAX_TEXT, &why), HITL_REGEX_MATCH);
  free(text);
  text = malloc(n + 1); /* One long word: its only end is past the cut. */
  memset(text, 'a', n);
  text[n] = '\0';
  assert_int_equal(match_outcome("a\\>", text, n, &why), HITL_REGEX_UNDECIDED);
  assert_int_equal(match_outcome("a\\>", text, HITL_POLICY_REGEX_MAX_TEXT, &why), HITL_REGEX_MATCH);
  assert_int_equal(match_outcome("a\\b", text, n, &why), HITL_REGEX_UNDECIDED);
  assert_int_equal(match_outcome("a\\B", text, n, &why), HITL_REGEX_MATCH);
  free(text);
  /* The cut falls between characters: "x" then two-byte "é"s puts byte 65536 inside one. */
  n = 1 + 2 * 40000;
  text = malloc(n + 1);
  text[0] = 'x';
  for (size_t i = 1; i < n; i += 2) memcpy(text + i, "\xc3\xa9", 2);
  text[n] = '\0';
  assert_int_equal(match_outcome("x\xc3\xa9+", text, n, &why), HITL_REGEX_MATCH);
  assert_int_equal(match_outcome("^x\xc3\xa9*$", text, n, &why), HITL_REGEX_UNDECIDED);
  assert_string_equal(why, "text_too_long");
  free(text);
}

/* An undecided leaf never lets an output through: the rule, and the task, go to review. */
static void test_undecided_goes_to_review(void **state) {
  (void)state;
  size_t n = 60000;
  char *text = words(n);
  hitl_route r;
  /* A review rule keeps its role and priority; the trace names the limit. */
  route_text("{\"rules\": [{\"name\": \"wide\", \"when\": {\"regex\": {\"path\": \"/output/text\","
             " \"pattern\": \"[a-z ]{100}[0-9]\"}}, \"then\": {\"action\": \"review\", \"role\": \"validator\","
             " \"priority\": 5}}, {\"name\": \"default\", \"then\": {\"action\": \"accept\"}}]}",
             text, n, &r);
  assert_int_equal(r.action, HITL_ACTION_REVIEW);
  assert_true(r.undecided);
  assert_string_equal(r.rule_name, "wide");
  assert_string_equal(r.role, "validator");
  assert_int_equal(r.priority, 5);
  json_t *j = json_loads(r.json, 0, NULL);
  assert_true(json_is_true(json_object_get(j, "undecided")));
  json_t *entry = json_array_get(json_object_get(j, "trace"), 0);
  assert_true(json_is_null(json_object_get(entry, "result")));
  assert_string_equal(json_string_value(json_object_get(entry, "limit")), "state_limit");
  json_decref(j);
  hitl_route_clear(&r);

  /* An accept rule behind "not" is undecided too, not accepted: review without its settings.
   * Kleene's logic: a decided child settles all/any after an undecided one. */
#define WIDE "{\"regex\": {\"path\": \"/output/text\", \"pattern\": \"[a-z ]{100}[0-9]\"}}"
  static const struct {
    const char *policy;
    hitl_action action;
    const char *rule;
    bool undecided;
  } cases[] = {
      {"{\"rules\": [{\"name\": \"clean\", \"when\": {\"not\": " WIDE "}, \"then\": {\"action\": "
       "\"accept\", \"role\": \"x\"}}, {\"name\": \"default\", \"then\": {\"action\": \"reject\"}}]}",
       HITL_ACTION_REVIEW, "clean", true},
      {"{\"rules\": [{\"name\": \"any\", \"when\": {\"any\": [" WIDE ", {\"exists\": {\"path\": "
       "\"/output\"}}]}, \"then\": {\"action\": \"accept\"}}]}",
       HITL_ACTION_ACCEPT, "any", false},
      {"{\"rules\": [{\"name\": \"all\", \"when\": {\"all\": [" WIDE ", {\"exists\": {\"path\": "
       "\"/nothing\"}}]}, \"then\": {\"action\": \"reject\"}}, {\"name\": \"default\", \"then\": "
       "{\"action\": \"accept\"}}]}",
       HITL_ACTION_ACCEPT, "default", false},
      {"{\"rules\": [{\"name\": \"any\", \"when\": {\"any\": [" WIDE ", {\"exists\": {\"path\": "
       "\"/nothing\"}}]}, \"then\": {\"action\": \"accept\"}}]}",
       HITL_ACTION_REVIEW, "any", true},
      {"{\"rules\": [{\"name\": \"all\", \"when\": {\"all\": [{\"exists\": {\"path\": \"/output\"}}, "
       WIDE "]}, \"then\": {\"action\": \"reject\"}}]}",
       HITL_ACTION_REVIEW, "all", true},
  };
#undef WIDE
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    route_text(cases[i].policy, text, n, &r);
    assert_int_equal(r.action, cases[i].action);
    assert_string_equal(r.rule_name, cases[i].rule);
    assert_int_equal(r.undecided, cases[i].undecided);
    if (r.undecided) {
      assert_null(r.role);
      assert_non_null(strstr(r.json, "\"action\":\"review\",\"role\":null,\"priority\":null,\"undecided\":true"));
    }
    hitl_route_clear(&r);
  }
  free(text);
}

/* Traced values are cut at HITL_POLICY_TRACE_VALUE_MAX bytes with their length, and the trace
 * at HITL_POLICY_TRACE_MAX bytes with a count of what it left out. Before, ten regex rules on a
 * 1 MB output made a 10 MB route. */
static void test_trace_caps(void **state) {
  (void)state;
  size_t n = 1 + 2 * 500000; /* "x" and two-byte characters: the cut must step back one byte. */
  char *text = malloc(n + 1);
  text[0] = 'x';
  for (size_t i = 1; i < n; i += 2) memcpy(text + i, "\xc3\xa9", 2);
  text[n] = '\0';
  char policy[8192] = "{\"rules\": [";
  for (int i = 0; i < 10; i++)
    snprintf(policy + strlen(policy), sizeof policy - strlen(policy),
             "{\"name\": \"r%d\", \"when\": {\"not\": {\"regex\": {\"path\": \"/output/text\", \"pattern\":"
             " \"^x\"}}}, \"then\": {\"action\": \"reject\"}},", i);
  char *long_value = words(1000);
  snprintf(policy + strlen(policy), sizeof policy - strlen(policy),
           "{\"name\": \"obj\", \"when\": {\"eq\": {\"path\": \"/output\", \"value\": \"%s\"}},"
           " \"then\": {\"action\": \"reject\"}}, {\"name\": \"default\", \"then\": {\"action\": \"review\"}}]}",
           long_value);
  hitl_route r;
  route_text(policy, text, n, &r);
  if (strlen(r.json) > 8192) fail_msg("the route is %zu bytes", strlen(r.json));
  assert_string_equal(r.rule_name, "default");
  json_t *j = json_loads(r.json, 0, NULL); /* Valid JSON, so the cut kept valid UTF-8. */
  assert_non_null(j);
  json_t *trace = json_object_get(j, "trace");
  assert_int_equal(json_array_size(trace), 11);
  for (size_t i = 0; i < 10; i++) {
    json_t *e = json_array_get(trace, i);
    assert_int_equal(strlen(json_string_value(json_object_get(e, "actual"))), 199);
    assert_int_equal(json_integer_value(json_object_get(e, "actual_length")), (json_int_t)n);
    assert_null(json_object_get(e, "expected_length"));
  }
  json_t *e = json_array_get(trace, 10); /* The object's JSON text, cut, and the constant, cut. */
  assert_int_equal(strlen(json_string_value(json_object_get(e, "actual"))), 200);
  assert_true(json_integer_value(json_object_get(e, "actual_length")) > (json_int_t)n);
  assert_int_equal(strlen(json_string_value(json_object_get(e, "expected"))), 200);
  assert_int_equal(json_integer_value(json_object_get(e, "expected_length")), 1000);
  assert_null(json_object_get(j, "trace_omitted"));
  json_decref(j);
  hitl_route_clear(&r);

  /* 1000 rules each tracing a cut value: the trace stops before HITL_POLICY_TRACE_MAX. */
  json_t *rules = json_array();
  for (int i = 0; i < 1000; i++) {
    char name[16];
    snprintf(name, sizeof name, "r%d", i);
    json_array_append_new(rules, json_pack("{s:s, s:{s:{s:s, s:s}}, s:{s:s}}", "name", name, "when",
                                           "eq", "path", "/output/text", "value", "no", "then",
                                           "action", "accept"));
  }
  json_t *pj = json_pack("{s:o}", "rules", rules);
  char *big_policy = json_dumps(pj, 0);
  json_decref(pj);
  route_text(big_policy, text, n, &r);
  free(big_policy);
  if (strlen(r.json) > HITL_POLICY_TRACE_MAX + 1024) fail_msg("the route is %zu bytes", strlen(r.json));
  j = json_loads(r.json, 0, NULL);
  assert_non_null(j);
  size_t kept = json_array_size(json_object_get(j, "trace"));
  json_int_t omitted = json_integer_value(json_object_get(j, "trace_omitted"));
  assert_true(kept > 100);
  assert_true(omitted > 0);
  assert_int_equal((json_int_t)kept + omitted, 1000);
  json_decref(j);
  hitl_route_clear(&r);
  free(long_value);
  free(text);
}

static int failing_lookup(void *ctx, const char *pointer, hitl_value *out) {
  (void)ctx;
  (void)pointer;
  (void)out;
  return HITL_ESTORE;
}

static void test_lookup_error_aborts(void **state) {
  (void)state;
  hitl_policy *p = compile("{\"rules\": [{\"name\": \"r\", \"when\": {\"exists\": {\"path\": \"/a\"}},"
                           " \"then\": {\"action\": \"accept\"}}]}");
  hitl_policy_input in = {.lookup = failing_lookup, .sample_key = "k"};
  hitl_route r;
  assert_int_equal(hitl_policy_evaluate(p, &in, &r), HITL_ESTORE);
  assert_null(r.json);
  assert_null(r.rule_name);
  hitl_route_clear(&r);
  hitl_policy_free(p);
}

static void test_names(void **state) {
  (void)state;
  assert_string_equal(hitl_action_name(HITL_ACTION_ACCEPT), "accept");
  assert_string_equal(hitl_action_name(HITL_ACTION_REJECT), "reject");
  assert_string_equal(hitl_action_name(HITL_ACTION_REVIEW), "review");
  assert_string_equal(hitl__cond_op_name(HITL_COND_SAMPLE_PERCENT), "sample_percent");
  assert_int_equal(hitl__cond_op_parse("gte"), HITL_COND_GTE);
  assert_int_equal(hitl__cond_op_parse("greater"), -1);
  hitl_policy_free(NULL);
  hitl_route_clear(NULL);
  hitl__json_doc_free(NULL);
}

typedef struct bad_case {
  const char *policy;
  const char *field;
  const char *message; /* A part of the message. */
} bad_case;

#define RULE(when) "{\"rules\": [{\"name\": \"r\", \"when\": " when ", \"then\": {\"action\": \"accept\"}}]}"
#define THEN(then) "{\"rules\": [{\"name\": \"r\", \"then\": " then "}]}"

static void test_validation(void **state) {
  (void)state;
  static const bad_case cases[] = {
      {"[]", "policy", "must be an object"},
      {"\"rules\"", "policy", "must be an object"},
      {"{\"rules\": [], \"extra\": 1}", "policy.extra", "unknown key \"extra\""},
      {"{\"rules\": {}}", "policy.rules", "must be an array"},
      {"{\"rules\": [1]}", "policy.rules[0]", "must be an object"},
      {"{\"rules\": [{\"name\": \"a\", \"then\": {\"action\": \"accept\"}, \"if\": {}}]}", "policy.rules[0].if",
       "unknown key \"if\""},
      {"{\"rules\": [{\"then\": {\"action\": \"accept\"}}]}", "policy.rules[0].name", "is required"},
      {"{\"rules\": [{\"name\": \"\", \"then\": {\"action\": \"accept\"}}]}", "policy.rules[0].name",
       "non-empty string"},
      {"{\"rules\": [{\"name\": 7, \"then\": {\"action\": \"accept\"}}]}", "policy.rules[0].name",
       "non-empty string"},
      {"{\"rules\": [{\"name\": \"a\", \"then\": {\"action\": \"accept\"}},"
       " {\"name\": \"b\", \"then\": {\"action\": \"accept\"}},"
       " {\"name\": \"a\", \"then\": {\"action\": \"accept\"}}]}",
       "policy.rules[2].name", "already the name of rules[0]"},
      {"{\"rules\": [{\"name\": \"a\"}]}", "policy.rules[0].then", "is required"},
      {"{\"rules\": [{\"name\": \"a\", \"then\": \"accept\"}]}", "policy.rules[0].then", "must be an object"},
      {THEN("{\"action\": \"approve\"}"), "policy.rules[0].then.action", "accept, reject, review"},
      {THEN("{}"), "policy.rules[0].then.action", "is required"},
      {THEN("{\"action\": \"review\", \"when\": 1}"), "policy.rules[0].then.when", "unknown key"},
      {THEN("{\"action\": \"review\", \"role\": 5}"), "policy.rules[0].then.role", "string"},
      {THEN("{\"action\": \"review\", \"role\": \"\"}"), "policy.rules[0].then.role", "string"},
      {THEN("{\"action\": \"review\", \"priority\": 1.5}"), "policy.rules[0].then.priority", "integer"},
      {THEN("{\"action\": \"review\", \"priority\": \"1\"}"), "policy.rules[0].then.priority", "integer"},
      {THEN("{\"action\": \"review\", \"priority\": 1000001}"), "policy.rules[0].then.priority",
       "-1000000 to 1000000"},
      {THEN("{\"action\": \"review\", \"priority\": -1000001}"), "policy.rules[0].then.priority",
       "-1000000 to 1000000"},
      {RULE("{}"), "policy.rules[0].when", "exactly one operator"},
      {RULE("{\"confidence_below\": 0.5, \"sample_percent\": 3}"), "policy.rules[0].when",
       "exactly one operator"},
      {RULE("[]"), "policy.rules[0].when", "condition object"},
      {RULE("null"), "policy.rules[0].when", "condition object"},
      {RULE("{\"greater\": 1}"), "policy.rules[0].when.greater",
       "known operators: all, any, not, confidence_below, confidence_at_least, eq, ne, gt, lt, gte, "
       "lte, in, exists, regex, sample_percent"},
      {RULE("{\"all\": []}"), "policy.rules[0].when.all", "non-empty array"},
      {RULE("{\"any\": {}}"), "policy.rules[0].when.any", "non-empty array"},
      {RULE("{\"all\": [{\"exists\": {\"path\": \"/a\"}}, {\"nope\": 1}]}"), "policy.rules[0].when.all[1].nope",
       "unknown operator"},
      {RULE("{\"not\": [{\"exists\": {\"path\": \"/a\"}}]}"), "policy.rules[0].when.not", "condition object"},
      {RULE("{\"confidence_below\": 1.5}"), "policy.rules[0].when.confidence_below", "from 0 to 1"},
      {RULE("{\"confidence_below\": \"0.5\"}"), "policy.rules[0].when.confidence_below", "from 0 to 1"},
      {RULE("{\"confidence_at_least\": -0.1}"), "policy.rules[0].when.confidence_at_least", "from 0 to 1"},
      {RULE("{\"sample_percent\": 101}"), "policy.rules[0].when.sample_percent", "from 0 to 100"},
      {RULE("{\"sample_percent\": -1}"), "policy.rules[0].when.sample_percent", "from 0 to 100"},
      {RULE("{\"sample_percent\": true}"), "policy.rules[0].when.sample_percent", "from 0 to 100"},
      {RULE("{\"eq\": \"/a\"}"), "policy.rules[0].when.eq", "must be an object"},
      {RULE("{\"eq\": {\"value\": 1}}"), "policy.rules[0].when.eq.path", "is required"},
      {RULE("{\"eq\": {\"path\": \"/a\"}}"), "policy.rules[0].when.eq.value", "is required"},
      {RULE("{\"eq\": {\"path\": \"/a\", \"value\": 1, \"values\": [1]}}"), "policy.rules[0].when.eq.values",
       "unknown key"},
      {RULE("{\"eq\": {\"path\": 3, \"value\": 1}}"), "policy.rules[0].when.eq.path", "must be a string"},
      {RULE("{\"eq\": {\"path\": \"a/b\", \"value\": 1}}"), "policy.rules[0].when.eq.path",
       "not a valid JSON pointer"},
      {RULE("{\"ne\": {\"path\": \"/a~2\", \"value\": 1}}"), "policy.rules[0].when.ne.path",
       "not a valid JSON pointer"},
      {RULE("{\"exists\": {\"path\": \"/a~\"}}"), "policy.rules[0].when.exists.path", "not a valid JSON pointer"},
      {RULE("{\"gt\": {\"path\": \"/a\", \"value\": \"10\"}}"), "policy.rules[0].when.gt.value", "must be a number"},
      {RULE("{\"lte\": {\"path\": \"/a\", \"value\": null}}"), "policy.rules[0].when.lte.value", "must be a number"},
      {RULE("{\"in\": {\"path\": \"/a\", \"values\": []}}"), "policy.rules[0].when.in.values", "non-empty array"},
      {RULE("{\"in\": {\"path\": \"/a\", \"values\": 1}}"), "policy.rules[0].when.in.values", "non-empty array"},
      {RULE("{\"in\": {\"path\": \"/a\"}}"), "policy.rules[0].when.in.values", "is required"},
      {RULE("{\"exists\": {\"path\": \"/a\", \"value\": 1}}"), "policy.rules[0].when.exists.value", "unknown key"},
      {RULE("{\"regex\": {\"path\": \"/a\", \"pattern\": \"([a-z\"}}"), "policy.rules[0].when.regex.pattern",
       "invalid regular expression: a bracket expression \"[\" is not closed by \"]\""},
      {RULE("{\"regex\": {\"path\": \"/a\", \"pattern\": 5}}"), "policy.rules[0].when.regex.pattern",
       "must be a string"},
      {RULE("{\"regex\": {\"path\": \"/a\"}}"), "policy.rules[0].when.regex.pattern", "is required"},
      {"{\"rules\": [{\"name\": \"ok\", \"then\": {\"action\": \"accept\"}},"
       " {\"name\": \"r\", \"when\": {\"regex\": {\"path\": \"/a\", \"pattern\": \"*+\"}}, \"then\": {\"action\": \"accept\"}},"
       " {\"name\": \"z\", \"then\": {\"action\": \"accept\"}}]}",
       "policy.rules[1].when.regex.pattern", "invalid regular expression"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *j = json_loads(cases[i].policy, JSON_DECODE_ANY, NULL);
    if (j == NULL) fail_msg("case %zu: bad test JSON %s", i, cases[i].policy);
    hitl_policy *p = (hitl_policy *)1;
    hitl_err err = {0};
    int rc = hitl__policy_from_json(j, "policy", &p, &err);
    json_decref(j);
    if (rc != HITL_EVALIDATION) fail_msg("case %zu accepted: %s", i, cases[i].policy);
    assert_null(p);
    assert_int_equal(err.code, HITL_EVALIDATION);
    if (strcmp(err.field, cases[i].field) != 0 || strstr(err.message, cases[i].message) == NULL)
      fail_msg("case %zu: got field %s message \"%s\"; want field %s message containing \"%s\"", i,
               err.field, err.message, cases[i].field, cases[i].message);
  }
}

static void test_validation_limits(void **state) {
  (void)state;
  hitl_err err = {0};
  hitl_policy *p = NULL;

  /* 1000 rules are fine; 1001 are not. */
  json_t *rules = json_array();
  for (int i = 0; i < 1001; i++) {
    char name[16];
    snprintf(name, sizeof name, "r%d", i);
    json_array_append_new(rules, json_pack("{s:s, s:{s:s}}", "name", name, "then", "action", "accept"));
  }
  json_t *policy = json_pack("{s:o}", "rules", rules);
  assert_int_equal(hitl__policy_from_json(policy, "policy", &p, &err), HITL_EVALIDATION);
  assert_string_equal(err.field, "policy.rules");
  assert_non_null(strstr(err.message, "at most 1000"));
  json_array_remove(rules, 0);
  assert_int_equal(hitl__policy_from_json(policy, "policy", &p, &err), 0);
  assert_int_equal(hitl__policy_count(p), 1000);
  hitl_policy_free(p);
  json_decref(policy);

  /* 32 nested levels are fine, 33 are not; the field names the level past the limit. */
  char text[4096];
  char field[1024] = "policy.rules[0].when";
  for (int levels = 32; levels <= 33; levels++) {
    strcpy(text, "{\"rules\": [{\"name\": \"deep\", \"when\": ");
    for (int i = 1; i < levels; i++) strcat(text, "{\"not\": ");
    strcat(text, "{\"exists\": {\"path\": \"/a\"}}");
    for (int i = 1; i < levels; i++) strcat(text, "}");
    strcat(text, ", \"then\": {\"action\": \"accept\"}}]}");
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    int rc = hitl__policy_from_json(j, "policy", &p, &err);
    json_decref(j);
    if (levels == 32) {
      assert_int_equal(rc, 0);
      hitl_policy_free(p);
    } else {
      assert_int_equal(rc, HITL_EVALIDATION);
      for (int i = 1; i < levels; i++) strcat(field, ".not");
      assert_string_equal(err.field, field);
      assert_non_null(strstr(err.message, "nested more than 32 levels"));
    }
  }

  /* Without a prefix the paths start at "rules"; strings with NUL bytes are refused. */
  json_t *j = json_loads("{\"rules\": [{\"name\": \"a\\u0000b\", \"then\": {\"action\": \"accept\"}}]}",
                         JSON_ALLOW_NUL, NULL);
  assert_non_null(j);
  assert_int_equal(hitl__policy_from_json(j, NULL, &p, &err), HITL_EVALIDATION);
  assert_string_equal(err.field, "rules[0].name");
  json_decref(j);
}

static int setup(void **state) {
  (void)state;
  return hitl_id_init();
}

/* A policy may run on a thread others wait on only when it is cheap: no regex, few nodes. */
static void test_quick_policies(void **state) {
  (void)state;
  hitl_policy *p = compile("{\"rules\": [{\"name\": \"low\", \"when\": {\"confidence_below\": 0.8},"
                           " \"then\": {\"action\": \"review\"}}, {\"name\": \"rest\","
                           " \"then\": {\"action\": \"accept\"}}]}");
  assert_true(hitl_policy_is_quick(p));
  hitl_policy_free(p);
  p = compile("{\"rules\": [{\"name\": \"pii\", \"when\": {\"regex\": {\"path\": \"/output\","
              " \"pattern\": \"[0-9]+\"}}, \"then\": {\"action\": \"review\"}}]}");
  assert_false(hitl_policy_is_quick(p));
  hitl_policy_free(p);
  /* 64 nodes in all (a rule and its condition count one each) is quick; one more is not. */
  for (int leaves = 31; leaves <= 32; leaves++) {
    char text[8192];
    int n = snprintf(text, sizeof text, "{\"rules\": [");
    for (int i = 0; i < leaves; i++)
      n += snprintf(text + n, sizeof text - (size_t)n,
                    "%s{\"name\": \"r%d\", \"when\": {\"confidence_below\": 0.5},"
                    " \"then\": {\"action\": \"review\"}}", i ? ", " : "", i);
    n += snprintf(text + n, sizeof text - (size_t)n, ", {\"name\": \"z\", \"then\": {\"action\": \"accept\"}}]}");
    p = compile(text);
    if (leaves == 31) assert_true(hitl_policy_is_quick(p));  /* 31 * 2 + 1 = 63 */
    else assert_false(hitl_policy_is_quick(p));              /* 32 * 2 + 1 = 65 */
    hitl_policy_free(p);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_operators),
      cmocka_unit_test(test_quick_policies),
      cmocka_unit_test(test_nesting),
      cmocka_unit_test(test_first_match_order),
      cmocka_unit_test(test_no_match_reviews),
      cmocka_unit_test(test_missing_confidence),
      cmocka_unit_test(test_sample_percent),
      cmocka_unit_test(test_trace),
      cmocka_unit_test(test_pointers),
#ifdef REG_STARTEND
      cmocka_unit_test(test_regex_embedded_nul),
#endif
      cmocka_unit_test(test_regex_limits),
      cmocka_unit_test(test_regex_dialect_is_posix),
      cmocka_unit_test(test_regex_bounded),
      cmocka_unit_test(test_undecided_goes_to_review),
      cmocka_unit_test(test_trace_caps),
      cmocka_unit_test(test_lookup_error_aborts),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_validation),
      cmocka_unit_test(test_validation_limits),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
