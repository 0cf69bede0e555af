/* SPDX-License-Identifier: MIT */
/* API test: HTTPS with a certificate the test makes (openssl), verified by the client; HSTS; the
 * command-line client over https with HITL_CACERT; bad certificate files refused at start. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static test_server srv;
static char certs[64];            /* Temporary directory of the certificate and key. */
static char cert[128], key[128], other_cert[128];

/* Runs cmd through the shell; returns its exit status (-1 when it did not exit). */
static int run(const char *cmd) {
  int rc = system(cmd);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int make_certs(void **state) {
  (void)state;
  snprintf(certs, sizeof certs, "/tmp/hitl-tls-XXXXXX");
  assert_non_null(mkdtemp(certs));
  snprintf(cert, sizeof cert, "%s/cert.pem", certs);
  snprintf(key, sizeof key, "%s/key.pem", certs);
  snprintf(other_cert, sizeof other_cert, "%s/other.pem", certs);
  char cmd[1024];
  /* A self-signed certificate for 127.0.0.1, and another one whose key the test never uses. */
  const char *req = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
                    "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1";
  snprintf(cmd, sizeof cmd, "%s -keyout '%s' -out '%s' 2>/dev/null", req, key, cert);
  assert_int_equal(run(cmd), 0);
  snprintf(cmd, sizeof cmd, "%s -keyout '%s/other-key.pem' -out '%s' 2>/dev/null", req, certs,
           other_cert);
  assert_int_equal(run(cmd), 0);
  const char *args[] = {"--tls-cert", cert, "--tls-key", key, "--header-timeout-ms", "500", NULL};
  ts_start(&srv, args);
  return 0;
}

static int remove_all(void **state) {
  (void)state;
  ts_cleanup(&srv);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", certs);
  return run(cmd) == 0 ? 0 : -1;
}

/* GETs path with scheme ("https", or "http" to try plain text), trusting ca (NULL: the system's
 * store). Returns the status, 0 when the transfer failed (*code gets libcurl's result). */
static long get(const char *scheme, const char *path, const char *ca, const char *token,
                CURLcode *code, char **headers) {
  char url[256];
  snprintf(url, sizeof url, "%s://127.0.0.1:%d%s", scheme, srv.port, path);
  int cc = 0;
  long status = tr_get_url(url, NULL, token, ca, &cc, headers);
  if (code) *code = (CURLcode)cc;
  return status;
}

/* The server answers over TLS with the certificate it was given, and says so with HSTS. */
static void test_https_verified(void **state) {
  (void)state;
  char *headers = NULL;
  assert_int_equal(get("https", "/healthz", cert, NULL, NULL, &headers), 200);
  assert_non_null(strstr(headers, "Strict-Transport-Security: max-age=31536000"));
  free(headers);
  assert_int_equal(get("https", "/v1/me", cert, ADMIN_TOKEN, NULL, NULL), 200);
  assert_int_equal(get("https", "/v1/me", cert, "wrong-token", NULL, NULL), 401);
  /* A client that trusts another certificate refuses the server's. */
  CURLcode cc;
  assert_int_equal(get("https", "/healthz", other_cert, NULL, &cc, NULL), 0);
  assert_int_equal(cc, CURLE_PEER_FAILED_VERIFICATION);
  /* Plain HTTP gets no answer from a TLS port. */
  assert_int_equal(get("http", "/healthz", NULL, NULL, NULL, NULL), 0);
}

static size_t keep_headers(char *ptr, size_t size, size_t n, void *ud) {
  char **all = ud;
  size_t old = *all ? strlen(*all) : 0, add = size * n;
  char *grown = realloc(*all, old + add + 1);
  if (grown == NULL) return 0;
  memcpy(grown + old, ptr, add);
  grown[old + add] = '\0';
  *all = grown;
  return add;
}

/* A web UI sign-in over hitl's own TLS gets a cookie the browser sends only over HTTPS. */
static void test_session_cookie_secure(void **state) {
  (void)state;
  char url[128], body[256];
  snprintf(url, sizeof url, "https://127.0.0.1:%d/v1/session", srv.port);
  snprintf(body, sizeof body, "{\"token\":\"%s\"}", ADMIN_TOKEN);
  CURL *c = curl_easy_init();
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  char *headers = NULL;
  FILE *devnull = fopen("/dev/null", "w");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CAINFO, cert);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, keep_headers);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &headers);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  long status = 0;
  assert_int_equal(curl_easy_perform(c), CURLE_OK);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  assert_int_equal(status, 200);
  assert_non_null(headers);
  char *cookie = strstr(headers, "Set-Cookie: hitl_session=");
  assert_non_null(cookie);
  char *eol = strchr(cookie, '\r');
  if (eol) *eol = '\0';
  assert_non_null(strstr(cookie, "; Secure"));
  free(headers);
  fclose(devnull);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
}

