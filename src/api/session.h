/* SPDX-License-Identifier: MIT */
/* Browser sessions: an HttpOnly cookie stands for a signed-in token, with a CSRF secret. */
#ifndef HITL_API_SESSION_H
#define HITL_API_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/http.h"

#define HITL_SESSION_COOKIE "hitl_session"
#define HITL_SESSION_SECONDS (12 * 3600)
#define HITL_SESSION_SECRET_LEN 64 /* Buffer size of a session id or CSRF secret. */

#define HITL_SESSIONS_PER_TOKEN 20 /* A token's 21st session ends its oldest. */
#define HITL_SESSIONS_MAX 10000     /* The 10,001st session ends the oldest of all. */

typedef struct hitl_sessions hitl_sessions;

/* A session table with the default bounds (HITL_SESSIONS_PER_TOKEN, HITL_SESSIONS_MAX). */
hitl_sessions *hitl__sessions_new(void);
/* A session table holding at most per_token sessions of one token and max_total in all; a new
 * session past either bound ends the oldest one it counts against. */
hitl_sessions *hitl__sessions_new_bounded(size_t per_token, size_t max_total);
/* Frees the table and every session in it. NULL is a no-op. */
void hitl__sessions_free(hitl_sessions *s);
/* The revocation generation: read it before checking the token a session will stand for, and
 * give it to hitl__session_create. */
uint64_t hitl__sessions_generation(hitl_sessions *s);
/* Opens a session for who; writes its cookie value (sid) and its CSRF secret, and returns 0.
 * Returns HITL_ECONFLICT (nothing opened) when a revocation happened since generation was read:
 * check the token again, then retry. Ends older sessions past the bounds. */
int hitl__session_create(hitl_sessions *s, const hitl_principal *who, uint64_t generation,
                         char sid[HITL_SESSION_SECRET_LEN], char csrf[HITL_SESSION_SECRET_LEN]);
/* Finds the live session of sid (by index, constant time in the number of sessions): fills
 * *who and csrf and returns 0; HITL_EUNAUTHORIZED when unknown or expired. */
int hitl__session_find(hitl_sessions *s, const char *sid, hitl_principal *who,
                       char csrf[HITL_SESSION_SECRET_LEN]);
/* Ends every session signed in with the token named name (it was revoked), and bumps the
 * revocation generation so that no sign-in that checked the token before stays open. */
void hitl__sessions_end_for(hitl_sessions *s, const char *name);
/* Forgets the session of sid (no-op when unknown). */
void hitl__session_delete(hitl_sessions *s, const char *sid);
/* How many sessions the table holds (expired ones not yet swept included). */
size_t hitl__sessions_count(hitl_sessions *s);
/* How many stored sessions look-ups have compared so far: tests check that a look-up costs a
 * few comparisons, not one per session. */
uint64_t hitl__sessions_probes(hitl_sessions *s);

/* True when the credentials req came with still stand for the principal it was let in as: a
 * session cookie whose session lives, or a bearer token that is not revoked. Long waits (event
 * streams, long-polls) ask again each time they wake. */
bool hitl__principal_recheck(hitl_request *req);

#endif
