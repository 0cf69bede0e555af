/* SPDX-License-Identifier: MIT */
/* Bearer-token authentication: tokens are known by the BLAKE2b hash of their secret only. */
#ifndef HITL_API_AUTH_H
#define HITL_API_AUTH_H

#include <stdbool.h>

#include "api/http.h"
#include "store/store.h"

typedef struct hitl_auth hitl_auth;

/* The role names a token can hold. */
extern const char *const hitl_role_names[];
extern const size_t hitl_n_role_names;
/* True when name is one of hitl_role_names. */
bool hitl__role_known(const char *name);

/* admin_token (may be NULL) becomes an orchestrator named "admin". */
hitl_auth *hitl__auth_new(const char *admin_token);
void hitl__auth_free(hitl_auth *a);
/* Finds the token in an "Authorization" header value ("Bearer SECRET") through the cache or
 * the store, and fills *who. Returns 0 or HITL_EUNAUTHORIZED (message in err). */
int hitl__auth_check(hitl_auth *a, hitl_store *reader, const char *authorization,
                     hitl_principal *who, hitl_err *err);
/* Forgets what the cache knows of the token named name (after it was revoked; NULL: of every
 * token), and makes sure no look-up that started before this call caches it again. */
void hitl__auth_forget(hitl_auth *a, const char *name);
/* Fills who from a name and comma-separated roles. */
void hitl__principal_set(hitl_principal *who, const char *name, const char *roles_csv);

#endif
