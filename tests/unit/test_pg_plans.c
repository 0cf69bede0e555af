/* SPDX-License-Identifier: MIT */
/* PostgreSQL's plans for the lost-run sweep: on a database of many runs in every state, the due
 * query and the next-due query read the partial due index (never a scan of all runs), and a
 * stored heartbeat finds its run by key. test_store_sqlite.c checks the same for SQLite. And the
 * claim's plan: a probe per candidate task for the reviewer's earlier answer. */
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

/* A new database with the schema (the store s made it; url its URL) and a connection to it. */
static PGconn *new_database(char *url, size_t n, hitl_store **s) {
  assert_int_equal(pg_test_create(pg_server, url, n), 0);
  hitl_err err = {0};
  assert_int_equal(hitl_store_open(url, s, &err), 0);
  PGconn *c = PQconnectdb(url);
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  return c;
}

static void test_sweep_reads_the_due_index(void **state) {
  (void)state;
  char url[512];
  hitl_store *s = NULL;
  PGconn *c = new_database(url, sizeof url, &s);
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

/* A claim passes over the tasks the reviewer already answered by a probe of the (task, reviewer)
 * index for each candidate, never by reading every response the reviewer ever gave: with the
 * generic plan of a database whose statistics are not in yet (a new database under load, before
 * autovacuum's first analyze), PostgreSQL made the NOT EXISTS an anti join on all of them, and a
 * claim's cost grew with the reviewer's history (0.3 ms after 2,000 answers). */
static void test_claim_probes_the_reviewers_answers_by_task(void **state) {
  (void)state;
  char url[512];
  hitl_store *s = NULL;
  PGconn *c = new_database(url, sizeof url, &s);
  /* The plan is made on empty tables, as a server's first claims make it on a new database, and
   * kept (a generic plan) while 4,000 tasks of one queue come, the first 3,000 decided with the
   * reviewer's answers. */
  exec_ok(c, "SET plan_cache_mode = force_generic_plan");
  char sql[4096];
  snprintf(sql, sizeof sql, "PREPARE claim (bigint, boolean, text, text) AS %s",
           hitl__pg_sql(HITL__PG_TASK_CLAIM));
  exec_ok(c, sql);
  exec_ok(c, "EXECUTE claim (1, true, ',', 'r')");
  exec_ok(c, "INSERT INTO queues (name, config, created_at, updated_at) VALUES ('q', '{}', 1, 1);"
             "INSERT INTO tasks (id, queue_id, state, created_at, updated_at, body_hash) "
             "SELECT 'task_' || i, 1, CASE WHEN i <= 3000 THEN 2 ELSE 0 END, i, i, '\\x00' "
             "FROM generate_series(1, 4000) AS i;"
             "INSERT INTO responses (id, task_seq, reviewer, kind, created_at) "
             "SELECT 'resp_' || i, i, 'r', 'approve', i FROM generate_series(1, 3000) AS i");
  char plan[8192] = "";
  PGresult *r = PQexec(c, "EXPLAIN EXECUTE claim (1, true, ',', 'r')");
  assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
  for (int i = 0; i < PQntuples(r); i++) {
    strncat(plan, PQgetvalue(r, i, 0), sizeof plan - strlen(plan) - 2);
    strncat(plan, "\n", sizeof plan - strlen(plan) - 1);
  }
  PQclear(r);
  if (strstr(plan, "responses_task_reviewer") == NULL || strstr(plan, "responses_reviewer ") ||
      strstr(plan, "Seq Scan on responses"))
    fail_msg("task_claim:\n%s", plan);
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
      cmocka_unit_test(test_claim_probes_the_reviewers_answers_by_task),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
