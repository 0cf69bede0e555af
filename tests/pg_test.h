/* SPDX-License-Identifier: MIT */
/* Tests against PostgreSQL: the server scripts/pg-test-server.sh started, and one new database
 * per test so that tests running in parallel never share one. */
#ifndef HITL_TESTS_PG_TEST_H
#define HITL_TESTS_PG_TEST_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The URL of the test server's maintenance database, from HITL_TEST_PG: the URL itself, or the
 * path of the file the server script wrote it to (what ctest passes). NULL when unset or
 * unreadable. */
static inline const char *pg_test_server_url(void) {
  static char url[512];
  const char *v = getenv("HITL_TEST_PG");
  if (v == NULL || v[0] == '\0') return NULL;
  if (strstr(v, "://")) {
    snprintf(url, sizeof url, "%s", v);
    return url;
  }
  FILE *f = fopen(v, "r");
  if (f == NULL) return NULL;
  char *line = fgets(url, sizeof url, f);
  fclose(f);
  if (line == NULL) return NULL;
  url[strcspn(url, "\r\n")] = '\0';
  return url[0] ? url : NULL;
}

/* Runs one SQL command on the server's maintenance database; 0 when it succeeded. */
static inline int pg_test_admin(const char *server, const char *sql) {
  PGconn *c = PQconnectdb(server);
  int rc = -1;
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult *r = PQexec(c, sql);
    rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc) fprintf(stderr, "pg_test: %s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
  } else {
    fprintf(stderr, "pg_test: cannot connect: %s", PQerrorMessage(c));
  }
  PQfinish(c);
  return rc;
}

/* Creates a new, empty database on the server and writes its URL (the server's with the
 * database name replaced) into url. Returns 0 or -1. */
static inline int pg_test_create(const char *server, char *url, size_t size) {
  static unsigned counter;
  char name[64];
  snprintf(name, sizeof name, "hitl_t_%ld_%u_%u", (long)getpid(), counter++,
           (unsigned)rand() % 100000u);
  const char *hosts = strstr(server, "://");
  const char *path = hosts ? strchr(hosts + 3, '/') : NULL;
  if (path == NULL) return -1;
  const char *query = strchr(path, '?');
  snprintf(url, size, "%.*s/%s%s", (int)(path - server), server, name, query ? query : "");
  char sql[128];
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
  return pg_test_admin(server, sql);
}

/* Drops the database of url (created by pg_test_create), ending its sessions. */
static inline void pg_test_drop(const char *server, const char *url) {
  const char *name = strrchr(url, '/');
  if (name == NULL) return;
  char sql[160];
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %.*s WITH (FORCE)",
           (int)strcspn(name + 1, "?"), name + 1);
  pg_test_admin(server, sql);
}

#endif
