/* SPDX-License-Identifier: MIT */
/* Agreement rules for boxes (IoU, one-to-one matching), transcripts (word error rate) and
 * relations (sets of links between spans). */
#include "core/annotation.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/xmalloc.h"

/* Percent coordinates are compared with this slack: 33.333333333333336 + 66.66666666666667 is a
 * little over 100 in doubles, and a box that touches the edge is inside. */
#define EDGE_SLACK 1e-6

void hitl_boxes_clear(hitl_boxes *b) {
  if (b == NULL) return;
  for (size_t i = 0; i < b->n; i++) free(b->v[i].label);
  free(b->v);
  memset(b, 0, sizeof *b);
}

void hitl_spans_clear(hitl_spans *s) {
  if (s == NULL) return;
  for (size_t i = 0; i < s->n; i++) free(s->v[i].label);
  free(s->v);
  memset(s, 0, sizeof *s);
}

void hitl_relations_clear(hitl_relations *r) {
  if (r == NULL) return;
  for (size_t i = 0; i < r->n; i++) free(r->v[i].label);
  free(r->v);
  memset(r, 0, sizeof *r);
}

const char *hitl_box_check(const hitl_box *b) {
  if (!isfinite(b->x) || !isfinite(b->y) || !isfinite(b->width) || !isfinite(b->height))
    return "x, y, width and height must be finite numbers";
  if (b->width <= 0 || b->height <= 0) return "width and height must be greater than 0";
  if (b->x < 0 || b->y < 0 || b->x > 100 || b->y > 100)
    return "x and y must be from 0 to 100 (percent of the image)";
  if (b->x + b->width > 100 + EDGE_SLACK || b->y + b->height > 100 + EDGE_SLACK)
    return "the box must lie inside the image: x + width and y + height at most 100";
  return NULL;
}

double hitl_box_iou(const hitl_box *a, const hitl_box *b) {
  double ix = fmin(a->x + a->width, b->x + b->width) - fmax(a->x, b->x);
  double iy = fmin(a->y + a->height, b->y + b->height) - fmax(a->y, b->y);
  if (ix <= 0 || iy <= 0) return 0;
  double inter = ix * iy;
  double uni = a->width * a->height + b->width * b->height - inter;
  return uni > 0 ? inter / uni : 0;
}

/* Kuhn's augmenting path from a's box i over the allowed pairs (adj, row-major n x n). A free
 * partner is taken before any path is followed: boxes that overlap many others (a crowd) then
 * pair in O(n) each instead of walking long paths. */
static bool augment(size_t i, size_t n, const bool *adj, bool *seen, size_t *owner) {
  for (size_t j = 0; j < n; j++) {
    if (adj[i * n + j] && owner[j] == SIZE_MAX) {
      seen[j] = true;
      owner[j] = i;
      return true;
    }
  }
  for (size_t j = 0; j < n; j++) {
    if (!adj[i * n + j] || seen[j]) continue;
    seen[j] = true;
    if (owner[j] == SIZE_MAX || augment(owner[j], n, adj, seen, owner)) {
      owner[j] = i;
      return true;
    }
  }
  return false;
}

bool hitl_boxes_match(const hitl_boxes *a, const hitl_boxes *b, double threshold, size_t *pairs) {
  if (a->n != b->n) return false;
  size_t n = a->n;
  if (n == 0) return true;
  bool *adj = hitl_xcalloc(n * n, sizeof *adj), *seen = hitl_xcalloc(n, sizeof *seen);
  size_t *owner = hitl_xcalloc(n, sizeof *owner);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++)
      adj[i * n + j] = strcmp(a->v[i].label, b->v[j].label) == 0 &&
                       hitl_box_iou(&a->v[i], &b->v[j]) >= threshold;
  for (size_t j = 0; j < n; j++) owner[j] = SIZE_MAX;
  bool ok = true;
  for (size_t i = 0; i < n && ok; i++) {
    memset(seen, 0, n * sizeof *seen);
    ok = augment(i, n, adj, seen, owner);
  }
  if (ok && pairs != NULL)
    for (size_t j = 0; j < n; j++) pairs[owner[j]] = j;
  free(adj);
  free(seen);
  free(owner);
  return ok;
}

/* ---- transcripts ---- */

