# SPDX-License-Identifier: MIT
"""An agent whose refund tool waits for a person's decision in hitl (docs/agents.md).

    HITL_URL=http://127.0.0.1:8080 HITL_TOKEN=<agent token> python3 example_agent.py [queue] [order] [amount]

Prints what the refund did, or "not done: <the reviewer's comment>" and exits with status 1.
"""

import sys

import hitl

queue = sys.argv[1] if len(sys.argv) > 1 else "refunds"
order = sys.argv[2] if len(sys.argv) > 2 else "A-1001"
amount = float(sys.argv[3]) if len(sys.argv) > 3 else 120


def waiting(task):
    print("waiting for a person: task %s in queue %s" % (task["id"], queue),
          file=sys.stderr, flush=True)


@hitl.approval_required(queue=queue, timeout=3600, on_submit=waiting)
def refund(order_id, amount, currency="EUR"):
    return "refunded %g %s on %s" % (amount, currency, order_id)


try:
    print(refund(order, amount))
except (hitl.Rejected, hitl.Timeout) as e:
    print("not done: %s" % (getattr(e, "comment", None) or e))
    sys.exit(1)
