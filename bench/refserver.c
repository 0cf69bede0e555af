/* SPDX-License-Identifier: MIT */
/* bench_refserver: a libmicrohttpd server that answers {"status":"ok"}, the ceiling of a machine. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

/* The daemon flags a production hitl server uses: one epoll loop per pool thread, suspendable
 * requests (for group commit and long polls), and error logging. */
#define REF_FLAGS (MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG)

static const char ref_ok_body[] = "{\"status\":\"ok\"}";

/* --mimic answers: just enough of the hitl API shapes for bench_lifecycle to run its flows. */
static const char ref_task_body[] = "{\"id\":\"t-1\",\"state\":\"pending\",\"route\":{\"rule\":\"all\"}}";
static const char ref_claim_body[] =
    "{\"id\":\"t-1\",\"state\":\"leased\",\"input\":{\"text\":\"x\"},"
    "\"lease\":{\"id\":\"l-1\",\"expires_at\":\"2030-01-01T00:00:00.000Z\"}}";
static const char ref_batch_body[] = "{\"tasks\":[]}";

typedef struct ref_server {
  bool mimic;                   /* Answer API-shaped bodies instead of the fixed one. */
  bool chunked;                 /* Send bodies with chunked transfer encoding. */
  struct MHD_Response *ok;      /* The shared fixed response (Content-Length framing). */
  atomic_ulong claims;          /* Claims answered so far, to make every 4th one a 204. */
} ref_server;

typedef struct ref_body {
  const char *text; /* The whole body, static. */
  size_t len;       /* Its length. */
} ref_body;

#define REF_BODY(s) {s, sizeof s - 1}
static const ref_body ref_ok = REF_BODY(ref_ok_body);
static const ref_body ref_task = REF_BODY(ref_task_body);
static const ref_body ref_claim = REF_BODY(ref_claim_body);
static const ref_body ref_batch = REF_BODY(ref_batch_body);

static ssize_t ref_chunk_reader(void *cls, uint64_t pos, char *buf, size_t max) {
  const ref_body *s = cls;
  if (pos >= s->len) return MHD_CONTENT_READER_END_OF_STREAM;
  /* Hand out at most 7 bytes at a time so that a body spans several chunks. */
  size_t n = s->len - (size_t)pos;
  if (n > 7) n = 7;
  if (n > max) n = max;
  memcpy(buf, s->text + pos, n);
  return (ssize_t)n;
}

static bool ref_ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* Sends status and body, with Content-Length or (when chunked) chunked framing. */
static enum MHD_Result ref_send(ref_server *srv, struct MHD_Connection *c, unsigned status,
                                const ref_body *body) {
  struct MHD_Response *r;
  if (srv->chunked)
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, ref_chunk_reader, (void *)body,
                                          NULL);
  else
    r = MHD_create_response_from_buffer(body->len, (void *)body->text, MHD_RESPMEM_PERSISTENT);
  if (r == NULL) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result ref_handle(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls) {
  ref_server *srv = cls;
  (void)version;
  (void)upload_data;
  /* The first call only announces the request; bodies arrive in later calls and are dropped. */
  if (*req_cls == NULL) {
    *req_cls = srv;
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (!srv->mimic && !srv->chunked) return MHD_queue_response(c, MHD_HTTP_OK, srv->ok);
  if (!srv->mimic) return ref_send(srv, c, MHD_HTTP_OK, &ref_ok);
  if (strcmp(method, "POST") == 0 && ref_ends_with(url, "/claim")) {
    unsigned long n = atomic_fetch_add(&srv->claims, 1);
    if (n % 4 == 3) {
      struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
      if (r == NULL) return MHD_NO;
      enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, r);
      MHD_destroy_response(r);
      return ret;
    }
    return ref_send(srv, c, MHD_HTTP_OK, &ref_claim);
  }
  if (strcmp(method, "POST") == 0 && ref_ends_with(url, "/tasks/batch"))
    return ref_send(srv, c, MHD_HTTP_CREATED, &ref_batch);
  if (strcmp(method, "POST") == 0 && ref_ends_with(url, "/tasks"))
    return ref_send(srv, c, MHD_HTTP_CREATED, &ref_task);
  return ref_send(srv, c, MHD_HTTP_OK, &ref_ok);
}

static void ref_usage(FILE *f) {
  fprintf(f,
          "usage: bench_refserver [--port N] [--threads N] [--chunked] [--mimic]\n"
          "  Answers every request with {\"status\":\"ok\"} on 127.0.0.1:N (0 = any free port; the\n"
          "  chosen one is printed as port=N). Stops on SIGINT or SIGTERM.\n"
          "  --threads N  thread pool size (default 2)\n"
          "  --chunked    send bodies chunked (to test HTTP clients)\n"
          "  --mimic      answer claim/task/batch routes with API-shaped bodies (to test bench_lifecycle)\n");
}

static int ref_parse_uint(const char *s, long max, long *out) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max) return -1;
  *out = v;
  return 0;
}

int main(int argc, char **argv) {
  ref_server srv = {.mimic = false, .chunked = false, .ok = NULL};
  atomic_init(&srv.claims, 0);
  long port = 0, threads = 2;
  struct MHD_Daemon *d = NULL;
  int rc = 1;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      if (ref_parse_uint(argv[++i], 65535, &port) != 0) goto bad_usage;
    } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      if (ref_parse_uint(argv[++i], 64, &threads) != 0 || threads < 1) goto bad_usage;
    } else if (strcmp(argv[i], "--chunked") == 0) {
      srv.chunked = true;
    } else if (strcmp(argv[i], "--mimic") == 0) {
      srv.mimic = true;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      ref_usage(stdout);
      return 0;
    } else {
      goto bad_usage;
    }
  }

  /* Block the stop signals before the pool threads start, so that only sigwait() sees them. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  srv.ok = MHD_create_response_from_buffer(ref_ok.len, (void *)ref_ok.text, MHD_RESPMEM_PERSISTENT);
  if (srv.ok == NULL) goto cleanup;
  MHD_add_response_header(srv.ok, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");

  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  d = MHD_start_daemon(REF_FLAGS, (uint16_t)port, NULL, NULL, ref_handle, &srv,
                       MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                       MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
                       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
                       MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024, MHD_OPTION_END);
  if (d == NULL) {
    fprintf(stderr, "bench_refserver: cannot start on 127.0.0.1:%ld\n", port);
    goto cleanup;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  if (info == NULL || info->port == 0) {
    fprintf(stderr, "bench_refserver: cannot read the bound port\n");
    goto cleanup;
  }
  printf("port=%u\n", (unsigned)info->port);
  fflush(stdout);

  int sig = 0;
  while (sigwait(&stop, &sig) != 0) {
  }
  rc = 0;

cleanup:
  if (d != NULL) MHD_stop_daemon(d);
  if (srv.ok != NULL) MHD_destroy_response(srv.ok);
  return rc;

bad_usage:
  ref_usage(stderr);
  return 2;
}
