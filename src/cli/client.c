/* SPDX-License-Identifier: MIT */
/* The client's HTTP helper: builds URLs, talks to the server over libcurl, prints its answers. */
#include "cli/client.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/commands.h"
#include "hitl/version.h"

int hitl__cli_conn_init(hitl__cli_conn *c, const hitl__cli_args *a, hitl_err *err) {
  const char *url = a->url ? a->url : getenv("HITL_URL");
  if (url == NULL || url[0] == '\0') url = HITL__CLI_DEFAULT_URL;
  const char *token = a->token ? a->token : getenv("HITL_TOKEN");
  if (token && token[0] == '\0') token = NULL;
  if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
    return hitl_err_set(err, HITL_EVALIDATION, "url",
                        "the server URL must start with http:// or https://, not '%s'", url);
  for (const char *p = token; p && *p; p++)
    if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
      return hitl_err_set(err, HITL_EVALIDATION, "token",
                          "the token holds a space or control character; check HITL_TOKEN");
  c->base_url = url;
  c->token = token;
  return 0;
}

void hitl__cli_percent_encode(hitl_buf *out, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    unsigned char ch = *p;
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
        ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      hitl_buf_putc(out, (char)ch);
    } else {
      char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
      hitl_buf_append(out, esc, 3);
    }
  }
}

int hitl__cli_url(hitl_buf *out, hitl_err *err, const char *base, const char *pattern, ...) {
  hitl_buf_reset(out);
  size_t base_len = strlen(base);
  while (base_len > 0 && base[base_len - 1] == '/') base_len--;
  hitl_buf_append(out, base, base_len);
  va_list ap;
  va_start(ap, pattern);
  int rc = 0, segment = 0;
  for (const char *p = pattern; *p; p++) {
    if (p[0] == '%' && p[1] == 's') {
      const char *s = va_arg(ap, const char *);
      segment++;
      if (s == NULL || s[0] == '\0') {
        rc = hitl_err_set(err, HITL_EVALIDATION, NULL, "segment %d of the path is empty", segment);
        break;
      }
      hitl__cli_percent_encode(out, s);
      p++;
    } else if (p[0] == '%' && p[1] == '%') {
      hitl_buf_putc(out, '%');
      p++;
    } else {
      hitl_buf_putc(out, *p);
    }
  }
  va_end(ap);
  return rc;
}

void hitl__cli_url_query(hitl_buf *out, const char *name, const char *value) {
  if (value == NULL) return;
  hitl_buf_putc(out, strchr(hitl_buf_cstr(out), '?') ? '&' : '?');
  hitl__cli_percent_encode(out, name);
  hitl_buf_putc(out, '=');
  hitl__cli_percent_encode(out, value);
}

int hitl__cli_exit_code(long status) {
  if (status >= 200 && status < 300) return HITL_EXIT_OK;
  if (status == 401 || status == 403) return HITL_EXIT_AUTH;
  if (status == 404) return HITL_EXIT_NOT_FOUND;
  if (status == 409) return HITL_EXIT_CONFLICT;
  if (status >= 500 && status < 600) return HITL_EXIT_SERVER;
  return HITL_EXIT_FAILURE;
}

