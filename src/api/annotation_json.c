/* SPDX-License-Identifier: MIT */
/* Validation of boxes, transcription and relations answers, and the codec core reads them with. */
#include "api/annotation_json.h"

#include <stdlib.h>
#include <string.h>

#include "api/json_check.h"
#include "util/xmalloc.h"

#define MAX_BOXES 500        /* Boxes in one answer (matching is quadratic in them). */
#define MAX_SEGMENTS 10000
#define MAX_RELATIONS 1000
#define MAX_TEXT 100000      /* Bytes of a transcript or a segment's text. */
#define MAX_IMAGE_SIDE 1000000 /* Pixels. */

static const char *const boxes_keys[] = {"boxes", "image_width", "image_height", NULL};
static const char *const box_keys[] = {"label", "x", "y", "width", "height", NULL};
static const char *const transcription_keys[] = {"text", "segments", NULL};
static const char *const segment_keys[] = {"start", "end", "text", NULL};
static const char *const relation_keys[] = {"from", "to", "label", NULL};

static bool has_label(const hitl_question *qu, const char *s) {
  for (size_t i = 0; i < qu->n_labels; i++)
    if (strcmp(qu->labels[i], s) == 0) return true;
  return false;
}

/* Reads number member key of obj (at base) into *out. */
static int number(const json_t *obj, const char *base, const char *key, double *out,
                  hitl_err *err) {
  char f[HITL_FIELD_PATH_LEN];
  hitl__path_key(f, base, key);
  json_t *v = json_object_get(obj, key);
  if (!json_is_number(v)) return hitl__invalid(err, f, "%s is required: a number", key);
  *out = json_number_value(v);
  return 0;
}

static int image_side(const json_t *v, const char *base, const char *key, hitl_err *err) {
  char f[HITL_FIELD_PATH_LEN];
  hitl__path_key(f, base, key);
  json_t *s = json_object_get(v, key);
  if (!json_is_integer(s) || json_integer_value(s) < 1 ||
      json_integer_value(s) > MAX_IMAGE_SIDE)
    return hitl__invalid(err, f, "%s is required: the image's natural size in pixels, an integer "
                                 "from 1 to %d", key, MAX_IMAGE_SIDE);
  return 0;
}

int hitl__boxes_check(const hitl_question *qu, const json_t *v, const char *field, hitl_err *err) {
  if (!json_is_object(v))
    return hitl__invalid(err, field, "value must be an object {\"boxes\": [...], "
                                     "\"image_width\", \"image_height\"}");
  int rc = hitl__json_check_keys(v, field, "a boxes answer", boxes_keys, err);
  if (rc == 0) rc = image_side(v, field, "image_width", err);
  if (rc == 0) rc = image_side(v, field, "image_height", err);
  if (rc < 0) return rc;
  char base[HITL_FIELD_PATH_LEN];
  hitl__path_key(base, field, "boxes");
  json_t *boxes = json_object_get(v, "boxes");
  if (!json_is_array(boxes) || json_array_size(boxes) > MAX_BOXES)
    return hitl__invalid(err, base, "boxes must be an array of at most %d boxes {\"label\", \"x\", "
                                    "\"y\", \"width\", \"height\"}", MAX_BOXES);
  size_t i;
  json_t *b;
  json_array_foreach(boxes, i, b) {
    char at[HITL_FIELD_PATH_LEN], f[HITL_FIELD_PATH_LEN];
    hitl__path_index(at, base, i);
    if (!json_is_object(b))
      return hitl__invalid(err, at, "a box must be an object {\"label\", \"x\", \"y\", \"width\", "
                                    "\"height\"} in percent of the image");
    if ((rc = hitl__json_check_keys(b, at, "a box", box_keys, err)) < 0) return rc;
    hitl_box box = {0};
    if ((rc = number(b, at, "x", &box.x, err)) < 0 || (rc = number(b, at, "y", &box.y, err)) < 0 ||
        (rc = number(b, at, "width", &box.width, err)) < 0 ||
        (rc = number(b, at, "height", &box.height, err)) < 0)
      return rc;
    const char *why = hitl_box_check(&box);
    if (why != NULL) return hitl__invalid(err, at, "box %zu: %s", i, why);
    hitl__path_key(f, at, "label");
    json_t *label = json_object_get(b, "label");
    if (!json_is_string(label) || !has_label(qu, json_string_value(label)))
      return hitl__invalid(err, f, "box %zu: the label must be one of the labels of question "
                                   "\"%s\"", i, qu->name);
  }
  return 0;
}

