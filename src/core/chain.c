/* SPDX-License-Identifier: MIT */
/* Event hash chain: each event's BLAKE2b hash covers its content and the previous hash. */
#include "core/chain.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

void hitl_chain_init(hitl_chain *c) { memset(c, 0, sizeof *c); }

void hitl_chain_free(hitl_chain *c) {
  free(c->changes);
  free(c->held);
  hitl_buf_free(&c->arena);
  memset(c, 0, sizeof *c);
}

void hitl_chain_defer(hitl_chain *c, bool on) { c->defer = on; }

static void put_u64(crypto_generichash_state *st, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
  crypto_generichash_update(st, b, sizeof b);
}

static void put_str(crypto_generichash_state *st, const char *s) {
  if (s == NULL) {
    put_u64(st, UINT64_MAX); /* NULL differs from "". */
    return;
  }
  size_t n = strlen(s);
  put_u64(st, n);
  crypto_generichash_update(st, (const uint8_t *)s, n);
}

void hitl_event_hash(const hitl_event *e, uint8_t out[HITL_HASH_LEN]) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, HITL_HASH_LEN);
  crypto_generichash_update(&st, e->prev_hash, HITL_HASH_LEN);
  put_u64(&st, (uint64_t)e->seq);
  put_u64(&st, (uint64_t)e->at);
  put_str(&st, e->type);
  put_str(&st, e->queue);
  put_str(&st, e->task_id);
  put_str(&st, e->actor);
  put_str(&st, e->data);
  crypto_generichash_final(&st, out, HITL_HASH_LEN);
}

/* Stores e (its seq and prev_hash set) with its hash, and makes it the last link. */
static int store_event(hitl_chain *c, hitl_store *s, hitl_event *e) {
  memcpy(e->prev_hash, c->last_hash, HITL_HASH_LEN);
  hitl_event_hash(e, e->hash);
  int rc = s->vt->event_insert(s, e);
  if (rc) return rc;
  c->last_seq = e->seq;
  memcpy(c->last_hash, e->hash, HITL_HASH_LEN);
  return 0;
}

/* The head comes from the store, locked, at the first event of each transaction (or at the
 * link): another writer (a second node on PostgreSQL) may have moved it since our last commit,
 * so a cached head would fork the chain. Later events of the transaction follow on from ours. */
static int load_head(hitl_chain *c, hitl_store *s) {
  int rc = s->vt->event_head(s, &c->last_seq, c->last_hash);
  if (rc) return rc;
  c->loaded = true;
  c->op_seq = c->last_seq;
  memcpy(c->op_hash, c->last_hash, HITL_HASH_LEN);
  return 0;
}

/* Keeps str in the arena; returns its offset, SIZE_MAX for NULL. */
static size_t keep(hitl_chain *c, const char *str) {
  if (str == NULL) return SIZE_MAX;
  size_t at = c->arena.len;
  hitl_buf_append(&c->arena, str, strlen(str) + 1);
  return at;
}

static char *kept(hitl_chain *c, size_t at) { return at == SIZE_MAX ? NULL : c->arena.data + at; }

int hitl_chain_append(hitl_chain *c, hitl_store *s, int64_t now, const hitl_event_spec *spec) {
  const char *data = spec->data ? spec->data : "{}";
  int64_t seq = 0;
  if (c->defer && !c->loaded) {
    if (c->n_held == c->cap_held) {
      c->cap_held = c->cap_held ? c->cap_held * 2 : 64;
      c->held = hitl_xrealloc(c->held, c->cap_held * sizeof *c->held);
    }
    c->held[c->n_held++] = (hitl_chain_held){.at = now, .queue = keep(c, spec->queue),
                                             .task_id = keep(c, spec->task_id),
                                             .actor = keep(c, spec->actor), .data = keep(c, data)};
  } else {
    if (!c->loaded) {
      int rc = load_head(c, s);
      if (rc) return rc;
    }
    hitl_event e = {
        .seq = c->last_seq + 1,
        .at = now,
        .type = (char *)spec->type,
        .queue = (char *)spec->queue,
        .task_id = (char *)spec->task_id,
        .actor = (char *)spec->actor,
        .data = (char *)data,
    };
    int rc = store_event(c, s, &e);
    if (rc) return rc;
    seq = e.seq;
  }

  if (c->n_changes == c->cap_changes) {
    c->cap_changes = c->cap_changes ? c->cap_changes * 2 : 64;
    c->changes = hitl_xrealloc(c->changes, c->cap_changes * sizeof *c->changes);
  }
  hitl_change *ch = &c->changes[c->n_changes++];
  memset(ch, 0, sizeof *ch);
  ch->seq = seq;
  ch->type = spec->type;
  ch->queue_id = spec->queue_id;
  if (spec->task_id) snprintf(ch->task_id, sizeof ch->task_id, "%s", spec->task_id);
  ch->from_state = spec->from_state;
  ch->to_state = spec->to_state;
  ch->decided_by = spec->decided_by;
  if (spec->run_id) snprintf(ch->run_id, sizeof ch->run_id, "%s", spec->run_id);
  return 0;
}