/* FNV-1a, 64 bits: words are compared by hash, so that the alignment compares integers. Two
 * different words collide with a chance of about 2^-64. */
static uint64_t word_hash(const unsigned char *s, size_t n) {
  uint64_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
  return h;
}

hitl_words hitl_words_split(const char *text) {
  hitl_words w = {0};
  size_t cap = 0, len = 0;
  unsigned char cur[256]; /* Longer words are hashed by their first 256 bytes. */
  for (const char *p = text ? text : "";; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '\0' || isspace(c)) {
      if (len > 0) {
        if (w.n == cap) {
          cap = cap ? cap * 2 : 64;
          w.v = hitl_xrealloc(w.v, cap * sizeof *w.v);
        }
        w.v[w.n++] = word_hash(cur, len);
        len = 0;
      }
      if (c == '\0') break;
      continue;
    }
    if (c < 0x80 && ispunct(c)) continue;
    if (len < sizeof cur) cur[len++] = (unsigned char)(c < 0x80 ? tolower(c) : c);
  }
  return w;
}

void hitl_words_clear(hitl_words *w) {
  if (w == NULL) return;
  free(w->v);
  memset(w, 0, sizeof *w);
}

/* Word edit distance between a and b, exact when at most k, else some value above k: only the
 * diagonal band |i - j| <= k of the table is filled (Ukkonen). */
