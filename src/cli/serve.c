/* SPDX-License-Identifier: MIT */
/* `hitl serve` runs the server; `hitl audit verify` checks the event chain of a database. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server.h"
#include "cli/commands.h"
#include "core/chain.h"
#include "store/store.h"
#include "util/id.h"
#include "util/log.h"

static const char serve_usage[] =
    "usage: hitl serve [--db FILE] [--listen HOST:PORT] [--max-body BYTES] [--threads N]\n"
    "                  [--log-level debug|info|warn|error|off] [--webhook-retry-ms MS]\n"
    "                  [--tls-cert FILE --tls-key FILE] [--max-connections N]\n"
    "                  [--max-connections-per-address N] [--header-timeout-ms MS]\n"
    "                  [--rate-limit N] [--max-waits-per-token N]\n"
    "\n"
    "Serves the HTTP API. HITL_ADMIN_TOKEN in the environment becomes an orchestrator token;\n"
    "HITL_WEBHOOK_SECRET signs webhook deliveries (X-Hitl-Signature).\n"
    "  --db FILE          SQLite database, created when missing (default hitl.db)\n"
    "  --listen HOST:PORT address to listen on (default 127.0.0.1:8080; port 0 picks one)\n"
    "  --max-body BYTES   largest request body (default 1048576; batches may be 16 times larger)\n"
    "  --threads N        HTTP threads (default 2)\n"
    "  --log-level LEVEL  default info: one line per request on stderr\n"
    "  --webhook-retry-ms MS  first retry delay of a failed webhook delivery, doubled each\n"
    "                     attempt up to an hour (default 10000)\n"
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
    "                     64; 0: no cap); over it: 429\n";

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
  const char *db = "hitl.db", *listen = "127.0.0.1:8080";
  long long max_body = HITL_DEFAULT_MAX_BODY, threads = 2, retry_ms = 10000;
  long long max_conns = HITL_DEFAULT_MAX_CONNECTIONS;
  long long per_address = HITL_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
  long long header_ms = HITL_DEFAULT_HEADER_TIMEOUT_MS, rate = HITL_DEFAULT_RATE_LIMIT;
  long long waits = HITL_DEFAULT_MAX_WAITS;
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
      if (!parse_count(a, v, 10, 3600000, &retry_ms)) return HITL_EXIT_USAGE;
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
      .admin_token = getenv("HITL_ADMIN_TOKEN"),
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
  };
  hitl_server *server = NULL;
  hitl_err err = {0};
  if (hitl_server_start(&cfg, &server, &err) != 0) {
    fprintf(stderr, "hitl serve: %s\n", err.message);
    return HITL_EXIT_FAILURE;
  }
  printf("hitl: listening on %s://%s:%d (database %s)\n", tls_cert ? "https" : "http", host,
         hitl_server_port(server), db);
  fflush(stdout);
  hitl_log(HITL_LOG_INFO, "msg=\"started\" port=%d", hitl_server_port(server));
  int sig = 0;
  sigwait(&set, &sig);
  hitl_log(HITL_LOG_INFO, "msg=\"stopping\" signal=%d", sig);
  hitl_server_stop(server);
  return HITL_EXIT_OK;
}

static const char audit_usage[] =
    "usage: hitl audit verify --db FILE\n"
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
    fprintf(stderr, "hitl audit verify: --db FILE is required\n");
    return HITL_EXIT_USAGE;
  }
  FILE *probe = fopen(db, "rb");
  if (probe == NULL) {
    fprintf(stderr, "hitl audit verify: cannot open %s\n", db);
    return HITL_EXIT_FAILURE;
  }
  fclose(probe);
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