/* Returns the string member key of o, or NULL. */
static const char *member_string(const json_t *o, const char *key) {
  const json_t *v = json_object_get(o, key);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

void hitl__cli_error_text(hitl_buf *out, long status, const char *body, size_t len) {
  json_t *doc = len ? json_loadb(body, len, JSON_ALLOW_NUL, NULL) : NULL;
  const json_t *e = json_object_get(doc, "error");
  const char *code = member_string(e, "code");
  if (code) {
    const char *message = member_string(e, "message");
    const char *field = member_string(e, "field");
    hitl_buf_printf(out, "hitl: %s: %s", code, message ? message : "(no message)");
    if (field && field[0]) hitl_buf_printf(out, " (field: %s)", field);
  } else {
    /* Not our error format (a proxy, an old server): show the first line of what came. */
    size_t n = 0;
    while (n < len && n < 200 && body[n] != '\n' && body[n] != '\r') n++;
    hitl_buf_printf(out, "hitl: http_%ld: ", status);
    if (n)
      hitl_buf_append(out, body, n);
    else
      hitl_buf_printf(out, "the server answered %ld with no error body", status);
  }
  json_decref(doc);
}

/* Appends a newline and two spaces per level. */
static void newline(hitl_buf *out, int depth) {
  hitl_buf_putc(out, '\n');
  for (int i = 0; i < depth; i++) hitl_buf_append(out, "  ", 2);
}

/* Returns the index of the first byte at or after i that is not JSON whitespace. */
static size_t skip_space(const char *s, size_t len, size_t i) {
  while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  return i;
}

void hitl__cli_pretty(hitl_buf *out, const char *json, size_t len) {
  int depth = 0;
  size_t i = skip_space(json, len, 0);
  while (i < len) {
    char ch = json[i];
    if (ch == '"') {
      size_t start = i++;
      while (i < len && json[i] != '"') i += json[i] == '\\' ? 2 : 1;
      i = i < len ? i + 1 : len;
      hitl_buf_append(out, json + start, i - start);
    } else if (ch == '{' || ch == '[') {
      size_t next = skip_space(json, len, i + 1);
      if (next < len && json[next] == (ch == '{' ? '}' : ']')) {
        hitl_buf_append(out, ch == '{' ? "{}" : "[]", 2);
        i = next + 1;
      } else {
        hitl_buf_putc(out, ch);
        newline(out, ++depth);
        i = next;
      }
    } else if (ch == '}' || ch == ']') {
      newline(out, --depth);
      hitl_buf_putc(out, ch);
      i++;
    } else if (ch == ',') {
      hitl_buf_putc(out, ',');
      newline(out, depth);
      i = skip_space(json, len, i + 1);
    } else if (ch == ':') {
      hitl_buf_append(out, ": ", 2);
      i = skip_space(json, len, i + 1);
    } else {
      size_t start = i;
      while (i < len && !strchr(",:]} \t\r\n", json[i])) i++;
      hitl_buf_append(out, json + start, i - start);
    }
    i = skip_space(json, len, i);
  }
  hitl_buf_putc(out, '\n');
}

void hitl__cli_print_body(FILE *f, const char *body, size_t len) {
  if (len == 0) return;
  json_t *doc = json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  if (doc == NULL) {
    fwrite(body, 1, len, f);
    if (body[len - 1] != '\n') fputc('\n', f);
    return;
  }
  json_decref(doc);
  hitl_buf pretty = HITL_BUF_INIT;
  hitl__cli_pretty(&pretty, body, len);
  fwrite(pretty.data, 1, pretty.len, f);
  hitl_buf_free(&pretty);
}

/* State of one transfer for the write callback. */
typedef struct transfer {
  CURL *curl;
  hitl__cli_reply *reply;
  FILE *sink;      /* Where a 2xx body goes, or NULL to keep it in reply->body. */
  int sink_failed; /* Set when writing to the sink failed. */
} transfer;

static size_t on_data(char *data, size_t size, size_t count, void *userdata) {
  transfer *t = userdata;
  size_t n = size * count;
  if (t->sink) {
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      if (fwrite(data, 1, n, t->sink) == n) return n;
      t->sink_failed = 1;
      return 0;
    }
  }
  hitl_buf_append(&t->reply->body, data, n);
  return n;
}