int hitl_chain_link(hitl_chain *c, hitl_store *s) {
  if (c->n_held == 0) return 0;
  int rc = load_head(c, s);
  for (size_t i = 0; i < c->n_held && rc == 0; i++) {
    const hitl_chain_held *h = &c->held[i];
    hitl_event e = {
        .seq = c->last_seq + 1,
        .at = h->at,
        .type = (char *)c->changes[i].type,
        .queue = kept(c, h->queue),
        .task_id = kept(c, h->task_id),
        .actor = kept(c, h->actor),
        .data = kept(c, h->data),
    };
    rc = store_event(c, s, &e);
    if (rc == 0) c->changes[i].seq = e.seq;
  }
  c->n_held = 0;
  hitl_buf_reset(&c->arena);
  c->op_mark = c->n_changes; /* What is linked is no operation's to undo. */
  c->op_seq = c->last_seq;
  memcpy(c->op_hash, c->last_hash, HITL_HASH_LEN);
  c->op_loaded = true;
  c->op_arena = 0;
  return rc;
}

void hitl_chain_op_begin(hitl_chain *c) {
  c->op_mark = c->n_changes;
  c->op_arena = c->arena.len;
  c->op_loaded = c->loaded;
  c->op_seq = c->last_seq;
  memcpy(c->op_hash, c->last_hash, HITL_HASH_LEN);
}

void hitl_chain_op_abort(hitl_chain *c) {
  c->n_changes = c->op_mark;
  if (c->n_held > c->op_mark) c->n_held = c->op_mark; /* Held events are changes[0..n_held). */
  c->arena.len = c->op_arena;
  /* Undoing the operation also undoes the lock it took on the head (a savepoint's locks go with
   * it on PostgreSQL): read it again, locked, at the next event. */
  if (!c->op_loaded) c->loaded = false;
  c->last_seq = c->op_seq;
  memcpy(c->last_hash, c->op_hash, HITL_HASH_LEN);
}

/* Forgets the held events of a transaction that ended. */
static void drop_held(hitl_chain *c) {
  c->n_held = 0;
  c->op_arena = 0;
  hitl_buf_reset(&c->arena);
}

void hitl_chain_committed(hitl_chain *c) {
  drop_held(c);
  c->n_changes = 0;
  c->op_mark = 0;
  c->loaded = false; /* The lock on the head ended with the transaction. */
}

void hitl_chain_rolled_back(hitl_chain *c) {
  drop_held(c);
  c->n_changes = 0;
  c->op_mark = 0;
  c->loaded = false;
}

int hitl_chain_verify(hitl_store *s, hitl_chain_report *report) {
  memset(report, 0, sizeof *report);
  uint8_t prev[HITL_HASH_LEN] = {0};
  int64_t after = 0;
  for (;;) {
    hitl_event *evs = NULL;
    size_t n = 0;
    int rc = s->vt->event_list(s, after, 1000, &evs, &n);
    if (rc) return rc;
    for (size_t i = 0; i < n && report->broken_seq == 0; i++) {
      hitl_event *e = &evs[i];
      uint8_t h[HITL_HASH_LEN];
      if (e->seq != after + 1) {
        report->broken_seq = after + 1;
        snprintf(report->reason, sizeof report->reason, "event %lld is missing (next is %lld)",
                 (long long)(after + 1), (long long)e->seq);
      } else if (sodium_memcmp(e->prev_hash, prev, HITL_HASH_LEN) != 0) {
        report->broken_seq = e->seq;
        snprintf(report->reason, sizeof report->reason,
                 "prev_hash does not match the hash of event %lld", (long long)(e->seq - 1));
      } else {
        hitl_event_hash(e, h);
        if (sodium_memcmp(h, e->hash, HITL_HASH_LEN) != 0) {
          report->broken_seq = e->seq;
          snprintf(report->reason, sizeof report->reason,
                   "content does not match its hash (the event was altered)");
        }
      }
      memcpy(prev, e->hash, HITL_HASH_LEN);
      after = e->seq;
      report->events++;
    }
    for (size_t i = 0; i < n; i++) hitl_event_clear(&evs[i]);
    free(evs);
    if (n == 0 || report->broken_seq) return 0;
  }
}
