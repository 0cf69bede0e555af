/* SPDX-License-Identifier: MIT */
/* `hitl serve` runs the server; `hitl audit verify` checks the event chain of a database. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/server.h"
#include "cli/commands.h"
#include "core/chain.h"
#include "store/store.h"
#include "util/id.h"
#include "util/log.h"

static const char serve_usage[] =
    "usage: hitl serve [--db FILE|URL] [--listen HOST:PORT] [--max-body BYTES] [--threads N]\n"
    "                  [--log-level debug|info|warn|error|off] [--webhook-retry-ms MS]\n"
    "                  [--tls-cert FILE --tls-key FILE] [--max-connections N]\n"
    "                  [--max-connections-per-address N] [--header-timeout-ms MS]\n"
    "                  [--rate-limit N] [--max-waits-per-token N]\n"
    "                  [--calibration-snapshot-every N] [--writers N]\n"
    "\n"
    "Serves the HTTP API. HITL_ADMIN_TOKEN in the environment (at least 32 characters: make one\n"
    "with `hitl token generate`) becomes an orchestrator token;\n"
    "HITL_WEBHOOK_SECRET adds X-Hitl-Signature to webhook deliveries (each is signed with its\n"
    "webhook's own secret too: docs/queues.md).\n"
    "  --db FILE|URL      SQLite database, created when missing, or a postgres:// URL of an\n"
    "                     existing PostgreSQL database (default $HITL_DB, else hitl.db)\n"
    "  --listen HOST:PORT address to listen on (default 127.0.0.1:8080; port 0 picks one)\n"
    "  --max-body BYTES   largest request body (default 1048576; batches may be 16 times larger)\n"
    "  --threads N        HTTP threads (default 2)\n"
    "  --log-level LEVEL  default info: one line per request on stderr\n"
    "  --webhook-retry-ms MS  first retry delay of a failed webhook delivery, doubled each\n"
    "                     attempt up to 2048 times; 16 attempts in 28 h (default 10000)\n"
    "  --tls-cert FILE    serve HTTPS with this PEM certificate (chain); needs --tls-key\n"
    "  --tls-key FILE     the certificate's PEM private key\n"
    "  --max-connections N  open connections in all (default 10000); the last tenth is kept for\n"
    "                     /healthz and authenticated requests\n"
    "  --max-connections-per-address N  open connections per client IP address (default 128;\n"
    "                     0: no cap, e.g. behind a proxy)\n"
    "  --header-timeout-ms MS  time a connection has to send its request headers, from accept\n"
    "                     or from its previous answer (default 10000)\n"
    "  --rate-limit N     requests per second per token, bursts of N (default 1000; 0: off);\n"
    "                     over it: 429 with Retry-After. The admin token is exempt\n"
    "  --max-waits-per-token N  long-polls and event streams open at once per token (default\n"
    "                     64; 0: no cap); over it: 429\n"
    "  --calibration-snapshot-every N  verified pairs between stored snapshots of a queue's\n"
    "                     calibration state; a start replays the pairs after the last one\n"
    "                     (default 5000)\n"
    "  --writers N        PostgreSQL: writer connections, each committing its own batches of\n"
    "                     writes (default 2, at most 8); SQLite always has one writer\n";

/* Parses v as a whole number from min to max into *out; false (after a message) otherwise. */
static bool parse_count(const char *option, const char *v, long long min, long long max,
                        long long *out) {
  char *end;
  *out = strtoll(v, &end, 10);
  if (*v == '\0' || *end || *out < min || *out > max) {
    fprintf(stderr, "hitl serve: %s must be from %lld to %lld\n", option, min, max);
    return false;
  }
  return true;
}

/* The fewest characters HITL_ADMIN_TOKEN may have: 32 random hex digits hold 128 bits. */
#define MIN_ADMIN_TOKEN 32

static const char make_token_line[] =
    "    export HITL_ADMIN_TOKEN=$(hitl token generate)    # or: openssl rand -hex 32\n";

