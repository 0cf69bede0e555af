/* SPDX-License-Identifier: MIT */
/* Tests of the agreement rules for boxes (IoU, one-to-one pairing), transcripts (word error rate)
 * and relations (sets of links between spans), and of their JSON text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/annotation.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static hitl_box box(const char *label, double x, double y, double w, double h) {
  return (hitl_box){.label = (char *)label, .x = x, .y = y, .width = w, .height = h};
}

static void test_box_check(void **state) {
  (void)state;
  hitl_box ok = box("car", 0, 0, 100, 100), edge = box("car", 100.0 / 3, 0, 200.0 / 3, 10);
  assert_null(hitl_box_check(&ok));
  assert_null(hitl_box_check(&edge)); /* 33.33.. + 66.66.. is a hair over 100 in doubles. */
  hitl_box bad[] = {box("c", -0.1, 0, 1, 1), box("c", 0, 100.5, 1, 1), box("c", 0, 0, 0, 1),
                    box("c", 0, 0, 1, -2),   box("c", 60, 0, 41, 1),   box("c", 0, 99, 1, 2)};
  for (size_t i = 0; i < N(bad); i++) assert_non_null(hitl_box_check(&bad[i]));
}

static void test_iou(void **state) {
  (void)state;
  hitl_box a = box("c", 0, 0, 10, 10), b = box("c", 5, 0, 10, 10), c = box("c", 20, 20, 5, 5);
  assert_true(hitl_box_iou(&a, &a) == 1.0);
  /* Overlap 50, union 150. */
  assert_true(hitl_box_iou(&a, &b) > 0.3333 && hitl_box_iou(&a, &b) < 0.3334);
  assert_true(hitl_box_iou(&a, &b) == hitl_box_iou(&b, &a));
  assert_true(hitl_box_iou(&a, &c) == 0.0);
  hitl_box touching = box("c", 10, 0, 5, 10);
  assert_true(hitl_box_iou(&a, &touching) == 0.0);
}

static void test_boxes_match(void **state) {
  (void)state;
  /* IoU a0-b0 0.74, a0-b1 0.8, a1-b0 0.82, a1-b1 0.44. At 0.7 a first-fit pairing gives a0 the
   * box b0, which a1 needs: the one-to-one pairing exists only the other way round. */
  hitl_box av[] = {box("car", 0, 0, 10, 10), box("car", 2.5, 0, 10, 10)};
  hitl_box bv[] = {box("car", 1.5, 0, 10, 10), box("car", 0, 0, 8, 10)};
  hitl_boxes a = {.v = av, .n = 2}, b = {.v = bv, .n = 2};
  size_t pairs[2] = {9, 9};
  assert_true(hitl_boxes_match(&a, &b, 0.7, pairs));
  assert_int_equal(pairs[0], 1);
  assert_int_equal(pairs[1], 0);
  assert_false(hitl_boxes_match(&a, &b, 0.85, NULL));
  /* Labels must match too. */
  bv[0].label = "person";
  assert_false(hitl_boxes_match(&a, &b, 0.5, NULL));
  /* Different counts never match; two empty answers do. */
  hitl_boxes one = {.v = av, .n = 1}, none = {0};
  assert_false(hitl_boxes_match(&a, &one, 0.1, NULL));
  assert_true(hitl_boxes_match(&none, &none, 0.5, NULL));
}

static void test_wer(void **state) {
  (void)state;
  assert_true(hitl_transcript_wer("", "", 0.1) == 0.0);
  /* Case and punctuation do not count. */
  assert_true(hitl_transcript_wer("Hello, world!", "hello world", 0.1) == 0.0);
  /* One substitution in ten words. */
  const char *a = "one two three four five six seven eight nine ten";
  const char *b = "one two three four five six seven eight nine tan";
  assert_true(hitl_transcript_wer(a, b, 0.5) == 0.1);
  assert_true(hitl_transcript_wer(b, a, 0.5) == 0.1);
  /* Under a tighter threshold the answer is only known to be at or above it. */
  assert_true(hitl_transcript_wer(a, b, 0.05) >= 0.05);
  /* A deletion and an insertion. */
  assert_true(hitl_transcript_wer("a b c d", "a c d e", 1) == 0.5);
  assert_true(hitl_transcript_wer("a b", "", 1) == 1.0);
  assert_true(hitl_transcript_wer("x", "a b c d e f g h i j", 0.2) >= 0.2);

  /* Words longer than 256 bytes compare by their first 256. */
  char w300a[302], w300b[302];
  memset(w300a, 'x', 300);
  memcpy(w300b, w300a, 300);
  w300a[300] = w300b[300] = '\0';
  w300b[299] = 'y';
  assert_true(hitl_transcript_wer(w300a, w300b, 0.5) == 0.0);
  w300b[10] = 'y';
  assert_true(hitl_transcript_wer(w300a, w300b, 1) == 1.0);

  /* Past HITL_WER_MAX_WORDS words only equal word lists agree: the time stays bounded. */
  size_t n = HITL_WER_MAX_WORDS + 1;
  char *long_a = malloc(2 * n + 1), *long_b = malloc(2 * n + 1);
  for (size_t i = 0; i < n; i++) {
    long_a[2 * i] = long_b[2 * i] = 'w';
    long_a[2 * i + 1] = long_b[2 * i + 1] = ' ';
  }
  long_a[2 * n] = long_b[2 * n] = '\0';
  assert_true(hitl_transcript_wer(long_a, long_b, 0.5) == 0.0);
  long_b[0] = 'W'; /* Case does not count. */
  assert_true(hitl_transcript_wer(long_a, long_b, 0.5) == 0.0);
  long_b[0] = 'v';
  assert_true(hitl_transcript_wer(long_a, long_b, 0.5) == 1.0);
  free(long_a);
  free(long_b);
}

