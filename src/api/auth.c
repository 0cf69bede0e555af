/* SPDX-License-Identifier: MIT */
/* Token checks with a small cache of known token hashes, so most requests touch no database. */
#include "api/auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/id.h"
#include "util/xmalloc.h"

#define CACHE_SLOTS 4096

const char *const hitl_role_names[] = {"annotator", "validator", "corrector", "arbiter",
                                       "labeler",   "orchestrator", "agent"};
const size_t hitl_n_role_names = sizeof hitl_role_names / sizeof *hitl_role_names;

bool hitl__role_known(const char *name) {
  for (size_t i = 0; i < hitl_n_role_names; i++)
    if (strcmp(name, hitl_role_names[i]) == 0) return true;
  return false;
}

typedef struct slot {
  bool used;
  uint8_t hash[HITL_HASH_LEN];
  hitl_principal who;
} slot;

struct hitl_auth {
  bool has_admin;
  uint8_t admin_hash[HITL_HASH_LEN];
  pthread_mutex_t lock;
  slot *cache;         /* Direct-mapped by the first bytes of the hash. */
  uint64_t generation; /* Bumped by hitl__auth_forget; a look-up caches only if unchanged. */
};

hitl_auth *hitl__auth_new(const char *admin_token) {
  hitl_auth *a = hitl_xcalloc(1, sizeof *a);
  if (admin_token && *admin_token) {
    a->has_admin = true;
    hitl_hash(admin_token, strlen(admin_token), a->admin_hash);
  }
  pthread_mutex_init(&a->lock, NULL);
  a->cache = hitl_xcalloc(CACHE_SLOTS, sizeof *a->cache);
  return a;
}

void hitl__auth_free(hitl_auth *a) {
  if (a == NULL) return;
  pthread_mutex_destroy(&a->lock);
  free(a->cache);
  free(a);
}

void hitl__principal_set(hitl_principal *who, const char *name, const char *roles_csv) {
  memset(who, 0, sizeof *who);
  snprintf(who->name, sizeof who->name, "%s", name);
  const char *p = roles_csv ? roles_csv : "";
  while (*p && who->n_roles < HITL_MAX_ROLES) {
    size_t len = strcspn(p, ",");
    if (len > 0 && len < sizeof who->role_buf[0]) {
      char *dst = who->role_buf[who->n_roles];
      memcpy(dst, p, len);
      dst[len] = '\0';
      who->roles[who->n_roles++] = dst;
      if (strcmp(dst, "orchestrator") == 0) who->orchestrator = true;
    }
    p += len;
    if (*p == ',') p++;
  }
}

int hitl__auth_check(hitl_auth *a, hitl_store *reader, const char *authorization,
                     hitl_principal *who, hitl_err *err) {
  if (authorization == NULL)
    return hitl_err_set(err, HITL_EUNAUTHORIZED, NULL,
                        "missing Authorization header: send \"Authorization: Bearer TOKEN\"");
  if (strncasecmp(authorization, "Bearer ", 7) != 0)
    return hitl_err_set(err, HITL_EUNAUTHORIZED, NULL,
                        "the Authorization header must be \"Bearer TOKEN\"");
  const char *secret = authorization + 7;
  while (*secret == ' ') secret++;
  size_t len = strlen(secret);
  if (len == 0 || len > 256)
    return hitl_err_set(err, HITL_EUNAUTHORIZED, NULL, "the bearer token is empty or too long");
  uint8_t h[HITL_HASH_LEN];
  hitl_hash(secret, len, h);
  if (a->has_admin && sodium_memcmp(h, a->admin_hash, HITL_HASH_LEN) == 0) {
    hitl__principal_set(who, "admin", "orchestrator");
    return 0;
  }
  size_t idx = ((size_t)h[0] | (size_t)h[1] << 8) % CACHE_SLOTS;
  pthread_mutex_lock(&a->lock);
  slot *s = &a->cache[idx];
  bool hit = s->used && memcmp(s->hash, h, HITL_HASH_LEN) == 0;
  if (hit) *who = s->who;
  pthread_mutex_unlock(&a->lock);
  if (hit) {
    /* Role pointers point into the cached copy's buffers: repoint them into ours. */
    for (size_t i = 0; i < who->n_roles; i++) who->roles[i] = who->role_buf[i];
    return 0;
  }
  pthread_mutex_lock(&a->lock);
  uint64_t generation = a->generation;
  pthread_mutex_unlock(&a->lock);
  hitl_token_row row = {0};
  int rc = reader->vt->token_find(reader, h, &row);
  if (rc == HITL_ENOT_FOUND || (rc == 0 && row.revoked)) {
    hitl_token_row_clear(&row);
    return hitl_err_set(err, HITL_EUNAUTHORIZED, NULL, "unknown or revoked token");
  }
  if (rc) return hitl_err_set(err, HITL_EUNAVAILABLE, NULL, "could not check the token");
  hitl__principal_set(who, row.name, row.roles);
  hitl_token_row_clear(&row);
  pthread_mutex_lock(&a->lock);
  if (a->generation == generation) { /* No revocation since the read: safe to remember. */
    s->used = true;
    memcpy(s->hash, h, HITL_HASH_LEN);
    s->who = *who;
  }
  pthread_mutex_unlock(&a->lock);
  return 0;
}

void hitl__auth_forget(hitl_auth *a, const char *name) {
  pthread_mutex_lock(&a->lock);
  a->generation++;
  for (size_t i = 0; i < CACHE_SLOTS; i++)
    if (a->cache[i].used && (name == NULL || strcmp(a->cache[i].who.name, name) == 0))
      a->cache[i].used = false;
  pthread_mutex_unlock(&a->lock);
}
