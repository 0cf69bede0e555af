# SPDX-License-Identifier: MIT
"""An agent run that people can watch and steer while it refunds orders (docs/agents.md).

    HITL_URL=http://127.0.0.1:8080 HITL_TOKEN=<agent token> python3 example_run.py [queue] [order ...]

It registers a run, and for each order reads its commands (pause, resume, stop, goal), reports
a step, and asks a person before the refund (the task carries the run's id, so the run shows
as waiting). It prints what it does on standard error and each refund's outcome on standard
output, and finishes the run at the end.
"""

import sys

import hitl

queue = sys.argv[1] if len(sys.argv) > 1 else "refunds"
orders = sys.argv[2:] or ["A-1001", "A-1002"]
client = hitl.Client()


def say(text):
    print(text, file=sys.stderr, flush=True)


run = client.start_run("refund-bot", goal="refund damaged orders", heartbeat_seconds=30)
say("run %s" % run["id"])


def refund(order_id, amount, currency="EUR"):
    return "refunded %g %s on %s" % (amount, currency, order_id)


refund = hitl.approval_required(
    queue=queue, client=client, run_id=run["id"], timeout=3600,
    on_submit=lambda task: say("waiting for a person: task %s" % task["id"]))(refund)

after = 0  # The last command read.


def obey():
    """Carries out the run's new commands and acknowledges each; answers False on stop.

    While paused it waits for resume, long-polling the commands and heartbeating meanwhile.
    """
    global after
    paused = False
    while True:
        for command in client.commands(run["id"], after=after, wait=10 if paused else 0):
            after = command["seq"]
            kind = command["type"]
            if kind == "pause":
                paused = True
                say("paused")
            elif kind == "resume":
                paused = False
                say("resumed")
            elif kind == "goal":
                say("new goal: %s" % command["goal"])  # A real agent plans again here.
            client.ack(run["id"], command["seq"])
            if kind == "stop":
                say("stopped")
                return False
        if not paused:
            return True
        client.heartbeat(run["id"])  # Paused, but alive.


for order in orders:
    if not obey():
        sys.exit(0)  # People stopped the run: the server takes no more reports for it.
    client.step(run["id"], "refunding %s" % order, data={"order": order})
    try:
        print(refund(order, 20), flush=True)
    except hitl.Rejected as e:
        print("not done on %s: %s" % (order, e.comment or e.outcome), flush=True)
if obey():
    client.finish_run(run["id"])
    say("finished")
