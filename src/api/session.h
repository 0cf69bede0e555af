/* SPDX-License-Identifier: MIT */
/* Browser sessions: an HttpOnly cookie stands for a signed-in token, with a CSRF secret. */
#ifndef HITL_API_SESSION_H
#define HITL_API_SESSION_H

#include "api/http.h"

#define HITL_SESSION_COOKIE "hitl_session"
#define HITL_SESSION_SECONDS (12 * 3600)
#define HITL_SESSION_SECRET_LEN 64 /* Buffer size of a session id or CSRF secret. */

typedef struct hitl_sessions hitl_sessions;

hitl_sessions *hitl__sessions_new(void);
void hitl__sessions_free(hitl_sessions *s);
/* Opens a session for who; writes its cookie value (sid) and its CSRF secret. */
void hitl__session_create(hitl_sessions *s, const hitl_principal *who,
                          char sid[HITL_SESSION_SECRET_LEN], char csrf[HITL_SESSION_SECRET_LEN]);
/* Finds the live session of sid: fills *who and csrf and returns 0; HITL_EUNAUTHORIZED when
 * unknown or expired. */
int hitl__session_find(hitl_sessions *s, const char *sid, hitl_principal *who,
                       char csrf[HITL_SESSION_SECRET_LEN]);
/* Ends every session signed in with the token named name (it was revoked). */
void hitl__sessions_end_for(hitl_sessions *s, const char *name);
/* Forgets the session of sid (no-op when unknown). */
void hitl__session_delete(hitl_sessions *s, const char *sid);

#endif
