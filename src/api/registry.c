/* SPDX-License-Identifier: MIT */
/* Registry of live queues: name -> current configuration, and counts kept from commits. */
#include "api/registry.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/lifecycle.h"
#include "util/xmalloc.h"

typedef struct entry {
  hitl_queue_ref *current;
  hitl_queue_counts counts;
} entry;

struct hitl_registry {
  pthread_mutex_t lock;
  entry *entries; /* Sorted by name; few queues, so arrays beat hash tables here. */
  size_t n, cap;
};

hitl_registry *hitl__registry_new(void) {
  hitl_registry *r = hitl_xcalloc(1, sizeof *r);
  pthread_mutex_init(&r->lock, NULL);
  return r;
}

static void ref_free(hitl_queue_ref *q) {
  hitl_queue_config_free(q->config);
  free(q->name);
  free(q);
}

void hitl__queue_ref_release(hitl_queue_ref *q) {
  if (q && __atomic_sub_fetch(&q->refs, 1, __ATOMIC_ACQ_REL) == 0) ref_free(q);
}

void hitl__registry_free(hitl_registry *r) {
  if (r == NULL) return;
  for (size_t i = 0; i < r->n; i++) hitl__queue_ref_release(r->entries[i].current);
  free(r->entries);
  pthread_mutex_destroy(&r->lock);
  free(r);
}

/* Index of name, or of where it would go (then *found is false). Lock held. */
static size_t find(hitl_registry *r, const char *name, bool *found) {
  size_t lo = 0, hi = r->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(r->entries[mid].current->name, name);
    if (c == 0) {
      *found = true;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = false;
  return lo;
}

static entry *find_id(hitl_registry *r, int64_t id) {
  for (size_t i = 0; i < r->n; i++)
    if (r->entries[i].current->id == id) return &r->entries[i];
  return NULL;
}

hitl_queue_ref *hitl__registry_get(hitl_registry *r, const char *name) {
  bool found;
  hitl_queue_ref *q = NULL;
  pthread_mutex_lock(&r->lock);
  size_t i = find(r, name, &found);
  if (found) {
    q = r->entries[i].current;
    __atomic_add_fetch(&q->refs, 1, __ATOMIC_ACQ_REL);
  }
  pthread_mutex_unlock(&r->lock);
  return q;
}

hitl_queue_ref *hitl__registry_get_by_id(hitl_registry *r, int64_t id) {
  pthread_mutex_lock(&r->lock);
  entry *e = find_id(r, id);
  hitl_queue_ref *q = e ? e->current : NULL;
  if (q) __atomic_add_fetch(&q->refs, 1, __ATOMIC_ACQ_REL);
  pthread_mutex_unlock(&r->lock);
  return q;
}

const hitl_queue_config *hitl__registry_config_by_id(hitl_registry *r, int64_t id) {
  pthread_mutex_lock(&r->lock);
  entry *e = find_id(r, id);
  const hitl_queue_config *c = e ? e->current->config : NULL;
  pthread_mutex_unlock(&r->lock);
  return c;
}

void hitl__registry_put(hitl_registry *r, int64_t id, const char *name, hitl_queue_config *config,
                        int64_t created_at, int64_t updated_at, const hitl_queue_stats *stats) {
  hitl_queue_ref *q = hitl_xcalloc(1, sizeof *q);
  q->refs = 1;
  q->id = id;
  q->name = hitl_xstrdup(name);
  q->config = config;
  q->created_at = created_at;
  q->updated_at = updated_at;
  hitl_queue_ref *old = NULL;
  bool found;
  pthread_mutex_lock(&r->lock);
  size_t i = find(r, name, &found);
  if (found) {
    old = r->entries[i].current;
    r->entries[i].current = q;
  } else {
    if (r->n == r->cap) {
      r->cap = r->cap ? r->cap * 2 : 16;
      r->entries = hitl_xrealloc(r->entries, r->cap * sizeof *r->entries);
    }
    memmove(&r->entries[i + 1], &r->entries[i], (r->n - i) * sizeof *r->entries);
    memset(&r->entries[i], 0, sizeof r->entries[i]);
    r->entries[i].current = q;
    r->n++;
  }
  if (stats) {
    hitl_queue_counts *c = &r->entries[i].counts;
    memcpy(c->by_state, stats->by_state, sizeof c->by_state);
    c->decided_policy = stats->decided_policy;
    c->decided_human = stats->decided_human;
    c->decided_consensus = stats->decided_consensus;
    c->decided_sla = stats->decided_sla;
    c->submitted = 0;
    for (int s = 0; s < HITL_TASK_NSTATES; s++) c->submitted += stats->by_state[s];
  }
  pthread_mutex_unlock(&r->lock);
  hitl__queue_ref_release(old);
}

size_t hitl__registry_list(hitl_registry *r, hitl_queue_ref ***out) {
  pthread_mutex_lock(&r->lock);
  size_t n = r->n;
  hitl_queue_ref **list = hitl_xcalloc(n ? n : 1, sizeof *list);
  for (size_t i = 0; i < n; i++) {
    list[i] = r->entries[i].current;
    __atomic_add_fetch(&list[i]->refs, 1, __ATOMIC_ACQ_REL);
  }
  pthread_mutex_unlock(&r->lock);
  *out = list;
  return n;
}

void hitl__registry_counts(hitl_registry *r, int64_t id, hitl_queue_counts *out) {
  pthread_mutex_lock(&r->lock);
  entry *e = find_id(r, id);
  if (e)
    *out = e->counts;
  else
    memset(out, 0, sizeof *out);
  pthread_mutex_unlock(&r->lock);
}

void hitl__registry_apply(hitl_registry *r, const hitl_change *changes, size_t n) {
  pthread_mutex_lock(&r->lock);
  entry *e = NULL;
  for (size_t i = 0; i < n; i++) {
    const hitl_change *ch = &changes[i];
    if (ch->queue_id == 0 || ch->to_state < 0) continue;
    if (e == NULL || e->current->id != ch->queue_id) e = find_id(r, ch->queue_id);
    if (e == NULL) continue;
    hitl_queue_counts *c = &e->counts;
    if (ch->from_state >= 0)
      c->by_state[ch->from_state]--;
    else
      c->submitted++;
    c->by_state[ch->to_state]++;
    if (ch->decided_by) {
      if (strcmp(ch->decided_by, HITL_BY_POLICY) == 0) c->decided_policy++;
      else if (strcmp(ch->decided_by, HITL_BY_HUMAN) == 0) c->decided_human++;
      else if (strcmp(ch->decided_by, HITL_BY_CONSENSUS) == 0) c->decided_consensus++;
      else if (strcmp(ch->decided_by, HITL_BY_SLA) == 0) c->decided_sla++;
    }
  }
  pthread_mutex_unlock(&r->lock);
}