int hitl__transcription_check(const json_t *v, const char *field, hitl_err *err) {
  if (!json_is_object(v))
    return hitl__invalid(err, field, "value must be an object {\"text\", \"segments\"}");
  int rc = hitl__json_check_keys(v, field, "a transcription", transcription_keys, err);
  if (rc < 0) return rc;
  char f[HITL_FIELD_PATH_LEN];
  hitl__path_key(f, field, "text");
  json_t *text = json_object_get(v, "text");
  if (!json_is_string(text) || json_string_length(text) > MAX_TEXT)
    return hitl__invalid(err, f, "text is required: a string of at most %d bytes", MAX_TEXT);
  hitl__path_key(f, field, "segments");
  json_t *segs = hitl__json_member(v, "segments");
  if (segs == NULL) return 0;
  if (!json_is_array(segs) || json_array_size(segs) > MAX_SEGMENTS)
    return hitl__invalid(err, f, "segments must be an array of at most %d segments {\"start\", "
                                 "\"end\", \"text\"}", MAX_SEGMENTS);
  size_t i;
  json_t *s;
  json_array_foreach(segs, i, s) {
    char at[HITL_FIELD_PATH_LEN], g[HITL_FIELD_PATH_LEN];
    hitl__path_index(at, f, i);
    if (!json_is_object(s))
      return hitl__invalid(err, at, "a segment must be an object {\"start\", \"end\", \"text\"}");
    if ((rc = hitl__json_check_keys(s, at, "a segment", segment_keys, err)) < 0) return rc;
    double start = 0, end = 0;
    if ((rc = number(s, at, "start", &start, err)) < 0 || (rc = number(s, at, "end", &end, err)) < 0)
      return rc;
    if (start < 0 || end <= start)
      return hitl__invalid(err, at, "segment %zu: times are seconds with 0 <= start < end", i);
    hitl__path_key(g, at, "text");
    json_t *t = json_object_get(s, "text");
    if (!json_is_string(t) || json_string_length(t) > MAX_TEXT)
      return hitl__invalid(err, g, "segment %zu: text is required, a string of at most %d bytes",
                           i, MAX_TEXT);
  }
  return 0;
}

int hitl__relations_check_shape(const json_t *v, const char *field, hitl_err *err) {
  if (!json_is_array(v) || json_array_size(v) > MAX_RELATIONS)
    return hitl__invalid(err, field, "value must be an array of at most %d relations {\"from\", "
                                     "\"to\", \"label\"}", MAX_RELATIONS);
  size_t i;
  json_t *r;
  json_array_foreach(v, i, r) {
    char at[HITL_FIELD_PATH_LEN];
    hitl__path_index(at, field, i);
    if (!json_is_object(r))
      return hitl__invalid(err, at, "a relation must be an object {\"from\", \"to\", \"label\"}");
    int rc = hitl__json_check_keys(r, at, "a relation", relation_keys, err);
    if (rc < 0) return rc;
    json_t *from = json_object_get(r, "from"), *to = json_object_get(r, "to");
    if (!json_is_integer(from) || json_integer_value(from) < 0 || !json_is_integer(to) ||
        json_integer_value(to) < 0)
      return hitl__invalid(err, at, "relation %zu: from and to must be integers >= 0, indexes "
                                    "into the spans answer", i);
    if (!json_is_string(json_object_get(r, "label")))
      return hitl__invalid(err, at, "relation %zu: label must be a string", i);
  }
  return 0;
}

