/* SPDX-License-Identifier: MIT */
/* The decision record of a task, as JSON, for each way a task can be decided. */
#ifndef HITL_CORE_DECISION_H
#define HITL_CORE_DECISION_H

#include <stdint.h>

#include "core/consensus.h"
#include "core/queue.h"

/* Outcomes a decision can carry. */
#define HITL_OUTCOME_APPROVE "approve"
#define HITL_OUTCOME_REJECT "reject"
#define HITL_OUTCOME_MODIFY "modify"
#define HITL_OUTCOME_ANSWERED "answered" /* No approve question has a winning answer. */
#define HITL_OUTCOME_EXPIRED "expired"

/* {"by":"policy","outcome":..,"rule":..,"decided_at":..}; malloc'd, caller frees. */
char *hitl__decision_policy(const char *outcome, const char *rule, int64_t now);
/* {"by":"sla","outcome":..,"decided_at":..}; malloc'd, caller frees. */
char *hitl__decision_sla(const char *outcome, int64_t now);
/* {"by":by,"outcome":..,"answers":{question:{"kind","value","reviewer"}},"reviewers":[..],
 * "decided_at":..} from agreed consensus. Sets *outcome to a static outcome string. */
char *hitl__decision_human(const hitl_queue_config *q, const hitl_consensus_result *r,
                           const char *by, const hitl_response *responses, size_t n,
                           int64_t now, const char **outcome);

#endif
