/* SPDX-License-Identifier: MIT */
/* What the calibration files of api/ share: a queue's in-memory state and the set of them
 * (api/calib.h is the interface the rest of the server uses). */
#ifndef HITL_API_CALIB_INTERNAL_H
#define HITL_API_CALIB_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/calib.h"
#include "core/calib_evidence.h"
#include "core/calibration.h"
#include "core/conformal.h"

#define HITL__CALIB_LOAD_PAGE 5000 /* Evidence rows read at a time when a state is rebuilt. */
#define HITL__CALIB_MAX_CLASSES 1000 /* Probabilities a task may give for a prediction set. */
/* Verified pairs between two snapshots of a queue's calibration state by default: a start
 * replays at most about this many (some 30 ms at 5 us a pair), and a snapshot (some 15 KB of
 * text) costs about 3 bytes a pair. */
#define HITL__CALIB_SNAPSHOT_EVERY 5000

/* One queue's state. Entries live until the set is freed. */
typedef struct hitl_calib_entry {
  int64_t queue_id;
  pthread_mutex_t lock;     /* Guards everything below but undo*. */
  hitl_calibration *cal;    /* NULL: the queue's policy has no calibrated leaf. */
  hitl_calib_params params;
  bool certified;           /* Whether a certificate was in force after the last add. */
  int64_t last_seq;         /* decided_seq of the newest pair added. */
  hitl_conformal *conf;     /* NULL: no conformal prediction sets. */
  int conf_kind;            /* Its hitl_conformal_score and coverage. */
  double conf_coverage;
  int64_t since_snapshot;   /* Pairs added to cal since its last stored snapshot. */
  bool saved;               /* Writer only: the open transaction changed the entry, and */
  double *undo;             /* the calibration state before its adds (NULL without one). */
  bool undo_certified;
  int64_t undo_last_seq, undo_since_snapshot;
} hitl_calib_entry;

struct hitl_calib_set {
  unsigned snapshot_every;  /* Pairs between snapshots of a queue's calibration state. */
  pthread_mutex_t lock;     /* Guards the entries array; entries live until the set is freed. */
  hitl_calib_entry **entries;
  size_t n, cap;
  hitl_calib_entry **pending; /* Writer only: entries with an undo snapshot. */
  size_t n_pending, cap_pending;
  struct hitl_calib_conf_add { /* Writer only: conformal scores to add once the transaction */
    hitl_calib_entry *e;       /* commits. */
    double score;
  } *conf_adds;
  size_t n_conf_adds, cap_conf_adds;
  /* The writer's lanes (api/commit.h) add to these while they run their transactions' jobs,
   * side by side: each entry names its lane, and a lane's precommit takes its own. */
  pthread_mutex_t lanes_lock; /* Guards gained and notes. */
  struct hitl_calib_gained {  /* Queues that started keeping evidence in an open (or a */
    int64_t queue_id;         /* failed) transaction, until its precommit. */
    int lane;
  } *gained;
  size_t n_gained, cap_gained;
  struct hitl_calib_note *notes; /* Tasks submitted in open transactions, counted in the */
  size_t n_notes, cap_notes;     /* tallies by their precommit (calib_tally.c). */
};

/* What a submitted task adds to its queue's tallies (api/calib.h's kinds). */
typedef struct hitl_calib_note {
  char task_id[HITL_ID_LEN];
  int64_t queue_id;
  bool routed, accepted; /* HITL__TALLY_ROUTED and ACCEPTED. */
  int set_kind;          /* HITL__TALLY_NO_SET or SET + size; -1: none. */
  bool counted;          /* Matched with its submission in this transaction. */
  int lane;              /* The writer lane whose transaction submitted it (hitl_txn.lane). */
} hitl_calib_note;

/* Adds the notes whose tasks this transaction submitted to their queues' tallies (one write per
 * queue and kind) and forgets every note of its lane. Returns 0 or a store error. */
int hitl__calib_tally_flush(hitl_calib_set *c, hitl_txn *x);

/* The entry of the queue, made when create; NULL when there is none. Thread-safe. */
hitl_calib_entry *hitl__calib_entry(hitl_calib_set *c, int64_t queue_id, bool create);

/* The largest of a probabilities object, NaN when it is not one or is empty. */
double hitl__calib_max_probability(const json_t *probs);

/* The verified pair's verdict and conformal scores from a decided task: sets row->correct (1,
 * 0) and row->lac / row->aps (NaN when the decision chose no label or the payload has no
 * probabilities). Returns false, row->correct untouched, when the decision says nothing about
 * the model. decision and payload are the task's JSON (payload may be NULL). */
bool hitl__calib_judge(const hitl_queue_config *q, const json_t *decision, const json_t *payload,
                       hitl_calib_row *row);

/* Appends "key":value for n numbers, comma-separated (no braces). */
void hitl__calib_put_numbers(hitl_buf *b, const char *const *keys, const double *values, size_t n);

#endif
