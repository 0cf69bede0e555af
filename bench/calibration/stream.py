#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Streams a scored data set through a running hitl server with a scripted reviewer who answers
the truth, on a queue routed by a calibrated condition, and reports what was auto-accepted: its
share (overall, and once a threshold was first certified) beside the oracle's share (the best
single threshold chosen knowing the labels), and its realized error.

usage: stream.py CSV PORT [--tasks N] [--batch B] [--seed S] [--max-error A] [--confidence C]
CSV is one of make_scores.py's files (label, then one probability per class). The admin token
comes from HITL_ADMIN_TOKEN. Only the standard library is used; the server is on 127.0.0.1.
"""
import http.client
import json
import os
import random
import sys


def oracle_share(scores, right, max_error):
    """Largest share of the population at or above one threshold whose error is <= max_error."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    best, wrong = 0.0, 0
    for n, i in enumerate(order, 1):
        wrong += not right[i]
        # Only at the end of a run of equal scores is the threshold a real one.
        if n < len(order) and scores[order[n]] == scores[i]:
            continue
        if wrong <= max_error * n:
            best = n / len(order)
    return best


class Client:
    def __init__(self, port, token):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.token = token

    def call(self, method, path, body=None, token=None):
        headers = {"Authorization": "Bearer " + (token or self.token)}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, data, headers)
            r = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closes a connection left idle; a GET is safe to send again.
            if method != "GET":
                raise
            self.conn.close()
            self.conn.request(method, path, data, headers)
            r = self.conn.getresponse()
        text = r.read()
        return r.status, (json.loads(text) if text else None)


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    csv, port = args[0], int(args[1])
    opts = {"--tasks": 20000, "--batch": 100, "--seed": 1, "--max-error": 0.02,
            "--confidence": 0.95}
    rest = args[2:]
    for k, v in zip(rest[::2], rest[1::2]):
        if k not in opts:
            sys.exit(__doc__)
        opts[k] = type(opts[k])(v)
    rows = []
    with open(csv) as f:
        for line in f:
            parts = line.strip().split(",")
            rows.append((parts[0], [float(x) for x in parts[1:]]))
    labels = [str(i) for i in range(len(rows[0][1]))]
    scores = [max(p) for _, p in rows]
    predicted = [labels[p.index(max(p))] for _, p in rows]
    right = [predicted[i] == rows[i][0] for i in range(len(rows))]
    max_error = opts["--max-error"]
    oracle = oracle_share(scores, right, max_error)

    admin = Client(port, os.environ["HITL_ADMIN_TOKEN"])
    queue = {
        "schema": {"questions": [{"name": "digit", "type": "label", "labels": labels}]},
        "policy": {"rules": [{"name": "auto", "when": {"calibrated": {
            "max_error": max_error, "confidence": opts["--confidence"], "audit_percent": 5}},
            "then": {"action": "accept"}}]},
        "assignment": {"overlap": 1, "roles": ["validator"], "lease_seconds": 600},
    }
    st, body = admin.call("PUT", "/v1/queues/stream", queue)
    assert st in (200, 201), (st, body)
    tokens = {}
    for name, role in (("agent", "agent"), ("reviewer", "validator")):
        st, body = admin.call("POST", "/v1/tokens", {"name": "stream-" + name, "roles": [role]})
        assert st == 201, (st, body)
        tokens[name] = body["token"]
    agent = Client(port, tokens["agent"])
    reviewer = Client(port, tokens["reviewer"])

    rng = random.Random(opts["--seed"])
    truth = {}          # task id -> (index into rows)
    accepted = accepted_wrong = reviewed = 0
    first_certified = None
    accepted_after = submitted_after = 0
    n_tasks, batch = opts["--tasks"], opts["--batch"]
    for start in range(0, n_tasks, batch):
        picks = [rng.randrange(len(rows)) for _ in range(min(batch, n_tasks - start))]
        tasks = [{"input": {"image": i},
                  "probabilities": dict(zip(labels, rows[i][1]))} for i in picks]
        st, body = agent.call("POST", "/v1/queues/stream/tasks/batch", {"tasks": tasks})
        assert st == 201, (st, body)
        for i, t in zip(picks, body["tasks"]):
            if first_certified is not None:
                submitted_after += 1
            if t["state"] == "decided":
                accepted += 1
                accepted_wrong += not right[i]
                if first_certified is not None:
                    accepted_after += 1
            else:
                truth[t["id"]] = i
        # The reviewer answers every task that reached people with the truth.
        while True:
            st, task = reviewer.call("POST", "/v1/queues/stream/claim")
            if st == 204:
                break
            assert st == 200, (st, task)
            i = truth.pop(task["id"])
            st, body = reviewer.call("POST", "/v1/tasks/%s/responses" % task["id"],
                                     {"lease_id": task["lease"]["id"], "kind": "label",
                                      "value": rows[i][0]})
            assert st == 200, (st, body)
            reviewed += 1
        if first_certified is None:
            st, view = admin.call("GET", "/v1/queues/stream/calibration")
            if view.get("certified"):
                first_certified = start + len(picks)
    st, view = admin.call("GET", "/v1/queues/stream/calibration")
    realized = accepted_wrong / accepted if accepted else 0.0
    after = accepted_after / submitted_after if submitted_after else 0.0
    print(json.dumps({
        "data": os.path.basename(csv), "population": len(rows), "tasks": n_tasks,
        "max_error": max_error, "confidence": opts["--confidence"],
        "oracle_share": round(oracle, 4),
        "auto_accepted": accepted, "share_overall": round(accepted / n_tasks, 4),
        "first_certified_after": first_certified,
        "share_after_first_certificate": round(after, 4),
        "of_oracle": round(after / oracle, 4) if oracle else None,
        "realized_error": round(realized, 5), "reviewed": reviewed,
        "final_threshold": view.get("threshold"), "withdrawals": view["audit"]["withdrawals"],
        "last_day": view["last_day"],
    }))


if __name__ == "__main__":
    main()
