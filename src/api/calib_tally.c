/* SPDX-License-Identifier: MIT */
/* Calibration's tallies for the view's last day: what each submitted task adds (routed by a
 * calibrated policy, accepted by it, the size of its prediction set), written once per
 * transaction, per queue and kind, when the transaction commits the submissions. */
#include "api/calib_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

/* The tally kind of a prediction set of this size (-1: none given). */
static int set_kind(int size) {
  int last = HITL__TALLY_KINDS - HITL__TALLY_SET - 1; /* Sizes from here on share a kind. */
  if (size < 0) return HITL__TALLY_NO_SET;
  return HITL__TALLY_SET + (size < last ? size : last);
}

void hitl__calib_note_submit(hitl_calib_set *c, int lane, const char *task_id, int64_t queue_id,
                             bool calib_on, bool accepted, int set_size) {
  if (!calib_on && set_size < -1) return;
  pthread_mutex_lock(&c->lanes_lock);
  if (c->n_notes == c->cap_notes) {
    c->cap_notes = c->cap_notes ? 2 * c->cap_notes : 64;
    c->notes = hitl_xrealloc(c->notes, c->cap_notes * sizeof *c->notes);
  }
  hitl_calib_note *n = &c->notes[c->n_notes++];
  memset(n, 0, sizeof *n);
  snprintf(n->task_id, sizeof n->task_id, "%s", task_id);
  n->queue_id = queue_id;
  n->routed = calib_on;
  n->accepted = calib_on && accepted;
  n->set_kind = set_size < -1 ? -1 : set_kind(set_size);
  n->lane = lane;
  pthread_mutex_unlock(&c->lanes_lock);
}

/* Takes the notes of the lane out of the set into *out (n of them; the caller frees *out). */
static hitl_calib_note *take_notes(hitl_calib_set *c, int lane, size_t *n) {
  pthread_mutex_lock(&c->lanes_lock);
  hitl_calib_note *mine = NULL;
  size_t kept = 0;
  *n = 0;
  for (size_t i = 0; i < c->n_notes; i++) {
    if (c->notes[i].lane != lane) {
      c->notes[kept++] = c->notes[i];
      continue;
    }
    if (mine == NULL) mine = hitl_xmalloc((c->n_notes - i) * sizeof *mine);
    mine[(*n)++] = c->notes[i];
  }
  c->n_notes = kept;
  pthread_mutex_unlock(&c->lanes_lock);
  return mine;
}

static int by_task(const void *a, const void *b) {
  return strcmp(((const hitl_calib_note *)a)->task_id, ((const hitl_calib_note *)b)->task_id);
}

/* One queue's sums in this transaction. */
typedef struct queue_sums {
  int64_t queue_id;
  int64_t n[HITL__TALLY_KINDS];
} queue_sums;

int hitl__calib_tally_flush(hitl_calib_set *c, hitl_txn *x) {
  size_t n_notes = 0;
  hitl_calib_note *notes = take_notes(c, x->lane, &n_notes);
  if (n_notes == 0) return 0;
  qsort(notes, n_notes, sizeof *notes, by_task);
  queue_sums *sums = NULL;
  size_t n_sums = 0, cap = 0;
  /* A note counts when this transaction submitted its task (the change that made it); notes of
   * an undone job or an earlier try of the transaction match nothing, or a counted copy. */
  for (size_t i = 0; i < x->chain->n_changes; i++) {
    const hitl_change *ch = &x->chain->changes[i];
    if (ch->from_state >= 0 || ch->to_state < 0 || !ch->task_id[0]) continue;
    hitl_calib_note key;
    memcpy(key.task_id, ch->task_id, sizeof key.task_id);
    hitl_calib_note *n = bsearch(&key, notes, n_notes, sizeof key, by_task);
    /* Copies of a note sit together; take the first not counted yet. */
    while (n && n > notes && strcmp(n[-1].task_id, key.task_id) == 0) n--;
    while (n && n < notes + n_notes && strcmp(n->task_id, key.task_id) == 0 && n->counted)
      n++;
    if (n == NULL || n == notes + n_notes || strcmp(n->task_id, key.task_id) != 0) continue;
    n->counted = true;
    size_t q = 0;
    while (q < n_sums && sums[q].queue_id != n->queue_id) q++;
    if (q == n_sums) {
      if (n_sums == cap) {
        cap = cap ? 2 * cap : 4;
        sums = hitl_xrealloc(sums, cap * sizeof *sums);
      }
      memset(&sums[q], 0, sizeof sums[q]);
      sums[n_sums++].queue_id = n->queue_id;
    }
    sums[q].n[HITL__TALLY_ROUTED] += n->routed;
    sums[q].n[HITL__TALLY_ACCEPTED] += n->accepted;
    if (n->set_kind >= 0) sums[q].n[n->set_kind]++;
  }
  free(notes);
  int rc = 0;
  int64_t hour = hitl_calib_hour(x->now);
  for (size_t q = 0; q < n_sums && rc == 0; q++)
    for (int k = 0; k < HITL__TALLY_KINDS && rc == 0; k++)
      if (sums[q].n[k]) rc = x->store->vt->calib_tally_add(x->store, sums[q].queue_id, hour, k,
                                                          sums[q].n[k]);
  free(sums);
  return rc;
}
