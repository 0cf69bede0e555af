/* SPDX-License-Identifier: MIT */
/* Consensus methods: first answer, strict majority and unanimity, decided question by question. */
#include "core/consensus.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

/* Strings that may be NULL are equal when both are NULL or both hold the same text. */
static bool same_text(const char *a, const char *b) {
  if (a == NULL || b == NULL) return a == b;
  return strcmp(a, b) == 0;
}

/* One question's answers, one per reviewer (NULL where a reviewer did not answer it), with what
 * the agreement rule of its type needs, read once per answer. */
typedef struct ballot {
  const hitl_question *qu;
  const hitl_response **answers;
  size_t nr;
  bool *read;              /* read[r]: answers[r]'s value was read into the arrays below. */
  signed char *memo;       /* memo[i * nr + j]: whether i and j agree; -1 not yet known. */
  hitl_boxes *boxes;       /* For boxes questions. */
  hitl_words *words;       /* For transcription questions. */
  hitl_relations *rels;    /* For relations questions, with the same reviewer's spans. */
  hitl_spans *spans;
} ballot;

static void ballot_open(ballot *b, const hitl_queue_config *q, size_t qi,
                        const hitl_response **grid, size_t nr) {
  memset(b, 0, sizeof *b);
  b->qu = &q->questions[qi];
  b->answers = &grid[qi * nr];
  b->nr = nr;
  const hitl_answer_codec *c = q->codec;
  hitl_question_type t = b->qu->type;
  if (c == NULL || (t != HITL_QUESTION_BOXES && t != HITL_QUESTION_TRANSCRIPTION &&
                    t != HITL_QUESTION_RELATIONS))
    return;
  b->read = hitl_xcalloc(nr, sizeof *b->read);
  b->memo = hitl_xcalloc(nr * nr, sizeof *b->memo);
  memset(b->memo, -1, nr * nr * sizeof *b->memo);
  b->boxes = hitl_xcalloc(nr, sizeof *b->boxes);
  b->words = hitl_xcalloc(nr, sizeof *b->words);
  b->rels = hitl_xcalloc(nr, sizeof *b->rels);
  b->spans = hitl_xcalloc(nr, sizeof *b->spans);
  int si = t == HITL_QUESTION_RELATIONS ? hitl_queue_question_index(q, b->qu->spans) : -1;
  for (size_t r = 0; r < nr; r++) {
    const hitl_response *a = b->answers[r];
    if (a == NULL || a->value == NULL || strcmp(a->kind, hitl_question_type_name(t)) != 0) continue;
    if (t == HITL_QUESTION_BOXES) {
      b->read[r] = c->boxes(a->value, &b->boxes[r]) == 0;
    } else if (t == HITL_QUESTION_TRANSCRIPTION) {
      char *text = NULL;
      b->read[r] = c->transcript(a->value, &text) == 0;
      if (b->read[r]) b->words[r] = hitl_words_split(text);
      free(text);
    } else if (si >= 0) {
      const hitl_response *s = grid[(size_t)si * nr + r];
      b->read[r] = s != NULL && s->value != NULL && c->relations(a->value, &b->rels[r]) == 0 &&
                   c->spans(s->value, &b->spans[r]) == 0;
    }
  }
}

static void ballot_close(ballot *b) {
  for (size_t r = 0; b->read != NULL && r < b->nr; r++) {
    hitl_boxes_clear(&b->boxes[r]);
    hitl_words_clear(&b->words[r]);
    hitl_relations_clear(&b->rels[r]);
    hitl_spans_clear(&b->spans[r]);
  }
  free(b->read);
  free(b->memo);
  free(b->boxes);
  free(b->words);
  free(b->rels);
  free(b->spans);
}