static void test_relations(void **state) {
  (void)state;
  hitl_span s1v[] = {{0, 3, "PER"}, {10, 14, "ORG"}, {20, 22, "ORG"}};
  hitl_span s2v[] = {{20, 22, "ORG"}, {0, 3, "PER"}, {10, 14, "ORG"}}; /* Another order. */
  hitl_spans s1 = {s1v, 3}, s2 = {s2v, 3};
  hitl_relation r1v[] = {{0, 1, "works_for"}, {0, 2, "knows"}};
  hitl_relation r2v[] = {{1, 0, "knows"}, {1, 2, "works_for"}};
  hitl_relations r1 = {r1v, 2}, r2 = {r2v, 2};
  assert_true(hitl_relations_same(&r1, &s1, &r2, &s2));
  r2v[0].label = "works_for";
  assert_false(hitl_relations_same(&r1, &s1, &r2, &s2));
  r2v[0].label = "knows";
  r2v[1].from = 2; /* Direction matters. */
  r2v[1].to = 1;
  assert_false(hitl_relations_same(&r1, &s1, &r2, &s2));
  hitl_relations one = {r1v, 1};
  assert_false(hitl_relations_same(&r1, &s1, &one, &s1));

  char *labels[] = {"works_for", "knows"};
  size_t bad = 99;
  assert_null(hitl_relations_check(&r1, 3, labels, 2, &bad));
  assert_non_null(hitl_relations_check(&r1, 2, labels, 2, &bad));
  assert_int_equal(bad, 1);
  hitl_relation self[] = {{1, 1, "knows"}}, twice[] = {{0, 1, "knows"}, {0, 1, "knows"}},
                unknown[] = {{0, 1, "hates"}};
  hitl_relations rs = {self, 1}, rt = {twice, 2}, ru = {unknown, 1};
  assert_non_null(hitl_relations_check(&rs, 3, labels, 2, &bad));
  assert_non_null(hitl_relations_check(&rt, 3, labels, 2, &bad));
  assert_int_equal(bad, 1);
  assert_non_null(hitl_relations_check(&ru, 3, labels, 2, &bad));

  /* Re-indexing r1 (into s1) into s2. */
  hitl_relation cv[] = {{0, 1, "works_for"}, {0, 2, "knows"}};
  hitl_relations c = {cv, 2};
  assert_true(hitl_relations_reindex(&c, &s1, &s2));
  assert_int_equal(cv[0].from, 1);
  assert_int_equal(cv[0].to, 2);
  assert_int_equal(cv[1].to, 0);
  hitl_spans fewer = {s2v, 2};
  hitl_relation dv[] = {{0, 1, "works_for"}};
  hitl_relations d = {dv, 1};
  assert_false(hitl_relations_reindex(&d, &s1, &fewer)); /* {10,14} is not in it. */
  assert_int_equal(dv[0].from, 0);
  assert_int_equal(dv[0].to, 1);
}

static void test_json(void **state) {
  (void)state;
  hitl_box v[] = {box("car \"x\"", 10, 20.25, 30, 40)};
  hitl_boxes b = {.v = v, .n = 1, .image_width = 640, .image_height = 480};
  char *j = hitl_boxes_json(&b);
  assert_string_equal(j, "{\"boxes\":[{\"height\":40,\"label\":\"car \\\"x\\\"\",\"width\":30,\"x\":10,"
                         "\"y\":20.25}],\"image_height\":480,\"image_width\":640}");
  free(j);
  hitl_relation rv[] = {{0, 1, "works_for"}, {2, 0, "knows"}};
  hitl_relations r = {rv, 2};
  j = hitl_relations_json(&r);
  assert_string_equal(j, "[{\"from\":0,\"label\":\"works_for\",\"to\":1},{\"from\":2,\"label\":"
                         "\"knows\",\"to\":0}]");
  free(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_box_check), cmocka_unit_test(test_iou),
      cmocka_unit_test(test_boxes_match), cmocka_unit_test(test_wer),
      cmocka_unit_test(test_relations), cmocka_unit_test(test_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
