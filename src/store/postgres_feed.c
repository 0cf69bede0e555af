/* SPDX-License-Identifier: MIT */
/* The PostgreSQL backend's change feed: NOTIFY in the writer's transaction, LISTEN elsewhere. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres.h"
#include "util/log.h"
#include "util/xmalloc.h"

int hitl__pg_changes_publish(hitl_store *store, const char *text) {
  if (strlen(text) > HITL_CHANGES_MAX) return HITL_EVALIDATION;
  hitl__pg_params p = {0};
  hitl__pg_text(&p, text, 0);
  return hitl__pg_write((hitl__pg *)store, HITL__PG_CHANGES_PUBLISH, &p, false, "changes_publish");
}

/* Moves the notifications libpq has read into *texts. */
static void take_notifications(hitl__pg *s, char ***texts, size_t *n, size_t *cap) {
  PGnotify *note;
  while ((note = PQnotifies(s->conn)) != NULL) {
    if (*n == *cap) {
      *cap = *cap ? *cap * 2 : 8;
      *texts = hitl_xrealloc(*texts, *cap * sizeof **texts);
    }
    (*texts)[(*n)++] = hitl_xstrdup(note->extra);
    PQfreemem(note);
  }
}

int hitl__pg_changes_wait(hitl_store *store, int timeout_ms, char ***texts, size_t *n) {
  hitl__pg *s = (hitl__pg *)store;
  *texts = NULL;
  *n = 0;
  size_t cap = 0;
  if (PQstatus(s->conn) != CONNECTION_OK) {
    /* Reconnect through a statement (ensure_connected runs before every one). */
    int64_t ignored = 0;
    int rc = hitl__pg_event_last(store, &ignored, (uint8_t[HITL_HASH_LEN]){0});
    if (rc) return rc;
  }
  if (!s->listening) {
    PGresult *r = PQexec(s->conn, "LISTEN hitl_changes");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
      hitl_log(HITL_LOG_ERROR, "store=postgres op=changes_wait message=\"%s\"",
               PQerrorMessage(s->conn));
      return HITL_ESTORE;
    }
    s->listening = true;
    if (s->listened) return HITL_ERETRY; /* A new connection: what came meanwhile is lost. */
    s->listened = true;
  }
  /* Notifications may already be buffered (read along with an earlier result). */
  if (PQconsumeInput(s->conn) == 0) return HITL_ESTORE;
  take_notifications(s, texts, n, &cap);
  if (*n > 0 || timeout_ms <= 0) return 0;
  struct pollfd pfd = {.fd = PQsocket(s->conn), .events = POLLIN};
  if (poll(&pfd, 1, timeout_ms) > 0) {
    if (PQconsumeInput(s->conn) == 0) return HITL_ESTORE;
    take_notifications(s, texts, n, &cap);
  }
  return 0;
}