/* Fills out from a validated relations array (shallow labels are copied). */
static void relations_from(const json_t *v, hitl_relations *out) {
  memset(out, 0, sizeof *out);
  size_t n = json_array_size(v);
  out->v = hitl_xcalloc(n ? n : 1, sizeof *out->v);
  for (size_t i = 0; i < n; i++) {
    json_t *r = json_array_get(v, i);
    json_int_t from = json_integer_value(json_object_get(r, "from"));
    json_int_t to = json_integer_value(json_object_get(r, "to"));
    out->v[i].from = from < 0 ? SIZE_MAX : (size_t)from;
    out->v[i].to = to < 0 ? SIZE_MAX : (size_t)to;
    const char *label = json_string_value(json_object_get(r, "label"));
    out->v[i].label = hitl_xstrdup(label ? label : "");
  }
  out->n = n;
}

int hitl__relations_check_refs(const hitl_question *qu, const json_t *v, const json_t *spans,
                               const char *field, hitl_err *err) {
  hitl_relations r;
  relations_from(v, &r);
  size_t bad = 0;
  const char *why = hitl_relations_check(&r, json_array_size(spans), qu->labels, qu->n_labels, &bad);
  hitl_relations_clear(&r);
  if (why == NULL) return 0;
  char at[HITL_FIELD_PATH_LEN];
  hitl__path_index(at, field, bad);
  return hitl__invalid(err, at, "relation %zu of question \"%s\": %s (the spans answer to \"%s\" "
                                "has %zu spans)", bad, qu->name, why, qu->spans,
                       json_array_size(spans));
}

/* ---- the codec ---- */

static json_t *load(const char *text) {
  return text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
}

static int codec_boxes(const char *text, hitl_boxes *out) {
  memset(out, 0, sizeof *out);
  json_t *v = load(text), *boxes = json_object_get(v, "boxes");
  int rc = -1;
  if (!json_is_array(boxes)) goto done;
  size_t n = json_array_size(boxes);
  out->v = hitl_xcalloc(n ? n : 1, sizeof *out->v);
  for (size_t i = 0; i < n; i++) {
    json_t *b = json_array_get(boxes, i);
    const char *label = json_string_value(json_object_get(b, "label"));
    out->v[i] = (hitl_box){
        .label = hitl_xstrdup(label ? label : ""),
        .x = json_number_value(json_object_get(b, "x")),
        .y = json_number_value(json_object_get(b, "y")),
        .width = json_number_value(json_object_get(b, "width")),
        .height = json_number_value(json_object_get(b, "height")),
    };
    out->n++;
  }
  out->image_width = json_number_value(json_object_get(v, "image_width"));
  out->image_height = json_number_value(json_object_get(v, "image_height"));
  rc = 0;
done:
  json_decref(v);
  return rc;
}

static int codec_spans(const char *text, hitl_spans *out) {
  memset(out, 0, sizeof *out);
  json_t *v = load(text);
  if (!json_is_array(v)) {
    json_decref(v);
    return -1;
  }
  size_t n = json_array_size(v);
  out->v = hitl_xcalloc(n ? n : 1, sizeof *out->v);
  for (size_t i = 0; i < n; i++) {
    json_t *s = json_array_get(v, i);
    const char *label = json_string_value(json_object_get(s, "label"));
    out->v[i].start = json_integer_value(json_object_get(s, "start"));
    out->v[i].end = json_integer_value(json_object_get(s, "end"));
    out->v[i].label = hitl_xstrdup(label ? label : "");
  }
  out->n = n;
  json_decref(v);
  return 0;
}

static int codec_relations(const char *text, hitl_relations *out) {
  memset(out, 0, sizeof *out);
  json_t *v = load(text);
  int rc = json_is_array(v) ? 0 : -1;
  if (rc == 0) relations_from(v, out);
  json_decref(v);
  return rc;
}

static int codec_transcript(const char *text, char **out) {
  *out = NULL;
  json_t *v = load(text);
  const char *t = json_string_value(json_object_get(v, "text"));
  if (t != NULL) *out = hitl_xstrdup(t);
  json_decref(v);
  return t != NULL ? 0 : -1;
}

const hitl_answer_codec hitl__answer_codec = {
    .boxes = codec_boxes,
    .spans = codec_spans,
    .relations = codec_relations,
    .transcript = codec_transcript,
};
