/* SPDX-License-Identifier: MIT */
/* Boxes, transcription and relations answers in JSON: their validation, and the codec that lets
 * core read stored answers for consensus. */
#ifndef HITL_API_ANNOTATION_JSON_H
#define HITL_API_ANNOTATION_JSON_H

#include <jansson.h>

#include "core/annotation.h"
#include "core/queue.h"
#include "hitl/error.h"

/* Reads boxes, spans, relations and transcripts from stored answer text (jansson inside). Every
 * queue configuration built by hitl__queue_config_from_json points at it. */
extern const hitl_answer_codec hitl__answer_codec;

/* Checks a boxes answer of question qu: {"boxes":[{"label","x","y","width","height"}],
 * "image_width","image_height"}, every box inside the image with a positive size and one of
 * qu's labels. Returns 0 or HITL_EVALIDATION with err naming the item (field.boxes[2].x). */
int hitl__boxes_check(const hitl_question *qu, const json_t *v, const char *field, hitl_err *err);

/* Checks a transcription answer: {"text", "segments": [{"start","end","text"}]}, segments
 * optional, times in seconds with end > start >= 0. */
int hitl__transcription_check(const json_t *v, const char *field, hitl_err *err);

/* Checks the shape of a relations answer: an array of {"from","to","label"} with from and to
 * integers >= 0. What they point at is checked by hitl__relations_check_refs. */
int hitl__relations_check_shape(const json_t *v, const char *field, hitl_err *err);

/* Checks relations answer v of question qu against spans, the spans answer (validated) given in
 * the same body: indexes in range, distinct ends, known labels, no link twice. */
int hitl__relations_check_refs(const hitl_question *qu, const json_t *v, const json_t *spans,
                               const char *field, hitl_err *err);

#endif
