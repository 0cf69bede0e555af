/* SPDX-License-Identifier: MIT */
/* Request bodies from command-line input: a reviewer's response, lists, and batches of tasks. */
#include "cli/request.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

const hitl__cli_optspec hitl__cli_respond_options[] = {
    {"lease", 1},  {"approve", 0}, {"reject", 0},   {"modify", 1}, {"label", 1},
    {"labels", 1}, {"rating", 1},  {"text", 1},     {"skip", 0},   {"escalate", 0},
    {"json", 1},   {"question", 1}, {"comment", 1}, {NULL, 0},
};

/* The options that choose the kind of answer; the kind is the option's name. */
static const char *const kind_options[] = {"approve", "reject", "modify",   "label", "labels",
                                           "rating",  "text",   "skip",     "escalate"};
#define NKINDS (sizeof kind_options / sizeof kind_options[0])

/* Reads the file at path ("-": standard input) as JSON of any type into *out. */
static int load_json_file(const char *path, const char *what, json_t **out, hitl_err *err) {
  hitl_buf text = HITL_BUF_INIT;
  int rc = hitl__cli_read_input(path, &text, err);
  if (rc < 0) goto cleanup;
  json_error_t jerr;
  *out = json_loadb(text.data ? text.data : "", text.len, JSON_DECODE_ANY, &jerr);
  if (*out == NULL)
    rc = hitl_err_set(err, HITL_EINVALID_JSON, what, "%s: line %d column %d: %s",
                      strcmp(path, "-") == 0 ? "standard input" : path, jerr.line, jerr.column,
                      jerr.text);
cleanup:
  hitl_buf_free(&text);
  return rc;
}

/* Parses a rating: a whole number becomes a JSON integer, a decimal a JSON real. */
static int parse_rating(const char *s, json_t **out, hitl_err *err) {
  errno = 0;
  char *end = NULL;
  int integral = strspn(s, "-0123456789") == strlen(s);
  if (integral) {
    long long v = strtoll(s, &end, 10);
    if (s[0] != '\0' && *end == '\0' && errno == 0) {
      *out = json_integer(v);
      return 0;
    }
  } else {
    double v = strtod(s, &end);
    if (s[0] != '\0' && *end == '\0' && errno == 0 && isfinite(v)) {
      *out = json_real(v);
      return 0;
    }
  }
  return hitl_err_set(err, HITL_EVALIDATION, "rating", "--rating must be a number, not '%s'", s);
}

int hitl__cli_list_json(const char *list, const char *what, json_t **out, hitl_err *err) {
  json_t *arr = json_array();
  const char *p = list;
  while (*p == ' ') p++;
  if (*p == '\0') goto done;
  for (;;) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    size_t start = 0;
    while (start < n && p[start] == ' ') start++;
    while (n > start && p[n - 1] == ' ') n--;
    if (n == start) {
      json_decref(arr);
      return hitl_err_set(err, HITL_EVALIDATION, what, "--%s has an empty item in '%s'", what,
                          list);
    }
    json_array_append_new(arr, json_stringn(p + start, n - start));
    if (end == NULL) break;
    p = end + 1;
  }
done:
  *out = arr;
  return 0;
}

/* Sets key of o to the string value when value is given and o lacks key. */
static void fill_string(json_t *o, const char *key, const char *value) {
  if (value && json_object_get(o, key) == NULL) json_object_set_new(o, key, json_string(value));
}

int hitl__cli_respond_body(const hitl__cli_args *a, char **body, hitl_err *err) {
  json_t *doc = NULL, *value = NULL;
  int rc = 0;
  const char *kind = NULL;
  for (size_t i = 0; i < NKINDS; i++) {
    if (hitl__cli_opt(a, kind_options[i]) == NULL) continue;
    if (kind) {
      rc = hitl_err_set(err, HITL_EVALIDATION, NULL,
                        "give one kind of answer, not both --%s and --%s", kind, kind_options[i]);
      goto cleanup;
    }
    kind = kind_options[i];
  }
  const char *json_file = hitl__cli_opt(a, "json");
  const char *lease = hitl__cli_opt(a, "lease");
  if (json_file) {
    if (kind) {
      rc = hitl_err_set(err, HITL_EVALIDATION, NULL,
                        "--json gives the whole answer; leave out --%s", kind);
      goto cleanup;
    }
    if ((rc = load_json_file(json_file, "json", &doc, err)) < 0) goto cleanup;
    if (!json_is_object(doc)) {
      rc = hitl_err_set(err, HITL_EINVALID_JSON, "json", "the --json file must hold a JSON object");
      goto cleanup;
    }
  } else {
    if (kind == NULL) {
      rc = hitl_err_set(err, HITL_EVALIDATION, NULL,
                        "say what the answer is: --approve, --reject, --modify, --label, "
                        "--labels, --rating, --text, --skip, --escalate or --json");
      goto cleanup;
    }
    const char *arg = hitl__cli_opt(a, kind);
    if (strcmp(kind, "modify") == 0)
      rc = load_json_file(arg, "modify", &value, err);
    else if (strcmp(kind, "labels") == 0)
      rc = hitl__cli_list_json(arg, "labels", &value, err);
    else if (strcmp(kind, "rating") == 0)
      rc = parse_rating(arg, &value, err);
    else if (strcmp(kind, "label") == 0 || strcmp(kind, "text") == 0)
      value = json_string(arg);
    if (rc < 0) goto cleanup;
    if ((strcmp(kind, "label") == 0 || strcmp(kind, "text") == 0) && value == NULL) {
      rc = hitl_err_set(err, HITL_EVALIDATION, kind, "--%s must be UTF-8 text", kind);
      goto cleanup;
    }
    doc = json_object();
    json_object_set_new(doc, "kind", json_string(kind));
    if (value) json_object_set(doc, "value", value);
  }
  fill_string(doc, "lease_id", lease);
  fill_string(doc, "question", hitl__cli_opt(a, "question"));
  fill_string(doc, "comment", hitl__cli_opt(a, "comment"));
  if (!json_is_string(json_object_get(doc, "lease_id"))) {
    rc = hitl_err_set(err, HITL_EVALIDATION, "lease", "--lease LEASE_ID is required (from claim)");
    goto cleanup;
  }
  *body = json_dumps(doc, JSON_COMPACT);
  if (*body == NULL)
    rc = hitl_err_set(err, HITL_EINVALID_JSON, NULL, "the answer is not valid JSON");
cleanup:
  json_decref(value);
  json_decref(doc);
  return rc;
}

