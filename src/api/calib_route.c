/* SPDX-License-Identifier: MIT */
/* GET /v1/queues/{queue}/calibration: the certificate, its evidence, the risk views and the
 * withdrawal history of one queue. */
#include <stdlib.h>

#include "api/calib.h"
#include "api/queue_lookup.h"
#include "api/server_internal.h"
#include "util/clock.h"

#define HISTORY 50 /* Withdrawals and certifications shown, newest first. */

/* Appends the newest events of the queue of this type as {"at","data"} objects. */
static int put_history(hitl_store *st, const char *queue, const char *type, hitl_buf *b) {
  hitl_event_filter f = {.queue = queue, .type = type, .before = INT64_MAX};
  hitl_event *evs = NULL;
  size_t n = 0;
  int rc = st->vt->event_find(st, 0, &f, HISTORY, &evs, &n);
  if (rc) return rc;
  hitl_buf_putc(b, '[');
  for (size_t i = 0; i < n; i++) {
    char ts[HITL_TIME_LEN];
    hitl_time_format(evs[i].at, ts);
    hitl_buf_printf(b, "%s{\"seq\":%lld,\"at\":\"%s\",\"data\":%s}", i ? "," : "",
                    (long long)evs[i].seq, ts, evs[i].data ? evs[i].data : "{}");
    hitl_event_clear(&evs[i]);
  }
  free(evs);
  hitl_buf_putc(b, ']');
  return 0;
}

void hitl__h_queue_calibration(hitl_request *req) {
  hitl_queue_ref *q = hitl__queue_lookup(req, req->params[0]);
  if (q == NULL) return;
  if (!hitl_actor_may_review(&req->actor, q->config)) {
    hitl__reply_error(req, HITL_EFORBIDDEN, NULL, "token \"%s\" may not read queue \"%s\"",
                      req->who.name, q->name);
    goto done;
  }
  hitl_store *st = hitl__reader(req);
  if (st == NULL) goto done;
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_puts(&b, "{\"queue\":");
  hitl_buf_json_cstr(&b, q->name);
  hitl_buf_putc(&b, ',');
  /* The last day's share from the tallies every submit stores: right after a restart, and
   * across the servers sharing a database. */
  int64_t day[HITL__TALLY_KINDS];
  int64_t since = hitl_calib_hour(hitl_now_ms()) - HITL_CALIB_DAY_HOURS + 1;
  int rc = st->vt->calib_tally_sum(st, q->id, since, day, HITL__TALLY_KINDS);
  hitl__calib_view(req->server->calib, q->id, day, &b);
  hitl_buf_puts(&b, ",\"withdrawals\":");
  if (rc == 0) rc = put_history(st, q->name, "calibration.withdrawn", &b);
  if (rc == 0) {
    hitl_buf_puts(&b, ",\"certifications\":");
    rc = put_history(st, q->name, "calibration.certified", &b);
  }
  if (rc) {
    hitl_buf_free(&b);
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "could not read the calibration history");
    goto done;
  }
  hitl_buf_putc(&b, '}');
  hitl__reply_buf(req, 200, &b);
done:
  hitl__queue_ref_release(q);
}
