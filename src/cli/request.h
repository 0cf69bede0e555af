/* SPDX-License-Identifier: MIT */
/* Request bodies built from command-line input: responses, token roles, and task batches. */
#ifndef HITL_CLI_REQUEST_H
#define HITL_CLI_REQUEST_H

#include <jansson.h>
#include <stddef.h>

#include "cli/args.h"
#include "hitl/error.h"
#include "util/buf.h"

#define HITL__CLI_BATCH_MAX 1000 /* Tasks per POST .../tasks/batch, the server's limit. */

/* The options of `hitl respond`, for hitl__cli_args_parse. */
extern const hitl__cli_optspec hitl__cli_respond_options[];

/* Builds the body of POST /v1/tasks/ID/responses from a parsed `hitl respond` line:
 * {"lease_id","kind","value","question","comment"} with exactly one kind option (--approve,
 * --reject, --modify FILE, --label X, --labels a,b, --rating N, --text S, --skip, --escalate), or
 * the object in --json FILE completed with lease_id, question and comment when it lacks them.
 * On success sets *body (compact JSON, caller frees) and returns 0. Returns HITL_EVALIDATION for a
 * bad command line, HITL_EINVALID_JSON for a file that is not the JSON it should be, and
 * HITL_EINTERNAL for a file that cannot be read; err says which. */
int hitl__cli_respond_body(const hitl__cli_args *a, char **body, hitl_err *err);

/* Sets *out to a new JSON array (caller decrefs) of the comma-separated items of list, each
 * trimmed of spaces: "a, b" gives ["a","b"], "" gives []. Returns 0, or HITL_EVALIDATION (err
 * field: what) when an item is empty. */
int hitl__cli_list_json(const char *list, const char *what, json_t **out, hitl_err *err);

/* One task's JSON text inside a larger text. */
typedef struct hitl__cli_span {
  size_t offset; /* First byte. */
  size_t len;    /* Bytes. */
  size_t line;   /* 1-based input line (JSON Lines) or array index + 1 (array input). */
} hitl__cli_span;

/* Splits JSON Lines text into the spans of its tasks, checking that each non-blank line is a JSON
 * object (blank lines and a final line without newline are fine; "\r\n" ends a line too). On
 * success sets *spans (caller frees) and *n and returns 0; otherwise returns HITL_EINVALID_JSON
 * with err naming the line ("line 7: ..."). */
int hitl__cli_jsonl_split(const char *text, size_t len, hitl__cli_span **spans, size_t *n,
                          hitl_err *err);

/* Same for a JSON array: each element must be an object; its compact JSON is appended to text
 * (which must be empty on entry), one element per line, and the spans point into text. */
int hitl__cli_array_split(const char *json, size_t len, hitl_buf *text, hitl__cli_span **spans,
                          size_t *n, hitl_err *err);

/* Writes into out (reset first) the batch body {"tasks":[...]} of the tasks spans[start..], at most
 * HITL__CLI_BATCH_MAX of them, copying their text from text as it is. Returns the number of tasks
 * in the batch: 0 when start >= n. */
size_t hitl__cli_batch_body(hitl_buf *out, const char *text, const hitl__cli_span *spans, size_t n,
                            size_t start);

#endif