/* Adds a span to the growing array *spans of *n entries. */
static void push_span(hitl__cli_span **spans, size_t *n, size_t offset, size_t len, size_t line) {
  if ((*n & (*n - 1)) == 0) /* Grow at powers of two: 1, 2, 4, ... */
    *spans = hitl_xrealloc(*spans, (*n ? *n * 2 : 1) * sizeof **spans);
  (*spans)[(*n)++] = (hitl__cli_span){offset, len, line};
}

int hitl__cli_jsonl_split(const char *text, size_t len, hitl__cli_span **spans, size_t *n,
                          hitl_err *err) {
  *spans = NULL;
  *n = 0;
  size_t line = 0, pos = 0;
  while (pos < len) {
    line++;
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - text) : len;
    size_t start = pos, stop = end;
    pos = nl ? end + 1 : len;
    while (start < stop && strchr(" \t\r", text[start])) start++;
    while (stop > start && strchr(" \t\r", text[stop - 1])) stop--;
    if (start == stop) continue;
    json_error_t jerr;
    json_t *task = json_loadb(text + start, stop - start, 0, &jerr);
    int is_object = json_is_object(task);
    json_decref(task);
    if (!is_object) {
      free(*spans);
      *spans = NULL;
      *n = 0;
      if (task == NULL)
        return hitl_err_set(err, HITL_EINVALID_JSON, NULL, "line %zu: column %d: %s", line,
                            jerr.column, jerr.text);
      return hitl_err_set(err, HITL_EINVALID_JSON, NULL, "line %zu: a task must be a JSON object",
                          line);
    }
    push_span(spans, n, start, stop - start, line);
  }
  return 0;
}

int hitl__cli_array_split(const char *json, size_t len, hitl_buf *text, hitl__cli_span **spans,
                          size_t *n, hitl_err *err) {
  *spans = NULL;
  *n = 0;
  json_error_t jerr;
  json_t *arr = json_loadb(json, len, 0, &jerr);
  int rc = 0;
  if (!json_is_array(arr)) {
    rc = hitl_err_set(err, HITL_EINVALID_JSON, NULL, "the input is not a JSON array");
    goto cleanup;
  }
  size_t i;
  json_t *task;
  json_array_foreach(arr, i, task) {
    if (!json_is_object(task)) {
      rc = hitl_err_set(err, HITL_EINVALID_JSON, NULL, "task %zu of the array is not a JSON object",
                        i + 1);
      goto cleanup;
    }
    char *compact = json_dumps(task, JSON_COMPACT);
    if (compact == NULL) {
      rc = hitl_err_set(err, HITL_EINVALID_JSON, NULL, "task %zu cannot be written as JSON", i + 1);
      goto cleanup;
    }
    size_t offset = text->len;
    hitl_buf_puts(text, compact);
    push_span(spans, n, offset, text->len - offset, i + 1);
    hitl_buf_putc(text, '\n');
    free(compact);
  }
cleanup:
  if (rc < 0) {
    free(*spans);
    *spans = NULL;
    *n = 0;
  }
  json_decref(arr);
  return rc;
}

size_t hitl__cli_batch_body(hitl_buf *out, const char *text, const hitl__cli_span *spans, size_t n,
                            size_t start) {
  hitl_buf_reset(out);
  if (start >= n) return 0;
  size_t count = n - start < HITL__CLI_BATCH_MAX ? n - start : HITL__CLI_BATCH_MAX;
  hitl_buf_puts(out, "{\"tasks\":[");
  for (size_t i = 0; i < count; i++) {
    if (i) hitl_buf_putc(out, ',');
    hitl_buf_append(out, text + spans[start + i].offset, spans[start + i].len);
  }
  hitl_buf_puts(out, "]}");
  return count;
}