/* The rule of the question's type for answers i and j, both read. */
static bool rule_holds(const ballot *b, size_t i, size_t j) {
  switch (b->qu->type) {
  case HITL_QUESTION_BOXES:
    return hitl_boxes_match(&b->boxes[i], &b->boxes[j], b->qu->threshold, NULL);
  case HITL_QUESTION_TRANSCRIPTION:
    return hitl_words_wer(&b->words[i], &b->words[j], b->qu->threshold) < b->qu->threshold;
  case HITL_QUESTION_RELATIONS:
    return hitl_relations_same(&b->rels[i], &b->spans[i], &b->rels[j], &b->spans[j]);
  default:
    return false;
  }
}

/* True when the answers of reviewers i and j (both present) agree under the question's rule.
 * The rules cost up to quadratic time in an answer's size, so each pair is judged once. */
static bool agree(const ballot *b, size_t i, size_t j) {
  const hitl_response *x = b->answers[i], *y = b->answers[j];
  if (!same_text(x->kind, y->kind)) return false;
  if (i == j || same_text(x->value, y->value)) return true;
  if (b->read == NULL || !b->read[i] || !b->read[j]) return false;
  signed char *m = &b->memo[i * b->nr + j];
  if (*m < 0) *m = b->memo[j * b->nr + i] = (signed char)rule_holds(b, i, j);
  return *m > 0;
}

/* The reviewer whose answer wins among the m > 0 given, or SIZE_MAX when the method finds no
 * agreement; group[r] is set for the answers that agree with the winner. */
static size_t decide_question(hitl_consensus_method method, const ballot *b, size_t m,
                              bool *group) {
  size_t first = 0;
  while (b->answers[first] == NULL) first++;
  memset(group, 0, b->nr * sizeof *group);
  switch (method) {
  case HITL_CONSENSUS_FIRST:
    group[first] = true;
    return first;
  case HITL_CONSENSUS_UNANIMOUS:
    for (size_t r = 0; r < b->nr; r++) {
      if (b->answers[r] == NULL) continue;
      if (!agree(b, first, r)) return SIZE_MAX;
      group[r] = true;
    }
    return first;
  case HITL_CONSENSUS_MAJORITY:
    /* The earliest answer that more than half of the m answers agree with. */
    for (size_t i = 0; i < b->nr; i++) {
      if (b->answers[i] == NULL) continue;
      size_t votes = 0;
      for (size_t j = 0; j < b->nr; j++) {
        group[j] = b->answers[j] != NULL && agree(b, i, j);
        votes += group[j];
      }
      if (2 * votes > m) return i;
    }
    memset(group, 0, b->nr * sizeof *group);
    return SIZE_MAX;
  }
  return SIZE_MAX;
}

/* A new answer like w but with value (taken). */
static void merged_answer(hitl_response *out, const hitl_response *w, char *value) {
  memset(out, 0, sizeof *out);
  memcpy(out->id, w->id, sizeof out->id);
  out->task_seq = w->task_seq;
  out->reviewer = w->reviewer ? hitl_xstrdup(w->reviewer) : NULL;
  out->stage = w->stage;
  out->question = w->question ? hitl_xstrdup(w->question) : NULL;
  out->kind = hitl_xstrdup(w->kind);
  out->value = value;
  out->created_at = w->created_at;
}

/* Boxes that agree become one answer: each of the winner's boxes with the mean coordinates of
 * the boxes paired with it. Returns NULL when the group is the winner alone. */
static char *merge_boxes(const ballot *b, size_t w, const bool *group) {
  size_t n = b->boxes[w].n, members = 1;
  if (!b->read || !b->read[w]) return NULL;
  hitl_boxes sum = b->boxes[w]; /* Shallow: labels stay the winner's. */
  sum.v = hitl_xcalloc(n ? n : 1, sizeof *sum.v);
  memcpy(sum.v, b->boxes[w].v, n * sizeof *sum.v);
  size_t *pairs = hitl_xcalloc(n ? n : 1, sizeof *pairs);
  for (size_t r = 0; r < b->nr; r++) {
    if (r == w || !group[r] || !b->read[r] ||
        !hitl_boxes_match(&b->boxes[w], &b->boxes[r], b->qu->threshold, pairs))
      continue;
    members++;
    for (size_t i = 0; i < n; i++) {
      const hitl_box *o = &b->boxes[r].v[pairs[i]];
      sum.v[i].x += o->x;
      sum.v[i].y += o->y;
      sum.v[i].width += o->width;
      sum.v[i].height += o->height;
    }
  }
  char *json = NULL;
  if (members > 1) {
    for (size_t i = 0; i < n; i++) {
      sum.v[i].x /= (double)members;
      sum.v[i].y /= (double)members;
      sum.v[i].width /= (double)members;
      sum.v[i].height /= (double)members;
    }
    json = hitl_boxes_json(&sum);
  }
  free(pairs);
  free(sum.v);
  return json;
}

