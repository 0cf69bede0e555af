/* SPDX-License-Identifier: MIT */
/* Builds decision JSON: who decided, the outcome, and for people the answers that won. */
#include "core/decision.h"

#include <string.h>

#include "util/buf.h"
#include "util/clock.h"

static void put_time(hitl_buf *b, const char *key, int64_t ms) {
  char ts[HITL_TIME_LEN];
  hitl_time_format(ms, ts);
  hitl_buf_printf(b, ",\"%s\":\"%s\"", key, ts);
}

char *hitl__decision_policy(const char *outcome, const char *rule, int64_t now) {
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_printf(&b, "{\"by\":\"policy\",\"outcome\":\"%s\",\"rule\":", outcome);
  hitl_buf_json_cstr(&b, rule);
  put_time(&b, "decided_at", now);
  hitl_buf_putc(&b, '}');
  return hitl_buf_detach(&b);
}

char *hitl__decision_sla(const char *outcome, int64_t now) {
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_printf(&b, "{\"by\":\"sla\",\"outcome\":\"%s\"", outcome);
  put_time(&b, "decided_at", now);
  hitl_buf_putc(&b, '}');
  return hitl_buf_detach(&b);
}

static const char *outcome_of(const hitl_queue_config *q, const hitl_consensus_result *r) {
  for (size_t i = 0; i < q->n_questions && i < r->n_winners; i++) {
    if (q->questions[i].type != HITL_QUESTION_APPROVE || r->winners[i] == NULL) continue;
    const char *k = r->winners[i]->kind;
    if (strcmp(k, "approve") == 0) return HITL_OUTCOME_APPROVE;
    if (strcmp(k, "reject") == 0) return HITL_OUTCOME_REJECT;
    if (strcmp(k, "modify") == 0) return HITL_OUTCOME_MODIFY;
  }
  return HITL_OUTCOME_ANSWERED;
}

char *hitl__decision_human(const hitl_queue_config *q, const hitl_consensus_result *r,
                           const char *by, const hitl_response *responses, size_t n,
                           int64_t now, const char **outcome) {
  *outcome = outcome_of(q, r);
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_printf(&b, "{\"by\":\"%s\",\"outcome\":\"%s\",\"answers\":{", by, *outcome);
  bool first = true;
  for (size_t i = 0; i < r->n_winners; i++) {
    const hitl_response *w = r->winners[i];
    if (w == NULL) continue;
    if (!first) hitl_buf_putc(&b, ',');
    first = false;
    hitl_buf_json_cstr(&b, q->questions[i].name);
    hitl_buf_puts(&b, ":{\"kind\":");
    hitl_buf_json_cstr(&b, w->kind);
    hitl_buf_puts(&b, ",\"value\":");
    hitl_buf_puts(&b, w->value ? w->value : "null");
    hitl_buf_puts(&b, "}");
  }
  hitl_buf_puts(&b, "},\"reviewers\":[");
  /* Distinct reviewers in order of their first answer. */
  size_t written = 0;
  for (size_t i = 0; i < n; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      seen = strcmp(responses[j].reviewer, responses[i].reviewer) == 0;
    if (seen) continue;
    if (written++) hitl_buf_putc(&b, ',');
    hitl_buf_json_cstr(&b, responses[i].reviewer);
  }
  hitl_buf_putc(&b, ']');
  put_time(&b, "decided_at", now);
  hitl_buf_putc(&b, '}');
  return hitl_buf_detach(&b);
}