/* A connection that never starts its TLS handshake is closed at the header deadline. */
static void test_silent_tls_client_closed(void **state) {
  (void)state;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port)};
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof to), 0);
  struct pollfd p = {.fd = fd, .events = POLLIN};
  assert_int_equal(poll(&p, 1, 5000), 1); /* Bounded: the deadline is 500 ms. */
  char buf[64];
  assert_true(recv(fd, buf, sizeof buf, 0) <= 0);
  close(fd);
}

/* The command-line client talks https when it trusts the server's certificate (HITL_CACERT). */
static void test_cli_over_https(void **state) {
  (void)state;
  const char *bin = getenv("HITL_BIN");
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "HITL_URL=https://127.0.0.1:%d HITL_TOKEN=%s HITL_CACERT='%s' '%s' queue list "
           ">/dev/null 2>&1", srv.port, ADMIN_TOKEN, cert, bin);
  assert_int_equal(run(cmd), 0);
  snprintf(cmd, sizeof cmd,
           "HITL_URL=https://127.0.0.1:%d HITL_TOKEN=%s HITL_CACERT= '%s' queue list "
           ">/dev/null 2>&1", srv.port, ADMIN_TOKEN, bin);
  assert_int_not_equal(run(cmd), 0); /* Not trusted without it. */
}

/* Missing, empty, non-PEM or mismatched files stop the server at start with a message. */
static void test_bad_files(void **state) {
  (void)state;
  const char *bin = getenv("HITL_BIN");
  char empty[160], cmd[1024];
  snprintf(empty, sizeof empty, "%s/empty.pem", certs);
  FILE *f = fopen(empty, "w");
  assert_non_null(f);
  fclose(f);
  struct {
    const char *cert, *key, *says;
  } cases[] = {
      {"/nonexistent.pem", key, "cannot open the certificate file"},
      {cert, "/nonexistent.pem", "cannot open the private key file"},
      {empty, key, "holds no PEM block"},
      {cert, empty, "holds no PEM block"},
      {other_cert, key, "TLS key does not match"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char out[160];
    snprintf(out, sizeof out, "%s/out.txt", certs);
    snprintf(cmd, sizeof cmd,
             "'%s' serve --listen 127.0.0.1:0 --db '%s/db' --tls-cert '%s' --tls-key '%s' "
             ">'%s' 2>&1", bin, certs, cases[i].cert, cases[i].key, out);
    assert_int_equal(run(cmd), 1);
    char text[4096] = "";
    f = fopen(out, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    if (strstr(text, cases[i].says) == NULL) fail_msg("case %zu: %s", i, text);
  }
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_https_verified),
      cmocka_unit_test(test_session_cookie_secure),
      cmocka_unit_test(test_silent_tls_client_closed),
      cmocka_unit_test(test_cli_over_https),
      cmocka_unit_test(test_bad_files),
  };
  int rc = cmocka_run_group_tests(tests, make_certs, remove_all);
  curl_global_cleanup();
  return rc;
}
