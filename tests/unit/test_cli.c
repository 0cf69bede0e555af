/* SPDX-License-Identifier: MIT */
/* Unit tests of the command-line client's pieces that need no server: parsing, URLs, bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "cli/args.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/request.h"

/* ---- helpers ---- */

/* Parses a NULL-terminated word list (the first word is the command name) against spec. */
static int parse(const hitl__cli_optspec *spec, hitl__cli_args *a, hitl_err *err, ...) {
  char *argv[32];
  int argc = 0;
  va_list ap;
  va_start(ap, err);
  for (char *w; (w = va_arg(ap, char *)) != NULL && argc < 31;) argv[argc++] = w;
  va_end(ap);
  argv[argc] = NULL;
  return hitl__cli_args_parse(argc, argv, spec, a, err);
}

/* Asserts that the JSON text got equals the JSON text want (as values, not as text). */
static void assert_json_eq(const char *got, const char *want) {
  json_t *g = json_loads(got, JSON_DECODE_ANY, NULL);
  json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
  assert_non_null(w);
  if (g == NULL || !json_equal(g, w)) fail_msg("got %s, want %s", got, want);
  json_decref(g);
  json_decref(w);
}

/* Writes text to a new temporary file whose name goes into path (at least 32 bytes). */
static void temp_file(char *path, const char *text) {
  strcpy(path, "/tmp/hitl_test_cli_XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  size_t n = strlen(text);
  assert_int_equal(write(fd, text, n), (ssize_t)n);
  close(fd);
}

/* Builds the respond body of a word list; returns the rc and the body (or NULL) in *body. */
static int respond(char **body, hitl_err *err, ...) {
  char *argv[32] = {"respond", "t_1"};
  int argc = 2;
  va_list ap;
  va_start(ap, err);
  for (char *w; (w = va_arg(ap, char *)) != NULL && argc < 31;) argv[argc++] = w;
  va_end(ap);
  hitl__cli_args a;
  *body = NULL;
  assert_int_equal(hitl__cli_args_parse(argc, argv, hitl__cli_respond_options, &a, err), 0);
  return hitl__cli_respond_body(&a, body, err);
}

/* ---- argument parsing ---- */

static const hitl__cli_optspec demo_options[] = {{"state", 1}, {"jsonl", 0}, {NULL, 0}};

static void test_args_anywhere(void **state) {
  (void)state;
  hitl__cli_args a;
  hitl_err err = {0};
  assert_int_equal(parse(demo_options, &a, &err, "tasks", "--url", "http://x", "q1",
                         "--state=pending", "--jsonl", "-", "--token", "T", NULL),
                   0);
  assert_int_equal(a.npositional, 2);
  assert_string_equal(a.positional[0], "q1");
  assert_string_equal(a.positional[1], "-");
  assert_string_equal(a.url, "http://x");
  assert_string_equal(a.token, "T");
  assert_string_equal(hitl__cli_opt(&a, "state"), "pending");
  assert_string_equal(hitl__cli_opt(&a, "jsonl"), "");
  assert_null(hitl__cli_opt(&a, "nope"));
  assert_int_equal(a.help, 0);

  /* Later values win; "--" makes the rest words; a value may start with a dash. */
  assert_int_equal(parse(demo_options, &a, &err, "x", "--state", "a", "--state", "-b", "--",
                         "--jsonl", "-h", NULL),
                   0);
  assert_string_equal(hitl__cli_opt(&a, "state"), "-b");
  assert_null(hitl__cli_opt(&a, "jsonl"));
  assert_int_equal(a.npositional, 2);
  assert_string_equal(a.positional[0], "--jsonl");
  assert_string_equal(a.positional[1], "-h");

  assert_int_equal(parse(demo_options, &a, &err, "x", "-h", NULL), 0);
  assert_int_equal(a.help, 1);
  assert_int_equal(parse(demo_options, &a, &err, "x", "--help", NULL), 0);
  assert_int_equal(a.help, 1);
}

static void test_args_bad(void **state) {
  (void)state;
  hitl__cli_args a;
  hitl_err err = {0};
  assert_int_equal(parse(demo_options, &a, &err, "x", "--nope", NULL), HITL_EVALIDATION);
  assert_non_null(strstr(err.message, "--nope"));
  assert_int_equal(parse(demo_options, &a, &err, "x", "-s", NULL), HITL_EVALIDATION);
  assert_int_equal(parse(demo_options, &a, &err, "x", "--state", NULL), HITL_EVALIDATION);
  assert_non_null(strstr(err.message, "needs a value"));
  assert_int_equal(parse(demo_options, &a, &err, "x", "--url", NULL), HITL_EVALIDATION);
  assert_int_equal(parse(demo_options, &a, &err, "x", "--jsonl=1", NULL), HITL_EVALIDATION);
  assert_non_null(strstr(err.message, "takes no value"));
  assert_int_equal(parse(demo_options, &a, &err, "x", "a", "b", "c", "d", "e", NULL),
                   HITL_EVALIDATION);
  /* A prefix of an option's name is not that option. */
  assert_int_equal(parse(demo_options, &a, &err, "x", "--sta", "v", NULL), HITL_EVALIDATION);
}

static void test_parse_count(void **state) {
  (void)state;
  long long v = -1;
  hitl_err err = {0};
  assert_int_equal(hitl__cli_parse_count("0", "wait", 10, &v, &err), 0);
  assert_int_equal(v, 0);
  assert_int_equal(hitl__cli_parse_count("10", "wait", 10, &v, &err), 0);
  assert_int_equal(v, 10);
  const char *bad[] = {"11", "-1", "", "1x", " 1", "+1", "99999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(hitl__cli_parse_count(bad[i], "wait", 10, &v, &err), HITL_EVALIDATION);
  assert_string_equal(err.field, "wait");
}

static void test_read_input(void **state) {
  (void)state;
  char path[64];
  temp_file(path, "{\"a\":1}\n");
  hitl_buf b = HITL_BUF_INIT;
  hitl_err err = {0};
  assert_int_equal(hitl__cli_read_input(path, &b, &err), 0);
  assert_string_equal(hitl_buf_cstr(&b), "{\"a\":1}\n");
  unlink(path);
  assert_int_equal(hitl__cli_read_input(path, &b, &err), HITL_EINTERNAL);
  assert_non_null(strstr(err.message, path));
  hitl_buf_free(&b);
}

/* ---- respond: the command line becomes the request body ---- */

static void test_respond_kinds(void **state) {
  (void)state;
  char *body;
  hitl_err err = {0};
  assert_int_equal(respond(&body, &err, "--lease", "l_1", "--approve", NULL), 0);
  assert_json_eq(body, "{\"lease_id\":\"l_1\",\"kind\":\"approve\"}");
  free(body);
  assert_int_equal(
      respond(&body, &err, "--reject", "--lease=l_1", "--comment", "wrong total", NULL), 0);
  assert_json_eq(body, "{\"lease_id\":\"l_1\",\"kind\":\"reject\",\"comment\":\"wrong total\"}");
  free(body);
  assert_int_equal(
      respond(&body, &err, "--lease", "l", "--label", "spam", "--question", "category", NULL), 0);
  assert_json_eq(
      body, "{\"lease_id\":\"l\",\"kind\":\"label\",\"value\":\"spam\",\"question\":\"category\"}");
  free(body);
  assert_int_equal(respond(&body, &err, "--lease", "l", "--labels", " urgent , billing", NULL), 0);
  assert_json_eq(body,
                 "{\"lease_id\":\"l\",\"kind\":\"labels\",\"value\":[\"urgent\",\"billing\"]}");
  free(body);
  assert_int_equal(respond(&body, &err, "--lease", "l", "--labels", "", NULL), 0);
  assert_json_eq(body, "{\"lease_id\":\"l\",\"kind\":\"labels\",\"value\":[]}");
  free(body);
  assert_int_equal(respond(&body, &err, "--lease", "l", "--rating", "4", NULL), 0);
  assert_json_eq(body, "{\"lease_id\":\"l\",\"kind\":\"rating\",\"value\":4}");
  assert_non_null(strstr(body, "\"value\":4")); /* An integer, not 4.0. */
  free(body);
  assert_int_equal(respond(&body, &err, "--lease", "l", "--rating", "3.5", NULL), 0);
  assert_json_eq(body, "{\"lease_id\":\"l\",\"kind\":\"rating\",\"value\":3.5}");
  free(body);
  assert_int_equal(respond(&body, &err, "--lease", "l", "--text", "He said \"hi\"\n", NULL), 0);
  assert_json_eq(body,
                 "{\"lease_id\":\"l\",\"kind\":\"text\",\"value\":\"He said \\\"hi\\\"\\n\"}");
  free(body);
  assert_int_equal(respond(&body, &err, "--lease", "l", "--skip", NULL), 0);
  assert_json_eq(body, "{\"lease_id\":\"l\",\"kind\":\"skip\"}");
  free(body);
  assert_int_equal(respond(&body, &err, "--escalate", "--lease", "l", NULL), 0);
  assert_json_eq(body, "{\"lease_id\":\"l\",\"kind\":\"escalate\"}");
  free(body);
}

static void test_respond_files(void **state) {
  (void)state;
  char *body;
  hitl_err err = {0};
  char path[64];
  temp_file(path, "{\"text\": \"fixed\", \"amount\": 12}\n");
  assert_int_equal(respond(&body, &err, "--lease", "l", "--modify", path, NULL), 0);
  assert_json_eq(
      body,
      "{\"lease_id\":\"l\",\"kind\":\"modify\",\"value\":{\"text\":\"fixed\",\"amount\":12}}");
  free(body);
  unlink(path);

  /* --json: the file is the body; lease_id, question and comment fill in what it lacks. */
  temp_file(path, "{\"kind\":\"ranking\",\"value\":[\"b\",\"a\"],\"question\":\"better\"}");
  assert_int_equal(respond(&body, &err, "--json", path, "--lease", "l_9", "--question", "other",
                           "--comment", "close call", NULL),
                   0);
  assert_json_eq(body,
                 "{\"lease_id\":\"l_9\",\"kind\":\"ranking\",\"value\":[\"b\",\"a\"],"
                 "\"question\":\"better\",\"comment\":\"close call\"}");
  free(body);
  unlink(path);
  temp_file(path, "{\"lease_id\":\"from_file\",\"kind\":\"approve\"}");
  assert_int_equal(respond(&body, &err, "--json", path, NULL), 0);
  assert_json_eq(body, "{\"lease_id\":\"from_file\",\"kind\":\"approve\"}");
  free(body);
  unlink(path);

  /* Bad files. */
  temp_file(path, "{\"text\": ");
  assert_int_equal(respond(&body, &err, "--lease", "l", "--modify", path, NULL),
                   HITL_EINVALID_JSON);
  assert_non_null(strstr(err.message, "line 1"));
  assert_null(body);
  assert_int_equal(respond(&body, &err, "--lease", "l", "--json", path, NULL), HITL_EINVALID_JSON);
  unlink(path);
  temp_file(path, "[1,2]");
  assert_int_equal(respond(&body, &err, "--lease", "l", "--json", path, NULL), HITL_EINVALID_JSON);
  assert_non_null(strstr(err.message, "object"));
  unlink(path);
  assert_int_equal(respond(&body, &err, "--lease", "l", "--modify", path, NULL), HITL_EINTERNAL);
}

static void test_respond_bad_lines(void **state) {
  (void)state;
  char *body;
  hitl_err err = {0};
  assert_int_equal(respond(&body, &err, "--lease", "l", NULL), HITL_EVALIDATION);
  assert_non_null(strstr(err.message, "--approve"));
  assert_int_equal(respond(&body, &err, "--approve", NULL), HITL_EVALIDATION);
  assert_string_equal(err.field, "lease");
  assert_int_equal(respond(&body, &err, "--lease", "l", "--approve", "--label", "x", NULL),
                   HITL_EVALIDATION);
  assert_non_null(strstr(err.message, "--approve and --label"));
  assert_int_equal(respond(&body, &err, "--lease", "l", "--approve", "--json", "-", NULL),
                   HITL_EVALIDATION);
  assert_int_equal(respond(&body, &err, "--lease", "l", "--rating", "good", NULL),
                   HITL_EVALIDATION);
  assert_int_equal(respond(&body, &err, "--lease", "l", "--rating", "", NULL), HITL_EVALIDATION);
  assert_int_equal(respond(&body, &err, "--lease", "l", "--rating", "inf", NULL), HITL_EVALIDATION);
  assert_int_equal(respond(&body, &err, "--lease", "l", "--labels", "a,,b", NULL),
                   HITL_EVALIDATION);
  assert_int_equal(respond(&body, &err, "--lease", "l", "--labels", "a,", NULL), HITL_EVALIDATION);
  assert_int_equal(respond(&body, &err, "--lease", "l", "--label", "\xff", NULL), HITL_EVALIDATION);
  assert_null(body);
}

/* ---- URLs ---- */

static void test_percent_encode(void **state) {
  (void)state;
  hitl_buf b = HITL_BUF_INIT;
  hitl__cli_percent_encode(&b, "AZaz09-._~");
  assert_string_equal(hitl_buf_cstr(&b), "AZaz09-._~");
  hitl_buf_reset(&b);
  hitl__cli_percent_encode(&b, "a b/c?d#e%f&g=h+i");
  assert_string_equal(hitl_buf_cstr(&b), "a%20b%2Fc%3Fd%23e%25f%26g%3Dh%2Bi");
  hitl_buf_reset(&b);
  hitl__cli_percent_encode(&b, "caf\xc3\xa9..");
  assert_string_equal(hitl_buf_cstr(&b), "caf%C3%A9..");
  hitl_buf_free(&b);
}

static void test_url_build(void **state) {
  (void)state;
  hitl_buf u = HITL_BUF_INIT;
  hitl_err err = {0};
  assert_int_equal(hitl__cli_url(&u, &err, "http://h:1//", "/v1/queues/%s/tasks", "my queue/1"), 0);
  assert_string_equal(hitl_buf_cstr(&u), "http://h:1/v1/queues/my%20queue%2F1/tasks");
  /* A path prefix in the base stays; the buffer is reset by each call. */
  assert_int_equal(hitl__cli_url(&u, &err, "https://h/hitl", "/v1/tasks/%s/%s", "t_1", ".."), 0);
  assert_string_equal(hitl_buf_cstr(&u), "https://h/hitl/v1/tasks/t_1/..");
  hitl__cli_url_query(&u, "wait", "30");
  hitl__cli_url_query(&u, "skip", NULL);
  hitl__cli_url_query(&u, "cursor", "a&b=c d");
  assert_string_equal(hitl_buf_cstr(&u),
                      "https://h/hitl/v1/tasks/t_1/..?wait=30&cursor=a%26b%3Dc%20d");
  assert_int_equal(hitl__cli_url(&u, &err, "http://h", "/100%%/%s", "x"), 0);
  assert_string_equal(hitl_buf_cstr(&u), "http://h/100%/x");
  assert_int_equal(hitl__cli_url(&u, &err, "http://h", "/v1/queues/%s/claim", ""),
                   HITL_EVALIDATION);
  assert_non_null(strstr(err.message, "segment 1"));
  hitl_buf_free(&u);
}

static void test_conn_init(void **state) {
  (void)state;
  hitl__cli_args a;
  hitl__cli_conn c;
  hitl_err err = {0};
  unsetenv("HITL_URL");
  unsetenv("HITL_TOKEN");
  assert_int_equal(parse(demo_options, &a, &err, "x", NULL), 0);
  assert_int_equal(hitl__cli_conn_init(&c, &a, &err), 0);
  assert_string_equal(c.base_url, "http://127.0.0.1:8080");
  assert_null(c.token);
  setenv("HITL_URL", "https://env:1", 1);
  setenv("HITL_TOKEN", "env_token", 1);
  assert_int_equal(hitl__cli_conn_init(&c, &a, &err), 0);
  assert_string_equal(c.base_url, "https://env:1");
  assert_string_equal(c.token, "env_token");
  /* Options beat the environment. */
  assert_int_equal(
      parse(demo_options, &a, &err, "x", "--url", "http://opt:2", "--token", "t2", NULL), 0);
  assert_int_equal(hitl__cli_conn_init(&c, &a, &err), 0);
  assert_string_equal(c.base_url, "http://opt:2");
  assert_string_equal(c.token, "t2");
  setenv("HITL_TOKEN", "", 1);
  assert_int_equal(parse(demo_options, &a, &err, "x", NULL), 0);
  assert_int_equal(hitl__cli_conn_init(&c, &a, &err), 0);
  assert_null(c.token);
  /* Bad values are refused; the message never quotes the token. */
  assert_int_equal(parse(demo_options, &a, &err, "x", "--url", "ftp://h", NULL), 0);
  assert_int_equal(hitl__cli_conn_init(&c, &a, &err), HITL_EVALIDATION);
  assert_int_equal(parse(demo_options, &a, &err, "x", "--token", "secret\r\nX-Evil: 1", NULL), 0);
  assert_int_equal(hitl__cli_conn_init(&c, &a, &err), HITL_EVALIDATION);
  assert_null(strstr(err.message, "secret"));
  unsetenv("HITL_URL");
  unsetenv("HITL_TOKEN");
}

/* ---- status codes and errors ---- */

static void test_exit_codes(void **state) {
  (void)state;
  static const struct {
    long status;
    int code;
  } cases[] = {{200, HITL_EXIT_OK},        {201, HITL_EXIT_OK},       {204, HITL_EXIT_OK},
               {400, HITL_EXIT_FAILURE},   {401, HITL_EXIT_AUTH},     {403, HITL_EXIT_AUTH},
               {404, HITL_EXIT_NOT_FOUND}, {409, HITL_EXIT_CONFLICT}, {413, HITL_EXIT_FAILURE},
               {429, HITL_EXIT_FAILURE},   {500, HITL_EXIT_SERVER},   {503, HITL_EXIT_SERVER},
               {302, HITL_EXIT_FAILURE},   {0, HITL_EXIT_FAILURE}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    assert_int_equal(hitl__cli_exit_code(cases[i].status), cases[i].code);
}

static void test_error_text(void **state) {
  (void)state;
  hitl_buf b = HITL_BUF_INIT;
  const char *e1 =
      "{\"error\":{\"code\":\"validation_failed\",\"message\":\"must be a number\","
      "\"field\":\"policy.rules[2].when\"}}";
  hitl__cli_error_text(&b, 400, e1, strlen(e1));
  assert_string_equal(hitl_buf_cstr(&b),
                      "hitl: validation_failed: must be a number (field: policy.rules[2].when)");
  hitl_buf_reset(&b);
  const char *e2 =
      "{\"error\":{\"code\":\"not_found\",\"message\":\"no such task\",\"field\":\"\"}}";
  hitl__cli_error_text(&b, 404, e2, strlen(e2));
  assert_string_equal(hitl_buf_cstr(&b), "hitl: not_found: no such task");
  hitl_buf_reset(&b);
  const char *e3 = "<html>Bad Gateway</html>\nmore";
  hitl__cli_error_text(&b, 502, e3, strlen(e3));
  assert_string_equal(hitl_buf_cstr(&b), "hitl: http_502: <html>Bad Gateway</html>");
  hitl_buf_reset(&b);
  hitl__cli_error_text(&b, 503, NULL, 0);
  assert_string_equal(hitl_buf_cstr(&b),
                      "hitl: http_503: the server answered 503 with no error body");
  hitl_buf_free(&b);
}

/* ---- output ---- */

static void test_pretty(void **state) {
  (void)state;
  /* The layout is jansson's JSON_INDENT(2) for a document without reals. */
  const char *doc =
      " {\"id\":\"t_1\", \"n\":[1, 2,{}], \"e\":[ ], \"o\":{\"s\":\"a,b:{[\\\"]}\"},"
      "\"t\":true,\"z\":null}\n";
  json_t *j = json_loads(doc, 0, NULL);
  assert_non_null(j);
  char *want = json_dumps(j, JSON_INDENT(2));
  hitl_buf b = HITL_BUF_INIT;
  hitl__cli_pretty(&b, doc, strlen(doc));
  assert_int_equal(b.data[b.len - 1], '\n');
  b.data[--b.len] = '\0';
  assert_string_equal(hitl_buf_cstr(&b), want);
  free(want);
  json_decref(j);
  /* Numbers keep their digits. */
  hitl_buf_reset(&b);
  const char *num = "{\"confidence\":0.8,\"big\":123456789012345678901234}";
  hitl__cli_pretty(&b, num, strlen(num));
  assert_string_equal(hitl_buf_cstr(&b),
                      "{\n  \"confidence\": 0.8,\n  \"big\": 123456789012345678901234\n}\n");
  hitl_buf_reset(&b);
  hitl__cli_pretty(&b, "\"x\"", 3);
  assert_string_equal(hitl_buf_cstr(&b), "\"x\"\n");
  hitl_buf_free(&b);
}

/* ---- batches of tasks ---- */

static void test_jsonl_batches(void **state) {
  (void)state;
  hitl_buf in = HITL_BUF_INIT;
  for (int i = 0; i < 2500; i++) {
    hitl_buf_printf(&in, "{\"input\":{\"n\":%d}}%s", i, i % 2 ? "\r\n" : "\n");
    if (i == 10) hitl_buf_puts(&in, "  \n\n"); /* Blank lines are skipped but counted. */
  }
  hitl__cli_span *spans = NULL;
  size_t n = 0;
  hitl_err err = {0};
  assert_int_equal(hitl__cli_jsonl_split(in.data, in.len, &spans, &n, &err), 0);
  assert_int_equal(n, 2500);
  assert_int_equal(spans[11].line, 14);
  hitl_buf body = HITL_BUF_INIT;
  size_t start = 0, count, sizes[4] = {0}, batches = 0;
  while ((count = hitl__cli_batch_body(&body, in.data, spans, n, start)) > 0) {
    assert_true(batches < 4);
    json_t *doc = json_loads(hitl_buf_cstr(&body), 0, NULL);
    json_t *tasks = json_object_get(doc, "tasks");
    assert_int_equal(json_array_size(tasks), count);
    json_t *first = json_object_get(json_object_get(json_array_get(tasks, 0), "input"), "n");
    json_t *last = json_object_get(json_object_get(json_array_get(tasks, count - 1), "input"), "n");
    assert_int_equal(json_integer_value(first), (json_int_t)start);
    assert_int_equal(json_integer_value(last), (json_int_t)(start + count - 1));
    json_decref(doc);
    sizes[batches++] = count;
    start += count;
  }
  assert_int_equal(batches, 3);
  assert_int_equal(sizes[0], 1000);
  assert_int_equal(sizes[1], 1000);
  assert_int_equal(sizes[2], 500);
  assert_int_equal(hitl__cli_batch_body(&body, in.data, spans, n, 2500), 0);
  free(spans);
  hitl_buf_free(&body);
  hitl_buf_free(&in);
}

static void test_jsonl_edges(void **state) {
  (void)state;
  hitl__cli_span *spans = NULL;
  size_t n = 99;
  hitl_err err = {0};
  const char *last_no_newline = "{\"a\":1}\n{\"a\":2}";
  assert_int_equal(
      hitl__cli_jsonl_split(last_no_newline, strlen(last_no_newline), &spans, &n, &err), 0);
  assert_int_equal(n, 2);
  assert_int_equal(spans[1].len, 7);
  free(spans);
  assert_int_equal(hitl__cli_jsonl_split("", 0, &spans, &n, &err), 0);
  assert_int_equal(n, 0);
  assert_null(spans);
  const char *bad = "{\"a\":1}\n\n{\"a\":\n{\"a\":3}\n";
  assert_int_equal(hitl__cli_jsonl_split(bad, strlen(bad), &spans, &n, &err), HITL_EINVALID_JSON);
  assert_non_null(strstr(err.message, "line 3"));
  assert_null(spans);
  assert_int_equal(n, 0);
  const char *not_object = "{\"a\":1}\n[1]\n";
  assert_int_equal(hitl__cli_jsonl_split(not_object, strlen(not_object), &spans, &n, &err),
                   HITL_EINVALID_JSON);
  assert_non_null(strstr(err.message, "line 2: a task must be a JSON object"));
  const char *scalar = "42\n";
  assert_int_equal(hitl__cli_jsonl_split(scalar, strlen(scalar), &spans, &n, &err),
                   HITL_EINVALID_JSON);
}

static void test_array_batches(void **state) {
  (void)state;
  hitl_buf in = HITL_BUF_INIT, text = HITL_BUF_INIT, body = HITL_BUF_INIT;
  hitl_buf_putc(&in, '[');
  for (int i = 0; i < 1001; i++) hitl_buf_printf(&in, "%s{\"input\":{\"n\":%d}}", i ? "," : "", i);
  hitl_buf_putc(&in, ']');
  hitl__cli_span *spans = NULL;
  size_t n = 0;
  hitl_err err = {0};
  assert_int_equal(hitl__cli_array_split(in.data, in.len, &text, &spans, &n, &err), 0);
  assert_int_equal(n, 1001);
  assert_int_equal(spans[1000].line, 1001);
  assert_int_equal(hitl__cli_batch_body(&body, text.data, spans, n, 0), 1000);
  assert_int_equal(hitl__cli_batch_body(&body, text.data, spans, n, 1000), 1);
  assert_string_equal(hitl_buf_cstr(&body), "{\"tasks\":[{\"input\":{\"n\":1000}}]}");
  free(spans);
  hitl_buf_reset(&text);
  const char *mixed = "[{\"a\":1}, 2]";
  assert_int_equal(hitl__cli_array_split(mixed, strlen(mixed), &text, &spans, &n, &err),
                   HITL_EINVALID_JSON);
  assert_non_null(strstr(err.message, "task 2"));
  assert_null(spans);
  hitl_buf_reset(&text);
  assert_int_equal(hitl__cli_array_split("{}", 2, &text, &spans, &n, &err), HITL_EINVALID_JSON);
  hitl_buf_free(&in);
  hitl_buf_free(&text);
  hitl_buf_free(&body);
}

static void test_list_json(void **state) {
  (void)state;
  json_t *arr = NULL;
  hitl_err err = {0};
  assert_int_equal(hitl__cli_list_json("agent,arbiter", "roles", &arr, &err), 0);
  char *s = json_dumps(arr, JSON_COMPACT);
  assert_string_equal(s, "[\"agent\",\"arbiter\"]");
  free(s);
  json_decref(arr);
  assert_int_equal(hitl__cli_list_json(",", "roles", &arr, &err), HITL_EVALIDATION);
  assert_string_equal(err.field, "roles");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_args_anywhere),
      cmocka_unit_test(test_args_bad),
      cmocka_unit_test(test_parse_count),
      cmocka_unit_test(test_read_input),
      cmocka_unit_test(test_respond_kinds),
      cmocka_unit_test(test_respond_files),
      cmocka_unit_test(test_respond_bad_lines),
      cmocka_unit_test(test_percent_encode),
      cmocka_unit_test(test_url_build),
      cmocka_unit_test(test_conn_init),
      cmocka_unit_test(test_exit_codes),
      cmocka_unit_test(test_error_text),
      cmocka_unit_test(test_pretty),
      cmocka_unit_test(test_jsonl_batches),
      cmocka_unit_test(test_jsonl_edges),
      cmocka_unit_test(test_array_batches),
      cmocka_unit_test(test_list_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
