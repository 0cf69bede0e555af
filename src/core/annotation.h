/* SPDX-License-Identifier: MIT */
/* Annotations beyond text: boxes on images, transcripts of audio, relations between spans, and
 * the rules that say when two of them agree. */
#ifndef HITL_CORE_ANNOTATION_H
#define HITL_CORE_ANNOTATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One labelled rectangle, in percent of the image (Label Studio's convention): x and y are the
 * top left corner, 0..100; width and height are > 0 and keep the box inside the image. */
typedef struct hitl_box {
  char *label;
  double x, y, width, height;
} hitl_box;

/* A boxes answer: the rectangles and the natural size of the image in pixels. */
typedef struct hitl_boxes {
  hitl_box *v;
  size_t n;
  double image_width, image_height;
} hitl_boxes;

/* One labelled span of text, [start, end) in code points. */
typedef struct hitl_span {
  int64_t start, end;
  char *label;
} hitl_span;

typedef struct hitl_spans {
  hitl_span *v;
  size_t n;
} hitl_spans;

/* A directed, labelled link from span `from` to span `to` (indexes into a spans answer). */
typedef struct hitl_relation {
  size_t from, to;
  char *label;
} hitl_relation;

typedef struct hitl_relations {
  hitl_relation *v;
  size_t n;
} hitl_relations;

/* Reads answer values (compact JSON text) into the structs above. core parses no JSON: the api
 * layer provides these with the queue configuration (see hitl_queue_config.codec). Each returns
 * 0, or a negative code when the text is not a value of that kind (*out is then empty). */
typedef struct hitl_answer_codec {
  int (*boxes)(const char *json, hitl_boxes *out);
  int (*spans)(const char *json, hitl_spans *out);
  int (*relations)(const char *json, hitl_relations *out);
  /* *text is the transcript's "text", malloc'd. */
  int (*transcript)(const char *json, char **text);
} hitl_answer_codec;

/* Free what the struct owns and zero it. NULL is a no-op. */
void hitl_boxes_clear(hitl_boxes *b);
void hitl_spans_clear(hitl_spans *s);
void hitl_relations_clear(hitl_relations *r);

/* Where a box leaves the rules above: NULL when it keeps them, else a sentence saying why. */
const char *hitl_box_check(const hitl_box *b);

/* Intersection over union of two boxes, 0..1 (0 when either has no area). */
double hitl_box_iou(const hitl_box *a, const hitl_box *b);

/* True when a's and b's boxes pair one to one, each pair with the same label and an IoU at or
 * above threshold. When pairs is not NULL and the answer is true, pairs[i] is the index in b of
 * the box paired with a->v[i] (pairs holds a->n entries). Cost O(n^2) IoUs plus augmenting paths
 * over the pairs that qualify. */
bool hitl_boxes_match(const hitl_boxes *a, const hitl_boxes *b, double threshold, size_t *pairs);

/* A transcript's words after normalization (ASCII letters lower-cased, ASCII punctuation
 * dropped, split on white space), each as a 64-bit hash of its text. */
typedef struct hitl_words {
  uint64_t *v;
  size_t n;
} hitl_words;

hitl_words hitl_words_split(const char *text);
void hitl_words_clear(hitl_words *w);

/* Normalized word error rate between two transcripts: the word-level edit distance divided by
 * the longer one's word count; 0 when both have no words. Symmetric. Only whether it is under
 * threshold matters to consensus, so the distance is computed in a band: the result is exact
 * when under threshold and some value at or above it otherwise, in O(words * threshold * words)
 * integer steps. Above HITL_WER_MAX_WORDS words the rate is 0 for equal word lists and 1
 * otherwise, which bounds one comparison to about 2 * 2000^2 steps. */
#define HITL_WER_MAX_WORDS 2000
double hitl_words_wer(const hitl_words *a, const hitl_words *b, double threshold);
/* hitl_words_wer of two texts. */
double hitl_transcript_wer(const char *a, const char *b, double threshold);

/* Checks relations against the spans answer they index into (n_spans spans) and the question's
 * labels: indexes in range, from != to, a known label, no link given twice. Returns NULL when
 * they keep the rules; else a sentence, with *bad the index of the first relation at fault. */
const char *hitl_relations_check(const hitl_relations *r, size_t n_spans,
                                 char *const *labels, size_t n_labels, size_t *bad);

/* True when two reviewers' relations are the same set of links once each index is resolved to
 * its reviewer's span (start, end, label): the order of spans and links does not matter. */
bool hitl_relations_same(const hitl_relations *ra, const hitl_spans *sa,
                         const hitl_relations *rb, const hitl_spans *sb);

/* Rewrites r (which indexes into from) to index into to instead. Returns false, leaving r as it
 * was, when a span r points at is not in to. */
bool hitl_relations_reindex(hitl_relations *r, const hitl_spans *from, const hitl_spans *to);

/* The JSON text of a boxes answer (keys sorted, as answers are stored), malloc'd. */
char *hitl_boxes_json(const hitl_boxes *b);
/* The JSON text of a relations answer, malloc'd. */
char *hitl_relations_json(const hitl_relations *r);

#endif