/* Refuses an admin token short enough to guess. Returns 0 or HITL_EXIT_USAGE. */
static int check_admin_token(const char *token) {
  if (token == NULL || token[0] == '\0' || strlen(token) >= MIN_ADMIN_TOKEN) return 0;
  fprintf(stderr,
          "hitl serve: HITL_ADMIN_TOKEN has %zu characters; it needs at least %d, random:\n%s",
          strlen(token), MIN_ADMIN_TOKEN, make_token_line);
  return HITL_EXIT_USAGE;
}

/* Refuses a database hitl could read but not write: SQLite would open it read-only without a
 * word, the server would look healthy and every write would fail. The file, its -wal and -shm
 * files when they exist, and its directory (where SQLite creates and removes those) must be
 * writable. Returns 0 or HITL_EXIT_FAILURE with a message naming the file. */
static int check_db_writable(const char *db) {
  static const char *const suffixes[] = {"", "-wal", "-shm"};
  char path[4096];
  if (strstr(db, "://")) return 0; /* A server's URL, not a file: the store answers for it. */
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    snprintf(path, sizeof path, "%s%s", db, suffixes[i]);
    if (access(path, F_OK) != 0 || access(path, R_OK | W_OK) == 0) continue;
    fprintf(stderr,
            "hitl serve: the database file %s is not writable (%s): hitl stores every change "
            "there.\n  Give the user running hitl write access to it, or point --db at a "
            "writable copy.\n",
            path, strerror(errno));
    return HITL_EXIT_FAILURE;
  }
  const char *slash = strrchr(db, '/');
  if (slash == NULL) snprintf(path, sizeof path, ".");
  else if (slash == db) snprintf(path, sizeof path, "/");
  else snprintf(path, sizeof path, "%.*s", (int)(slash - db), db);
  if (access(path, W_OK | X_OK) != 0) {
    fprintf(stderr,
            "hitl serve: cannot write in the directory %s of the database %s (%s): SQLite keeps "
            "its -wal and -shm files beside the database.\n",
            path, db, strerror(errno));
    return HITL_EXIT_FAILURE;
  }
  return 0;
}

/* Says how to get the first token when nobody could sign in: no HITL_ADMIN_TOKEN and no token
 * in the database that is not revoked (a new database). Runs after the server opened the database. */
static void hint_first_token(const char *db, const char *admin_token) {
  if (admin_token && admin_token[0]) return;
  hitl_store *s = NULL;
  hitl_err err = {0};
  hitl_token_row *rows = NULL;
  size_t n = 0;
  if (hitl_store_open(db, &s, &err) != 0) return;
  int rc = s->vt->token_list(s, &rows, &n);
  size_t usable = 0;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    if (!rows[i].revoked) usable++;
    hitl_token_row_clear(&rows[i]);
  }
  free(rows);
  hitl_store_close(s);
  if (rc != 0 || usable > 0) return;
  fprintf(stderr,
          "hitl serve: nobody can sign in: HITL_ADMIN_TOKEN is not set and the database %s "
          "holds no token.\n  Stop hitl serve and start it again with an admin token:\n%s"
          "    hitl serve --db %s\n"
          "  That token signs in to the web UI and creates the others (hitl token create).\n"
          "  (`make run` does this for you and keeps the token in .hitl/admin-token.)\n",
          db, make_token_line, db);
}

/* Parses "HOST:PORT" into host (at most 63 chars) and port. */
static int parse_listen(const char *s, char host[64], int *port) {
  const char *colon = strrchr(s, ':');
  if (colon == NULL || colon == s || (size_t)(colon - s) >= 64) return -1;
  char *end;
  long p = strtol(colon + 1, &end, 10);
  if (colon[1] == '\0' || *end || p < 0 || p > 65535) return -1;
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = '\0';
  *port = (int)p;
  return 0;
}