/* Among agreeing transcripts, the one with the least total word error rate to the others. Each is
 * under threshold from the winner, so two of them are under twice that from each other: the band
 * of 2 * threshold gives their rates exactly. */
static size_t closest_transcript(const ballot *b, size_t w, const bool *group) {
  if (!b->read || !b->read[w]) return w;
  double *sum = hitl_xcalloc(b->nr, sizeof *sum);
  for (size_t i = 0; i < b->nr; i++)
    for (size_t j = i + 1; j < b->nr; j++) {
      if (!group[i] || !group[j] || !b->read[i] || !b->read[j]) continue;
      double d = hitl_words_wer(&b->words[i], &b->words[j], 2 * b->qu->threshold);
      sum[i] += d;
      sum[j] += d;
    }
  size_t best = w;
  for (size_t i = 0; i < b->nr; i++)
    if (group[i] && b->read[i] && sum[i] < sum[best]) best = i;
  free(sum);
  return best;
}

/* Relations index into their reviewer's spans: the decision's must index into the spans answer
 * the decision holds (spans_winner). Returns false when a linked span is not in it; sets *json
 * to the re-indexed text when the indexes change. */
static bool align_relations(const hitl_queue_config *q, const ballot *b, size_t w,
                            const hitl_response *spans_winner, char **json) {
  *json = NULL;
  if (!b->read || !b->read[w] || spans_winner == NULL) return true;
  hitl_spans target;
  if (q->codec->spans(spans_winner->value, &target) != 0) return true;
  hitl_relations r = {0};
  bool ok = q->codec->relations(b->answers[w]->value, &r) == 0 &&
            hitl_relations_reindex(&r, &b->spans[w], &target);
  if (ok) {
    char *text = hitl_relations_json(&r);
    if (strcmp(text, b->answers[w]->value) != 0) *json = text;
    else free(text);
  }
  hitl_relations_clear(&r);
  hitl_spans_clear(&target);
  return ok;
}

/* Decides question qi into out->winners[qi] (merging into out->merged[qi] when the rule merges).
 * Returns false on disagreement. */
static bool decide_one(const hitl_queue_config *q, hitl_consensus_method method, size_t qi,
                       const hitl_response **grid, size_t nr, hitl_consensus_result *out) {
  ballot b;
  ballot_open(&b, q, qi, grid, nr);
  size_t m = 0;
  for (size_t r = 0; r < nr; r++) m += b.answers[r] != NULL;
  bool ok = true;
  if (m > 0) {
    bool *group = hitl_xcalloc(nr, sizeof *group);
    size_t w = decide_question(method, &b, m, group);
    char *value = NULL;
    if (w == SIZE_MAX) {
      ok = false;
    } else if (b.qu->type == HITL_QUESTION_BOXES && method != HITL_CONSENSUS_FIRST) {
      value = merge_boxes(&b, w, group);
    } else if (b.qu->type == HITL_QUESTION_TRANSCRIPTION && method != HITL_CONSENSUS_FIRST) {
      w = closest_transcript(&b, w, group);
    } else if (b.qu->type == HITL_QUESTION_RELATIONS) {
      int si = hitl_queue_question_index(q, b.qu->spans);
      const hitl_response *sw = si >= 0 ? out->winners[si] : NULL;
      ok = align_relations(q, &b, w, sw, &value) || method == HITL_CONSENSUS_FIRST;
    }
    if (ok && value != NULL) {
      if (out->merged == NULL) out->merged = hitl_xcalloc(q->n_questions, sizeof *out->merged);
      merged_answer(&out->merged[qi], b.answers[w], value);
      out->winners[qi] = &out->merged[qi];
    } else if (ok) {
      out->winners[qi] = b.answers[w];
    }
    free(group);
  }
  ballot_close(&b);
  return ok;
}