int hitl__cli_http(const hitl__cli_conn *c, const char *method, const char *url, const char *body,
                   size_t body_len, const char *extra_header, FILE *sink, hitl__cli_reply *r,
                   hitl_err *err) {
  r->status = 0;
  hitl_buf_init(&r->body);
  struct curl_slist *headers = NULL;
  hitl_buf auth = HITL_BUF_INIT;
  char curl_message[CURL_ERROR_SIZE] = "";
  transfer t = {.reply = r, .sink = sink};
  int rc = 0;
  CURL *curl = curl_easy_init();
  if (curl == NULL) {
    rc = hitl_err_set(err, HITL_EUNAVAILABLE, NULL, "cannot start libcurl");
    goto cleanup;
  }
  t.curl = curl;
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, "Expect:"); /* No 100-continue round trip. */
  if (body) headers = curl_slist_append(headers, "Content-Type: application/json");
  if (extra_header) headers = curl_slist_append(headers, extra_header);
  if (c->token) {
    hitl_buf_printf(&auth, "Authorization: Bearer %s", c->token);
    headers = curl_slist_append(headers, auth.data);
  }
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  /* A server with its own certificate authority (hitl serve --tls-cert): trust that one. */
  const char *ca = getenv("HITL_CACERT");
  if (ca && *ca) curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "hitl/" HITL_VERSION);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_message);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  if (strcmp(method, "GET") != 0) {
    /* POSTFIELDS with an explicit size sends the body as it is, also an empty one. */
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
    if (strcmp(method, "POST") != 0) curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  }
  CURLcode cc = curl_easy_perform(curl);
  if (t.sink_failed) {
    rc = hitl_err_set(err, HITL_EUNAVAILABLE, NULL, "cannot write the answer to the output");
    goto cleanup;
  }
  if (cc != CURLE_OK) {
    rc = hitl_err_set(err, HITL_EUNAVAILABLE, NULL, "%s: %s", c->base_url,
                      curl_message[0] ? curl_message : curl_easy_strerror(cc));
    goto cleanup;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
cleanup:
  if (rc < 0) hitl_buf_free(&r->body);
  curl_easy_cleanup(curl);
  curl_slist_free_all(headers);
  hitl_buf_free(&auth);
  return rc;
}

int hitl__cli_report(const hitl__cli_conn *c, const hitl__cli_reply *r) {
  int code = hitl__cli_exit_code(r->status);
  if (code == HITL_EXIT_OK) {
    hitl__cli_print_body(stdout, r->body.data, r->body.len);
    return code;
  }
  hitl_buf line = HITL_BUF_INIT;
  hitl__cli_error_text(&line, r->status, r->body.data, r->body.len);
  fprintf(stderr, "%s\n", hitl_buf_cstr(&line));
  if (r->status == 401 && c->token == NULL)
    fprintf(stderr, "hitl: hint: give a token with --token or HITL_TOKEN\n");
  hitl_buf_free(&line);
  return code;
}

int hitl__cli_fail(const hitl_err *err) {
  /* A file that cannot be read is no wire error: no code then. */
  if (err->code == HITL_EINTERNAL)
    fprintf(stderr, "hitl: %s", err->message);
  else
    fprintf(stderr, "hitl: %s: %s", hitl_err_code(err->code), err->message);
  if (err->field[0]) fprintf(stderr, " (field: %s)", err->field);
  fputc('\n', stderr);
  return err->code == HITL_EVALIDATION ? HITL_EXIT_USAGE : HITL_EXIT_FAILURE;
}

int hitl__cli_unreachable(const hitl_err *err) {
  fprintf(stderr, "hitl: unreachable: %s\n", err->message);
  return HITL_EXIT_UNREACHABLE;
}

int hitl__cli_call(const hitl__cli_conn *c, const char *method, const char *url, const char *body,
                   size_t body_len, const char *extra_header) {
  hitl__cli_reply r;
  hitl_err err = {0};
  if (hitl__cli_http(c, method, url, body, body_len, extra_header, NULL, &r, &err) < 0)
    return hitl__cli_unreachable(&err);
  int code = hitl__cli_report(c, &r);
  hitl_buf_free(&r.body);
  return code;
}

int hitl__cli_get_page(const hitl__cli_conn *c, const hitl__cli_args *a, hitl_buf *url,
                       const char *usage) {
  const char *limit = hitl__cli_opt(a, "limit");
  long long n = 0;
  hitl_err err = {0};
  /* The server says which limits it takes; here only that it is a count. */
  if (limit && hitl__cli_parse_count(limit, "limit", 1000000, &n, &err) < 0)
    return hitl__cli_usage_error(usage, "%s", err.message);
  hitl__cli_url_query(url, "state", hitl__cli_opt(a, "state"));
  hitl__cli_url_query(url, "limit", limit);
  hitl__cli_url_query(url, "cursor", hitl__cli_opt(a, "cursor"));
  return hitl__cli_call(c, "GET", url->data, NULL, 0, NULL);
}
