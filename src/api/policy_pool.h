/* SPDX-License-Identifier: MIT */
/* Policy workers: threads that route submitted tasks, so that no HTTP thread waits on a policy. */
#ifndef HITL_API_POLICY_POOL_H
#define HITL_API_POLICY_POOL_H

/* Policy workers a server starts: two keep one long evaluation from holding up every submit. */
#define HITL_POLICY_WORKERS 2

typedef struct hitl_policy_pool hitl_policy_pool;
typedef struct hitl_policy_work hitl_policy_work;

/* Does the work on a policy worker. It may block on nothing but its own computation (a policy
 * evaluation is bounded: see core/policy_regex.h); it answers or hands on the request it
 * carries. */
typedef void (*hitl_policy_work_fn)(hitl_policy_work *w);

struct hitl_policy_work {
  hitl_policy_work_fn run;
  hitl_policy_work *next; /* Owned by the pool while queued. */
};

/* Starts n worker threads (at least 1). They run at a lower scheduling priority than the HTTP
 * threads, so that a burst of policy work does not slow the other requests. */
hitl_policy_pool *hitl__policy_pool_start(int n);
/* Queues w; a worker runs it soon, oldest first. Thread-safe. After stop, runs w in the caller. */
void hitl__policy_pool_submit(hitl_policy_pool *p, hitl_policy_work *w);
/* Runs the queued work, then stops the workers. NULL is a no-op. */
void hitl__policy_pool_stop(hitl_policy_pool *p);
/* Frees a stopped pool. NULL is a no-op. */
void hitl__policy_pool_free(hitl_policy_pool *p);

#endif