/* See consensus.h. Reviewers are taken in order of their first response in the input, which the
 * caller gives in seq order; a reviewer's first answer to a question counts, later ones and
 * answers to questions the queue no longer has are ignored. For "first", each question goes to
 * the earliest reviewer who answered it. Relations questions are decided last, once the spans
 * they link are. */
int hitl_consensus_decide(const hitl_queue_config *q, hitl_consensus_method method, int needed,
                          const hitl_response *responses, size_t n, hitl_consensus_result *out) {
  memset(out, 0, sizeof *out);
  const char **reviewers = hitl_xcalloc(n ? n : 1, sizeof *reviewers);
  const hitl_response **grid = NULL; /* grid[qi * nr + ri]: reviewer ri's answer to question qi. */
  size_t nr = 0;

  for (size_t i = 0; i < n; i++) {
    size_t r = 0;
    while (r < nr && !same_text(reviewers[r], responses[i].reviewer)) r++;
    if (r == nr) reviewers[nr++] = responses[i].reviewer;
  }
  if (nr < (size_t)(needed > 1 ? needed : 1)) {
    out->state = HITL_CONSENSUS_WAITING;
    goto cleanup;
  }

  grid = hitl_xcalloc(q->n_questions * nr, sizeof *grid);
  for (size_t i = 0; i < n; i++) {
    int qi = hitl_queue_question_index(q, responses[i].question);
    if (qi < 0) continue;
    size_t r = 0;
    while (!same_text(reviewers[r], responses[i].reviewer)) r++;
    if (grid[(size_t)qi * nr + r] == NULL) grid[(size_t)qi * nr + r] = &responses[i];
  }

  out->winners = hitl_xcalloc(q->n_questions, sizeof *out->winners);
  out->n_winners = q->n_questions;
  for (int pass = 0; pass < 2; pass++) {
    for (size_t qi = 0; qi < q->n_questions; qi++) {
      if ((q->questions[qi].type == HITL_QUESTION_RELATIONS) != (pass == 1)) continue;
      if (!decide_one(q, method, qi, grid, nr, out)) {
        hitl_consensus_result_clear(out);
        out->state = HITL_CONSENSUS_DISAGREED;
        out->disagreement = q->questions[qi].name;
        goto cleanup;
      }
    }
  }
  out->state = HITL_CONSENSUS_AGREED;

cleanup:
  free(grid);
  free(reviewers);
  return 0;
}

/* Frees the winners and merged answers and zeroes r. NULL is a no-op. */
void hitl_consensus_result_clear(hitl_consensus_result *r) {
  if (r == NULL) return;
  for (size_t i = 0; r->merged != NULL && i < r->n_winners; i++) hitl_response_clear(&r->merged[i]);
  free(r->merged);
  free((void *)r->winners);
  memset(r, 0, sizeof *r);
}

bool hitl_consensus_take_merged(hitl_consensus_result *dst, size_t qi, hitl_consensus_result *src) {
  if (src->merged == NULL || qi >= src->n_winners || src->winners[qi] != &src->merged[qi] ||
      qi >= dst->n_winners)
    return false;
  if (dst->merged == NULL) dst->merged = hitl_xcalloc(dst->n_winners, sizeof *dst->merged);
  hitl_response_clear(&dst->merged[qi]);
  dst->merged[qi] = src->merged[qi];
  memset(&src->merged[qi], 0, sizeof src->merged[qi]);
  src->winners[qi] = NULL;
  dst->winners[qi] = &dst->merged[qi];
  return true;
}