static size_t banded_distance(const hitl_words *a, const hitl_words *b, size_t k) {
  size_t n = a->n, m = b->n, big = k + 1;
  if ((n > m ? n - m : m - n) > k) return big;
  size_t *prev = hitl_xcalloc(m + 1, sizeof *prev), *row = hitl_xcalloc(m + 1, sizeof *row);
  for (size_t j = 0; j <= m; j++) prev[j] = j <= k ? j : big;
  for (size_t i = 1; i <= n; i++) {
    size_t lo = i > k ? i - k : 0, hi = i + k < m ? i + k : m;
    if (lo > 0) row[lo - 1] = big;
    if (lo == 0) row[0] = i <= k ? i : big;
    for (size_t j = lo > 0 ? lo : 1; j <= hi; j++) {
      size_t best = prev[j - 1] + (a->v[i - 1] != b->v[j - 1]);
      if (prev[j] + 1 < best) best = prev[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best < big ? best : big;
    }
    if (hi < m) row[hi + 1] = big;
    size_t *t = prev;
    prev = row;
    row = t;
  }
  size_t d = prev[m];
  free(prev);
  free(row);
  return d;
}

double hitl_words_wer(const hitl_words *a, const hitl_words *b, double threshold) {
  size_t longer = a->n > b->n ? a->n : b->n;
  if (longer == 0) return 0;
  if (longer > HITL_WER_MAX_WORDS) {
    /* Too long to align on the writer's time: equal word lists or nothing. */
    bool same = a->n == b->n && memcmp(a->v, b->v, a->n * sizeof *a->v) == 0;
    return same ? 0 : 1;
  }
  /* A distance d is under threshold when d < threshold * longer: no need to look further. */
  double limit = threshold * (double)longer;
  size_t k = limit >= (double)longer ? longer : (size_t)ceil(limit);
  return (double)banded_distance(a, b, k) / (double)longer;
}

double hitl_transcript_wer(const char *a, const char *b, double threshold) {
  hitl_words wa = hitl_words_split(a), wb = hitl_words_split(b);
  double wer = hitl_words_wer(&wa, &wb, threshold);
  hitl_words_clear(&wa);
  hitl_words_clear(&wb);
  return wer;
}

/* ---- relations ---- */

const char *hitl_relations_check(const hitl_relations *r, size_t n_spans,
                                 char *const *labels, size_t n_labels, size_t *bad) {
  for (size_t i = 0; i < r->n; i++) {
    const hitl_relation *x = &r->v[i];
    *bad = i;
    if (x->from >= n_spans || x->to >= n_spans)
      return "from and to must be indexes into the spans answer given in the same body";
    if (x->from == x->to) return "a relation links two different spans: from and to differ";
    bool known = false;
    for (size_t l = 0; l < n_labels && !known; l++) known = strcmp(labels[l], x->label) == 0;
    if (!known) return "the label is not one of the question's labels";
    for (size_t j = 0; j < i; j++)
      if (r->v[j].from == x->from && r->v[j].to == x->to && strcmp(r->v[j].label, x->label) == 0)
        return "the same link is given twice";
  }
  return NULL;
}

static bool same_span(const hitl_span *a, const hitl_span *b) {
  return a->start == b->start && a->end == b->end && strcmp(a->label, b->label) == 0;
}

/* True when relation x of (r, s) resolves to the same link as relation y of (r2, s2). */
static bool same_link(const hitl_relation *x, const hitl_spans *s, const hitl_relation *y,
                      const hitl_spans *s2) {
  return strcmp(x->label, y->label) == 0 && same_span(&s->v[x->from], &s2->v[y->from]) &&
         same_span(&s->v[x->to], &s2->v[y->to]);
}

static bool in_range(const hitl_relations *r, const hitl_spans *s) {
  for (size_t i = 0; i < r->n; i++)
    if (r->v[i].from >= s->n || r->v[i].to >= s->n) return false;
  return true;
}

bool hitl_relations_same(const hitl_relations *ra, const hitl_spans *sa,
                         const hitl_relations *rb, const hitl_spans *sb) {
  if (ra->n != rb->n || !in_range(ra, sa) || !in_range(rb, sb)) return false;
  /* Both are sets (no link twice, hitl_relations_check), so inclusion one way is equality. */
  for (size_t i = 0; i < ra->n; i++) {
    bool found = false;
    for (size_t j = 0; j < rb->n && !found; j++) found = same_link(&ra->v[i], sa, &rb->v[j], sb);
    if (!found) return false;
  }
  return true;
}

static bool find_span(const hitl_spans *in, const hitl_span *s, size_t *at) {
  for (size_t i = 0; i < in->n; i++)
    if (same_span(&in->v[i], s)) {
      *at = i;
      return true;
    }
  return false;
}

bool hitl_relations_reindex(hitl_relations *r, const hitl_spans *from, const hitl_spans *to) {
  if (!in_range(r, from)) return false;
  size_t *idx = hitl_xcalloc(r->n ? 2 * r->n : 1, sizeof *idx);
  bool ok = true;
  for (size_t i = 0; i < r->n && ok; i++)
    ok = find_span(to, &from->v[r->v[i].from], &idx[2 * i]) &&
         find_span(to, &from->v[r->v[i].to], &idx[2 * i + 1]);
  for (size_t i = 0; i < r->n && ok; i++) {
    r->v[i].from = idx[2 * i];
    r->v[i].to = idx[2 * i + 1];
  }
  free(idx);
  return ok;
}

char *hitl_boxes_json(const hitl_boxes *b) {
  hitl_buf out = HITL_BUF_INIT;
  hitl_buf_puts(&out, "{\"boxes\":[");
  for (size_t i = 0; i < b->n; i++) {
    const hitl_box *x = &b->v[i];
    hitl_buf_puts(&out, i ? ",{\"height\":" : "{\"height\":");
    hitl_buf_double(&out, x->height);
    hitl_buf_puts(&out, ",\"label\":");
    hitl_buf_json_cstr(&out, x->label);
    hitl_buf_puts(&out, ",\"width\":");
    hitl_buf_double(&out, x->width);
    hitl_buf_puts(&out, ",\"x\":");
    hitl_buf_double(&out, x->x);
    hitl_buf_puts(&out, ",\"y\":");
    hitl_buf_double(&out, x->y);
    hitl_buf_putc(&out, '}');
  }
  hitl_buf_puts(&out, "],\"image_height\":");
  hitl_buf_double(&out, b->image_height);
  hitl_buf_puts(&out, ",\"image_width\":");
  hitl_buf_double(&out, b->image_width);
  hitl_buf_putc(&out, '}');
  return hitl_buf_detach(&out);
}

char *hitl_relations_json(const hitl_relations *r) {
  hitl_buf out = HITL_BUF_INIT;
  hitl_buf_putc(&out, '[');
  for (size_t i = 0; i < r->n; i++) {
    hitl_buf_printf(&out, "%s{\"from\":%zu,\"label\":", i ? "," : "", r->v[i].from);
    hitl_buf_json_cstr(&out, r->v[i].label);
    hitl_buf_printf(&out, ",\"to\":%zu}", r->v[i].to);
  }
  hitl_buf_putc(&out, ']');
  return hitl_buf_detach(&out);
}
