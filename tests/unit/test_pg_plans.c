/* SPDX-License-Identifier: MIT */
/* PostgreSQL's plans for the lost-run sweep: on a database of many runs in every state, the due
 * query and the next-due query read the partial due index (never a scan of all runs), and a
 * stored heartbeat finds its run by key. test_store_sqlite.c checks the same for SQLite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../pg_test.h"
#include "store/postgres.h"
#include "store/store.h"

static const char *pg_server;

/* The plan PostgreSQL picks for statement sql with the parameters args (a list such as
 * "(1000, 100)", or "" for none), as one text. */
static void plan_of(PGconn *c, const char *sql, const char *types, const char *args, char *out,
                    size_t n) {
  char buf[4096];
  snprintf(buf, sizeof buf, "DEALLOCATE ALL; PREPARE p%s AS %s", types, sql);
  PGresult *r = PQexec(c, buf);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) fail_msg("%s: %s", buf, PQresultErrorMessage(r));
  PQclear(r);
  snprintf(buf, sizeof buf, "EXPLAIN EXECUTE p%s", args);
  r = PQexec(c, buf);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("%s: %s", buf, PQresultErrorMessage(r));
  out[0] = '\0';
  for (int i = 0; i < PQntuples(r); i++) {
    strncat(out, PQgetvalue(r, i, 0), n - strlen(out) - 2);
    strncat(out, "\n", n - strlen(out) - 1);
  }
  PQclear(r);
}

static void exec_ok(PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
    fail_msg("%s: %s", sql, PQresultErrorMessage(r));
  PQclear(r);
}

static void test_sweep_reads_the_due_index(void **state) {
  (void)state;
  char url[512];
  assert_int_equal(pg_test_create(pg_server, url, sizeof url), 0);
  hitl_store *s = NULL;
  hitl_err err = {0};
  assert_int_equal(hitl_store_open(url, &s, &err), 0); /* Makes the schema. */
  PGconn *c = PQconnectdb(url);
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  /* 50,000 runs, a fifth of them in each stored state, due over a long stretch of time. */
  exec_ok(c, "INSERT INTO runs (id, agent, owner, state, heartbeat_seconds, created_at, "
             "updated_at, last_heartbeat_at, heartbeat_due_at) "
             "SELECT 'run_' || i, 'a', 'o', i % 5, 30, i, i, i, i * 1000 "
             "FROM generate_series(1, 50000) AS i; ANALYZE runs");
  char plan[8192];
  plan_of(c, hitl__pg_sql(HITL__PG_RUN_DUE), "(bigint, bigint)", "(1000000, 100)", plan,
          sizeof plan);
  if (strstr(plan, "runs_heartbeat_due") == NULL || strstr(plan, "Seq Scan on runs"))
    fail_msg("run_due:\n%s", plan);
  plan_of(c, hitl__pg_sql(HITL__PG_RUN_NEXT_DUE), "", "", plan, sizeof plan);
  if (strstr(plan, "runs_heartbeat_due") == NULL || strstr(plan, "Seq Scan on runs"))
    fail_msg("run_next_due:\n%s", plan);
  plan_of(c, hitl__pg_sql(HITL__PG_RUN_TOUCH), "(bigint, bigint, bigint)", "(7, 1, 2)", plan,
          sizeof plan);
  if (strstr(plan, "runs_pkey") == NULL || strstr(plan, "Seq Scan on runs"))
    fail_msg("run_touch:\n%s", plan);
  PQfinish(c);
  hitl_store_close(s);
  pg_test_drop(pg_server, url);
}

int main(void) {
  pg_server = pg_test_server_url();
  if (pg_server == NULL) {
    fprintf(stderr, "test_pg_plans: HITL_TEST_PG names no server (see tests/pg_test.h)\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sweep_reads_the_due_index),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
