/* SPDX-License-Identifier: MIT */
/* Finding the queue a request names, with the errors a bad or unknown name deserves. */
#ifndef HITL_API_QUEUE_LOOKUP_H
#define HITL_API_QUEUE_LOOKUP_H

#include "api/http.h"
#include "api/registry.h"

/* The queue named name with a reference the caller releases; on a bad name (400) or an unknown
 * queue (404) answers the request and returns NULL. */
hitl_queue_ref *hitl__queue_lookup(hitl_request *req, const char *name);

#endif