int hitl__cmd_serve(int argc, char **argv) {
  const char *db = getenv("HITL_DB"), *listen = "127.0.0.1:8080";
  if (db == NULL || db[0] == '\0') db = "hitl.db";
  long long max_body = HITL_DEFAULT_MAX_BODY, threads = 2, retry_ms = 10000;
  long long max_conns = HITL_DEFAULT_MAX_CONNECTIONS;
  long long per_address = HITL_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
  long long header_ms = HITL_DEFAULT_HEADER_TIMEOUT_MS, rate = HITL_DEFAULT_RATE_LIMIT;
  long long waits = HITL_DEFAULT_MAX_WAITS, snapshot_every = 5000, writers = 0;
  const char *tls_cert = NULL, *tls_key = NULL;
  /* Every option but --help takes a value: the loop steps over both. */
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(serve_usage, stdout);
      return HITL_EXIT_OK;
    } else if (strcmp(a, "--db") == 0 && v) {
      db = v;
    } else if (strcmp(a, "--listen") == 0 && v) {
      listen = v;
    } else if (strcmp(a, "--max-body") == 0 && v) {
      if (!parse_count(a, v, 1024, 1LL << 30, &max_body)) return HITL_EXIT_USAGE;
    } else if (strcmp(a, "--threads") == 0 && v) {
      if (!parse_count(a, v, 1, 64, &threads)) return HITL_EXIT_USAGE;
    } else if (strcmp(a, "--webhook-retry-ms") == 0 && v) {
      if (!parse_count(a, v, 1, 3600000, &retry_ms)) return HITL_EXIT_USAGE;
    } else if (strcmp(a, "--tls-cert") == 0 && v) {
      tls_cert = v;
    } else if (strcmp(a, "--tls-key") == 0 && v) {
      tls_key = v;
    } else if (strcmp(a, "--max-connections") == 0 && v) {
      if (!parse_count(a, v, 16, 1000000, &max_conns)) return HITL_EXIT_USAGE;
    } else if (strcmp(a, "--max-connections-per-address") == 0 && v) {
      if (!parse_count(a, v, 0, 1000000, &per_address)) return HITL_EXIT_USAGE;
    } else if (strcmp(a, "--header-timeout-ms") == 0 && v) {
      if (!parse_count(a, v, 100, 3600000, &header_ms)) return HITL_EXIT_USAGE;
    } else if (strcmp(a, "--rate-limit") == 0 && v) {
      if (!parse_count(a, v, 0, 1000000, &rate)) return HITL_EXIT_USAGE;
    } else if (strcmp(a, "--max-waits-per-token") == 0 && v) {
      if (!parse_count(a, v, 0, 1000000, &waits)) return HITL_EXIT_USAGE;
    } else if (strcmp(a, "--calibration-snapshot-every") == 0 && v) {
      if (!parse_count(a, v, 1, 100000000, &snapshot_every)) return HITL_EXIT_USAGE;
    } else if (strcmp(a, "--writers") == 0 && v) {
      if (!parse_count(a, v, 1, HITL_MAX_WRITERS, &writers)) return HITL_EXIT_USAGE;
    } else if (strcmp(a, "--log-level") == 0 && v) {
      int level = hitl_log_level_parse(v);
      if (level < 0) {
        fprintf(stderr, "hitl serve: --log-level must be debug, info, warn, error or off\n");
        return HITL_EXIT_USAGE;
      }
      hitl_log_threshold = (hitl_log_level)level;
    } else {
      fprintf(stderr, "hitl serve: unknown or incomplete option %s\n\n%s", a, serve_usage);
      return HITL_EXIT_USAGE;
    }
  }
  char host[64];
  int port;
  if (parse_listen(listen, host, &port) != 0) {
    fprintf(stderr, "hitl serve: --listen must be HOST:PORT, e.g. 127.0.0.1:8080\n");
    return HITL_EXIT_USAGE;
  }
  if ((tls_cert == NULL) != (tls_key == NULL)) {
    fprintf(stderr, "hitl serve: --tls-cert and --tls-key go together\n");
    return HITL_EXIT_USAGE;
  }

  const char *admin_token = getenv("HITL_ADMIN_TOKEN");
  int check = check_admin_token(admin_token);
  if (check == 0) check = check_db_writable(db);
  if (check != 0) return check;

  /* Signals are taken synchronously by this thread; every other thread inherits the mask. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  hitl_server_config cfg = {
      .db = db,
      .host = host,
      .port = port,
      .max_body = (size_t)max_body,
      .admin_token = admin_token,
      .threads = (int)threads,
      .webhook_secret = getenv("HITL_WEBHOOK_SECRET"),
      .webhook_retry_ms = retry_ms,
      .max_connections = (unsigned)max_conns,
      .max_connections_per_address = (unsigned)per_address,
      .header_timeout_ms = header_ms,
      .rate_limit = (unsigned)rate,
      .max_waits = (unsigned)waits,
      .tls_cert = tls_cert,
      .tls_key = tls_key,
      .calib_snapshot_every = (unsigned)snapshot_every,
      .writers = (int)writers,
  };
  hitl_server *server = NULL;
  hitl_err err = {0};
  if (hitl_server_start(&cfg, &server, &err) != 0) {
    fprintf(stderr, "hitl serve: %s\n", err.message);
    return HITL_EXIT_FAILURE;
  }
  char shown[512];
  hitl_store_location_shown(db, shown, sizeof shown);
  printf("hitl: listening on %s://%s:%d (database %s)\n", tls_cert ? "https" : "http", host,
         hitl_server_port(server), shown);
  fflush(stdout);
  hint_first_token(db, admin_token);
  hitl_log(HITL_LOG_INFO, "msg=\"started\" port=%d", hitl_server_port(server));
  int sig = 0;
  sigwait(&set, &sig);
  hitl_log(HITL_LOG_INFO, "msg=\"stopping\" signal=%d", sig);
  hitl_server_stop(server);
  return HITL_EXIT_OK;
}

static const char audit_usage[] =
    "usage: hitl audit verify --db FILE|URL\n"
    "\n"
    "Recomputes the hash chain of the event log and names the first broken link.\n"
    "Exit status 0 when intact, 1 when broken or unreadable.\n";

int hitl__cmd_audit(int argc, char **argv) {
  const char *db = NULL;
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(audit_usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? HITL_EXIT_USAGE : HITL_EXIT_OK;
  }
  if (strcmp(argv[1], "verify") != 0) {
    fprintf(stderr, "hitl audit: unknown sub-command %s\n\n%s", argv[1], audit_usage);
    return HITL_EXIT_USAGE;
  }
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
      db = argv[++i];
    } else {
      fprintf(stderr, "hitl audit verify: unknown option %s\n\n%s", argv[i], audit_usage);
      return HITL_EXIT_USAGE;
    }
  }
  if (db == NULL) {
    fprintf(stderr, "hitl audit verify: --db FILE|URL is required\n");
    return HITL_EXIT_USAGE;
  }
  /* A SQLite file must exist: opening would create an empty one. */
  bool url = strstr(db, "://") != NULL;
  FILE *probe = url ? NULL : fopen(db, "rb");
  if (!url && probe == NULL) {
    fprintf(stderr, "hitl audit verify: cannot open %s\n", db);
    return HITL_EXIT_FAILURE;
  }
  if (probe) fclose(probe);
  hitl_id_init();
  hitl_store *s = NULL;
  hitl_err err = {0};
  if (hitl_store_open(db, &s, &err) != 0) {
    fprintf(stderr, "hitl audit verify: %s\n", err.message);
    return HITL_EXIT_FAILURE;
  }
  hitl_chain_report report;
  int rc = hitl_chain_verify(s, &report);
  hitl_store_close(s);
  if (rc) {
    fprintf(stderr, "hitl audit verify: could not read the events\n");
    return HITL_EXIT_FAILURE;
  }
  if (report.broken_seq) {
    printf("broken: event %lld: %s (%lld events checked)\n", (long long)report.broken_seq,
           report.reason, (long long)report.events);
    return HITL_EXIT_FAILURE;
  }
  printf("intact: %lld events, every hash verifies\n", (long long)report.events);
  return HITL_EXIT_OK;
}
