# SPDX-License-Identifier: MIT
"""Tests of clients/python/hitl.py against a real hitl server (started by tests/python/run.sh).

HITL_TEST_URL is the server, HITL_ADMIN_TOKEN its admin token. Each test works in queues of its
own, so the tests do not depend on one another's order.
"""

import asyncio
import itertools
import os
import queue
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import hitl

URL = os.environ.get("HITL_TEST_URL")
ADMIN = os.environ.get("HITL_ADMIN_TOKEN")
BOUND = 30  # Seconds any wait for the server may take before a test fails.
_names = itertools.count(1)


def fresh(prefix):
    """A queue or token name no other test uses."""
    return "%s-%d-%d" % (prefix, os.getpid(), next(_names))


@unittest.skipUnless(URL and ADMIN, "run through tests/python/run.sh, which starts hitl serve")
class ClientTestCase(unittest.TestCase):
    """Holds an admin, an agent and a reviewer client for the whole class."""

    @classmethod
    def setUpClass(cls):
        cls.admin = hitl.Client(URL, ADMIN)
        cls.agent = hitl.Client(URL, cls.admin.create_token(fresh("agent"), ["agent"])["token"])
        cls.reviewer = hitl.Client(URL, cls.admin.create_token(fresh("alice"),
                                                               ["validator"])["token"])

    def new_queue(self, config=None):
        """Creates a queue of the test's own; answers its name."""
        name = fresh("q")
        self.admin.put_queue(name, config)
        return name

    def claim_one(self, queue_name):
        """The reviewer claims the queue's only pending task, which must be there."""
        task = self.reviewer.claim(queue_name)
        self.assertIsNotNone(task, "nothing to claim in " + queue_name)
        self.assertEqual(task["state"], "leased")
        return task


class TaskTests(ClientTestCase):
    def test_policy_decides_at_submit(self):
        q = self.new_queue({"policy": {"rules": [{"name": "default", "then": {"action": "accept"}}]}})
        task = self.agent.submit(q, {"text": "hello"}, output={"ok": True}, confidence=0.9,
                                 metadata=None)
        self.assertEqual(task["state"], "decided")
        self.assertEqual(task["input"], {"text": "hello"})
        self.assertNotIn("metadata", task)  # None members are left out.
        self.assertEqual(hitl.decision_of(task)["outcome"], "approve")
        self.assertEqual(hitl.decision_of(task)["by"], "policy")

    def test_claim_respond_and_long_poll(self):
        q = self.new_queue()
        task = self.agent.submit(q, {"text": "refund 120"}, output={"amount": 120})
        self.assertEqual(task["state"], "pending")
        self.assertIsNone(hitl.decision_of(task))

        result = {}
        waiter = threading.Thread(target=lambda: result.update(
            task=self.agent.wait_for_decision(task["id"], timeout=BOUND)))
        waiter.start()
        claimed = self.claim_one(q)
        self.assertEqual(claimed["id"], task["id"])
        answered = self.reviewer.respond(claimed, "modify", {"amount": 80}, comment="too much")
        self.assertEqual(answered["state"], "decided")
        waiter.join(BOUND)
        self.assertFalse(waiter.is_alive())
        decided = result["task"]
        self.assertEqual(decided["state"], "decided")
        self.assertEqual(hitl.decision_of(decided), {"outcome": "modify", "by": "human",
                                                     "value": {"amount": 80},
                                                     "comment": "too much"})

    def test_claim_answers_none_when_empty(self):
        self.assertIsNone(self.reviewer.claim(self.new_queue()))

    def test_release_renew_and_respond_by_id(self):
        q = self.new_queue()
        task = self.agent.submit(q, {"n": 1})
        claimed = self.claim_one(q)
        self.assertEqual(self.reviewer.renew(claimed)["lease"]["id"], claimed["lease"]["id"])
        self.assertEqual(self.reviewer.release(claimed)["state"], "pending")
        again = self.claim_one(q)
        done = self.reviewer.respond(task["id"], kind="reject", lease_id=again["lease"]["id"],
                                     comment="no")
        self.assertEqual(done["decision"]["outcome"], "reject")
        self.assertEqual(hitl.decision_of(self.agent.get_task(task["id"]))["comment"], "no")

    def test_wait_times_out_while_open(self):
        q = self.new_queue()
        task = self.agent.submit(q, {"n": 1})
        started = time.monotonic()
        with self.assertRaises(hitl.Timeout) as caught:
            self.agent.wait_for_decision(task["id"], timeout=1)
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, BOUND)
        self.assertEqual(caught.exception.task["state"], "pending")

    def test_cancel_ends_the_wait(self):
        q = self.new_queue()
        task = self.agent.submit(q, {"n": 1})
        self.assertEqual(self.agent.cancel(task["id"])["state"], "cancelled")
        final = self.agent.wait_for_decision(task["id"], timeout=BOUND)
        self.assertEqual(hitl.decision_of(final)["outcome"], "cancelled")

    def test_list_tasks(self):
        q = self.new_queue()
        first = self.agent.submit(q, {"n": 1})
        second = self.agent.submit(q, {"n": 2})
        page = self.reviewer.list_tasks(q, state="pending", limit=1)
        self.assertEqual([t["id"] for t in page["tasks"]], [second["id"]])
        rest = self.reviewer.list_tasks(q, state="pending", cursor=page["next_cursor"])
        self.assertEqual([t["id"] for t in rest["tasks"]], [first["id"]])

    def test_idempotent_submit(self):
        q = self.new_queue()
        one = self.agent.submit(q, {"n": 1}, idempotency_key="k-1")
        two = self.agent.submit(q, {"n": 1}, idempotency_key="k-1")
        self.assertEqual(one["id"], two["id"])
        with self.assertRaises(hitl.HitlError) as caught:
            self.agent.submit(q, {"n": 2}, idempotency_key="k-1")
        self.assertEqual((caught.exception.status, caught.exception.code), (409, "conflict"))


class ErrorTests(ClientTestCase):
    def test_validation_error_names_the_field(self):
        q = self.new_queue()
        with self.assertRaises(hitl.HitlError) as caught:
            self.agent.submit(q, {"n": 1}, confidence=1.5)
        e = caught.exception
        self.assertEqual((e.status, e.code, e.field), (400, "validation_failed", "confidence"))
        self.assertIn("confidence", str(e))

    def test_unknown_member_is_refused(self):
        with self.assertRaises(hitl.HitlError) as caught:
            self.agent.submit(self.new_queue(), {"n": 1}, inptu=1)
        self.assertEqual(caught.exception.field, "inptu")

    def test_unknown_queue_and_task(self):
        with self.assertRaises(hitl.HitlError) as caught:
            self.agent.submit(fresh("nope"), {"n": 1})
        self.assertEqual((caught.exception.status, caught.exception.code), (404, "not_found"))
        with self.assertRaises(hitl.HitlError) as caught:
            self.agent.get_task("t_nope")
        self.assertEqual(caught.exception.status, 404)

    def test_roles_are_enforced(self):
        q = self.new_queue()
        with self.assertRaises(hitl.HitlError) as caught:
            self.agent.claim(q)
        self.assertEqual((caught.exception.status, caught.exception.code), (403, "forbidden"))

    def test_lost_lease_conflicts(self):
        q = self.new_queue()
        self.agent.submit(q, {"n": 1})
        claimed = self.claim_one(q)
        self.reviewer.respond(claimed, "approve")
        with self.assertRaises(hitl.HitlError) as caught:
            self.reviewer.respond(claimed, "approve")
        self.assertEqual((caught.exception.status, caught.exception.field), (409, "lease_id"))

    def test_bad_token_and_unreachable_server(self):
        with self.assertRaises(hitl.HitlError) as caught:
            hitl.Client(URL, "hitl_nope").get_queue("x")
        self.assertEqual((caught.exception.status, caught.exception.code), (401, "unauthorized"))
        # Port 1 on the loopback address: nothing listens there.
        with self.assertRaises(hitl.HitlError) as caught:
            hitl.Client("http://127.0.0.1:1", "t", timeout=5).get_queue("x")
        self.assertEqual((caught.exception.status, caught.exception.code), (0, "unreachable"))

    def test_client_needs_url_and_token(self):
        saved = {k: os.environ.pop(k, None) for k in ("HITL_URL", "HITL_TOKEN")}
        try:
            with self.assertRaises(ValueError):
                hitl.Client()
            with self.assertRaises(ValueError):
                hitl.Client(URL)
        finally:
            os.environ.update({k: v for k, v in saved.items() if v is not None})

    def test_respond_without_lease(self):
        with self.assertRaises(ValueError):
            self.reviewer.respond("t_x", "approve")


class DecoratorTests(ClientTestCase):
    """@hitl.approval_required, with the reviewer played by the test."""

    def gated(self, q, **options):
        """A refund tool gated on queue q; answers (tool, calls made, submitted tasks)."""
        calls = []
        submitted = queue.Queue()

        @hitl.approval_required(queue=q, client=self.agent, on_submit=submitted.put, **options)
        def refund(order_id, amount, currency="EUR"):
            calls.append((order_id, amount, currency))
            return "refunded %s %s on %s" % (amount, currency, order_id)

        return refund, calls, submitted

    def call_in_thread(self, fn, *args, **kwargs):
        """Starts fn in a thread; answers a function that joins it and returns or raises its result."""
        outcome = {}

        def run():
            try:
                outcome["value"] = fn(*args, **kwargs)
            except BaseException as e:  # Handed to the test's thread.
                outcome["error"] = e

        thread = threading.Thread(target=run)
        thread.start()

        def result():
            thread.join(BOUND)
            self.assertFalse(thread.is_alive(), "the gated call did not return")
            if "error" in outcome:
                raise outcome["error"]
            return outcome["value"]

        return result

    def review(self, submitted, q, kind, value=hitl._UNSET, comment=None):
        """Waits for the gated call's task, checks what it carries, claims it and answers it."""
        task = submitted.get(timeout=BOUND)
        claimed = self.claim_one(q)
        self.assertEqual(claimed["id"], task["id"])
        self.reviewer.respond(claimed, kind, value, comment=comment)
        return task

    def test_approve_runs_the_tool(self):
        q = self.new_queue()
        refund, calls, submitted = self.gated(q)
        result = self.call_in_thread(refund, "A-1", 120)
        task = self.review(submitted, q, "approve")
        self.assertEqual(task["input"], {"tool": "refund",
                                         "args": {"order_id": "A-1", "amount": 120,
                                                  "currency": "EUR"}})
        self.assertEqual(task["output"], task["input"]["args"])
        self.assertEqual(result(), "refunded 120 EUR on A-1")
        self.assertEqual(calls, [("A-1", 120, "EUR")])

    def test_modify_runs_the_tool_with_the_reviewers_arguments(self):
        q = self.new_queue()
        refund, calls, submitted = self.gated(q)
        result = self.call_in_thread(refund, "A-2", amount=500)
        self.review(submitted, q, "modify", {"amount": 50}, comment="half at most")
        self.assertEqual(result(), "refunded 50 EUR on A-2")
        self.assertEqual(calls, [("A-2", 50, "EUR")])

    def test_reject_raises_with_the_comment(self):
        q = self.new_queue()
        refund, calls, submitted = self.gated(q)
        result = self.call_in_thread(refund, "A-3", 9000)
        self.review(submitted, q, "reject", comment="needs a manager")
        with self.assertRaises(hitl.Rejected) as caught:
            result()
        e = caught.exception
        self.assertEqual((e.outcome, e.by, e.comment), ("reject", "human", "needs a manager"))
        self.assertIn("needs a manager", str(e))
        self.assertEqual(calls, [])

    def test_modify_with_an_unknown_argument_does_not_run(self):
        q = self.new_queue()
        refund, calls, submitted = self.gated(q)
        result = self.call_in_thread(refund, "A-4", 10)
        self.review(submitted, q, "modify", {"amount": 5, "bogus": 1})
        with self.assertRaises(hitl.HitlError) as caught:
            result()
        self.assertIn("bogus", str(caught.exception))
        self.assertEqual(calls, [])

    def test_policy_approval_needs_nobody(self):
        q = self.new_queue({"policy": {"rules": [
            {"name": "small", "when": {"lt": {"path": "/input/args/amount", "value": 100}},
             "then": {"action": "accept"}},
            {"name": "big", "when": {"gt": {"path": "/input/args/amount", "value": 10000}},
             "then": {"action": "reject"}}]}})
        refund, calls, _ = self.gated(q)
        self.assertEqual(refund("A-5", 20), "refunded 20 EUR on A-5")
        with self.assertRaises(hitl.Rejected) as caught:
            refund("A-6", 20000)
        self.assertEqual((caught.exception.outcome, caught.exception.by), ("reject", "policy"))
        self.assertEqual(calls, [("A-5", 20, "EUR")])

    def test_timeout_cancels_and_fails_closed(self):
        q = self.new_queue()
        refund, calls, submitted = self.gated(q, timeout=1)
        with self.assertRaises(hitl.Timeout) as caught:
            refund("A-7", 300)
        self.assertEqual(self.agent.get_task(caught.exception.task_id)["state"], "cancelled")
        self.assertEqual(submitted.get_nowait()["id"], caught.exception.task_id)
        self.assertEqual(calls, [])

    def test_submit_fields_and_tool_name(self):
        q = self.new_queue()
        refund, _, submitted = self.gated(q, tool="payments.refund",
                                          metadata={"agent": "support-bot"}, priority=7)
        result = self.call_in_thread(refund, "A-8", 1)
        task = self.review(submitted, q, "approve")
        self.assertEqual(task["input"]["tool"], "payments.refund")
        self.assertEqual(task["metadata"], {"agent": "support-bot"})
        self.assertEqual(task["priority"], 7)
        self.assertEqual(refund.hitl_queue, q)
        result()

    def test_async_tool(self):
        q = self.new_queue()
        submitted = queue.Queue()

        @hitl.approval_required(queue=q, client=self.agent, on_submit=submitted.put)
        async def send_email(to, *, body):
            await asyncio.sleep(0)
            return "sent to %s: %s" % (to, body)

        result = self.call_in_thread(asyncio.run, send_email("bob@example.com", body="hi"))
        self.review(submitted, q, "modify", {"body": "hello"})
        self.assertEqual(result(), "sent to bob@example.com: hello")

    def test_method_leaves_self_out(self):
        q = self.new_queue()
        submitted = queue.Queue()
        agent = self.agent

        class Payments:
            rate = 2

            @hitl.approval_required(queue=q, client=agent, on_submit=submitted.put)
            def refund(self, amount):
                return amount * self.rate

        result = self.call_in_thread(Payments().refund, 21)
        task = self.review(submitted, q, "approve")
        self.assertEqual(task["input"]["args"], {"amount": 21})
        self.assertEqual(result(), 42)
        # A reviewer cannot swap the object.
        result = self.call_in_thread(Payments().refund, 1)
        self.review(submitted, q, "modify", {"self": None, "amount": 2})
        with self.assertRaises(hitl.HitlError) as caught:
            result()
        self.assertIn("self", str(caught.exception))

    def test_output_can_be_given(self):
        q = self.new_queue()
        refund, _, submitted = self.gated(q, output={"summary": "refund 5 EUR"})
        result = self.call_in_thread(refund, "A-9", 5)
        task = self.review(submitted, q, "approve")
        self.assertEqual(task["output"], {"summary": "refund 5 EUR"})
        self.assertEqual(result(), "refunded 5 EUR on A-9")

    def test_variadic_arguments_round_trip(self):
        q = self.new_queue()
        submitted = queue.Queue()

        @hitl.approval_required(queue=q, client=self.agent, on_submit=submitted.put)
        def tag(item, /, *tags, **extra):
            return (item, tags, extra)

        result = self.call_in_thread(tag, "doc-1", "a", "b", lang="en")
        task = self.review(submitted, q, "approve")
        self.assertEqual(task["input"]["args"], {"item": "doc-1", "tags": ["a", "b"],
                                                 "extra": {"lang": "en"}})
        self.assertEqual(result(), ("doc-1", ("a", "b"), {"lang": "en"}))


class RunTests(ClientTestCase):
    """Runs: the agent registers, reports, and follows the commands an orchestrator gives."""

    def start(self, **options):
        run = self.agent.start_run(fresh("bot"), goal="refund damaged orders",
                                   metadata={"team": "support"}, **options)
        self.assertEqual(run["state"], "running")
        return run

    def test_start_get_list_step_heartbeat(self):
        run = self.start(heartbeat_seconds=30)
        self.assertEqual(run["goal"], "refund damaged orders")
        self.assertEqual(run["metadata"], {"team": "support"})
        self.assertEqual(run["heartbeat_seconds"], 30)
        self.assertEqual(self.agent.get_run(run["id"])["id"], run["id"])
        self.assertIn(run["id"], [r["id"] for r in self.admin.list_runs()["runs"]])
        self.agent.step(run["id"], "looked up order A-1", data={"order": "A-1"})
        self.assertEqual(self.agent.heartbeat(run["id"])["state"], "running")
        self.assertEqual(self.agent.finish_run(run["id"])["state"], "finished")
        with self.assertRaises(hitl.HitlError) as caught:
            self.agent.heartbeat(run["id"])
        self.assertEqual(caught.exception.status, 409)

    def test_commands_long_poll_and_ack(self):
        run = self.start()
        self.assertEqual(self.agent.commands(run["id"]), [])
        got = {}
        waiter = threading.Thread(target=lambda: got.update(
            commands=self.agent.commands(run["id"], after=0, wait=BOUND)))
        waiter.start()
        self.admin.send_command(run["id"], "pause")
        waiter.join(BOUND)
        self.assertFalse(waiter.is_alive())
        [pause] = got["commands"]
        self.assertEqual((pause["type"], pause["acked_at"]), ("pause", None))
        self.agent.ack(run["id"], pause["seq"])
        self.assertEqual(self.agent.heartbeat(run["id"])["state"], "paused")
        [acked] = self.agent.commands(run["id"])
        self.assertIsNotNone(acked["acked_at"])

        self.admin.send_command(run["id"], "goal", goal="only orders under 100 EUR")
        [goal] = self.agent.commands(run["id"], after=pause["seq"], wait=BOUND)
        self.assertEqual((goal["type"], goal["goal"]), ("goal", "only orders under 100 EUR"))
        started = time.monotonic()
        self.assertEqual(self.agent.commands(run["id"], after=goal["seq"], wait=1), [])
        self.assertGreaterEqual(time.monotonic() - started, 0.9)

    def test_run_waits_on_its_task(self):
        run = self.start()
        q = self.new_queue()
        task = self.agent.submit(q, {"n": 1}, run_id=run["id"])
        self.assertEqual(task["run_id"], run["id"])
        self.assertEqual(self.agent.get_run(run["id"])["state"], "waiting")
        self.reviewer.respond(self.claim_one(q), "approve")
        self.assertEqual(self.agent.get_run(run["id"])["state"], "running")

    def test_stop_ends_the_run(self):
        run = self.start()
        self.admin.send_command(run["id"], "stop")
        with self.assertRaises(hitl.HitlError) as caught:
            self.agent.heartbeat(run["id"])
        self.assertEqual(caught.exception.status, 409)
        with self.assertRaises(hitl.HitlError) as caught:
            self.admin.send_command(run["id"], "resume")
        self.assertEqual(caught.exception.status, 409)

    def test_bad_run_calls(self):
        with self.assertRaises(hitl.HitlError) as caught:
            self.agent.heartbeat("run_nope")
        self.assertEqual(caught.exception.status, 404)
        run = self.start()
        with self.assertRaises(hitl.HitlError) as caught:
            self.agent.send_command(run["id"], "pause")
        self.assertEqual(caught.exception.status, 403)
        with self.assertRaises(hitl.HitlError) as caught:
            self.admin.send_command(run["id"], "goal")
        self.assertEqual((caught.exception.status, caught.exception.field), (400, "goal"))


class RunExampleTests(ClientTestCase):
    """clients/python/example_run.py, steered by an orchestrator (the test) while it works."""

    EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(hitl.__file__)), "example_run.py")

    def start_example(self, *orders):
        """Starts the example on a queue of its own; answers (queue, process, next stderr line)."""
        q = self.new_queue()
        env = dict(os.environ, HITL_URL=URL, HITL_TOKEN=self.agent.token)
        proc = subprocess.Popen([sys.executable, self.EXAMPLE, q] + list(orders), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.addCleanup(proc.stdout.close)
        self.addCleanup(proc.stderr.close)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in proc.stderr], daemon=True).start()

        def expect(text):
            line = lines.get(timeout=BOUND)
            self.assertIn(text, line)
            return line.split()[-1]

        return q, proc, expect

    def test_pause_goal_resume_and_finish(self):
        q, proc, expect = self.start_example("A-1", "A-2")
        run_id = expect("run ")
        expect("waiting for a person")
        self.assertEqual(self.agent.get_run(run_id)["state"], "waiting")
        self.admin.send_command(run_id, "pause")
        self.reviewer.respond(self.claim_one(q), "approve")
        expect("paused")
        self.assertEqual(self.admin.get_run(run_id)["state"], "paused")
        self.admin.send_command(run_id, "goal", goal="small refunds only")
        expect("new goal")
        self.admin.send_command(run_id, "resume")
        expect("resumed")
        expect("waiting for a person")
        self.reviewer.respond(self.claim_one(q), "reject", comment="already refunded")
        expect("finished")
        out, _ = proc.communicate(timeout=BOUND)
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(out, "refunded 20 EUR on A-1\nnot done on A-2: already refunded\n")
        run = self.admin.get_run(run_id)
        self.assertEqual(run["state"], "finished")
        self.assertTrue(all(c["acked_at"] for c in self.admin.commands(run_id)))

    def test_stop_ends_the_agent(self):
        q, proc, expect = self.start_example("B-1", "B-2")
        run_id = expect("run ")
        expect("waiting for a person")
        self.admin.send_command(run_id, "stop")
        self.reviewer.respond(self.claim_one(q), "approve")
        expect("stopped")
        out, _ = proc.communicate(timeout=BOUND)
        self.assertEqual((proc.returncode, out), (0, "refunded 20 EUR on B-1\n"))
        self.assertEqual(self.admin.get_run(run_id)["state"], "stopped")
        self.assertIsNone(self.reviewer.claim(q))  # B-2 was never asked for.


class DeadlineTests(ClientTestCase):
    """deadline_seconds on submit: nobody decides in time, the agent gets a reject (fail closed)."""

    def test_wait_gets_the_deadlines_reject(self):
        q = self.new_queue()
        task = self.agent.submit(q, {"n": 1}, deadline_seconds=1)
        self.assertIsNotNone(task["deadline_at"])
        final = self.agent.wait_for_decision(task["id"], timeout=BOUND)
        self.assertEqual(hitl.decision_of(final)["outcome"], "reject")
        self.assertEqual(hitl.decision_of(final)["by"], "sla")

    def test_decorator_fails_closed(self):
        q = self.new_queue()
        calls = []

        @hitl.approval_required(queue=q, client=self.agent, deadline_seconds=1, timeout=BOUND)
        def refund(order_id):
            calls.append(order_id)

        with self.assertRaises(hitl.Rejected) as caught:
            refund("A-9")
        self.assertEqual((caught.exception.outcome, caught.exception.by), ("reject", "sla"))
        self.assertEqual(calls, [])


@unittest.skipUnless(os.environ.get("HITL_BIN") and ADMIN, "needs HITL_BIN")
class OwnServerTestCase(unittest.TestCase):
    """Tests that need a server started with options of their own, stopped by its PID."""

    def start_server(self, *options, scheme="http"):
        """Starts hitl serve with options in a temporary directory; answers its URL."""
        server = subprocess.Popen(
            [os.environ["HITL_BIN"], "serve", "--db", os.path.join(self.dir, "hitl.db"),
             "--listen", "127.0.0.1:0", "--log-level", "warn"] + list(options),
            env=dict(os.environ, HITL_ADMIN_TOKEN=ADMIN), stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)

        def stop():
            server.kill()
            server.wait(BOUND)
            server.stdout.close()

        self.addCleanup(stop)
        line = server.stdout.readline()  # The "listening" line; "" if the server ended.
        port = re.search(r"127\.0\.0\.1:(\d+)", line)
        self.assertIsNotNone(port, "hitl serve %s did not start: %r" % (options, line))
        return "%s://127.0.0.1:%s" % (scheme, port.group(1))

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)


@unittest.skipUnless(shutil.which("openssl"), "needs openssl")
class TlsTests(OwnServerTestCase):
    """The client over https, trusting the server's own certificate through context=."""

    def test_https_with_the_servers_certificate(self):
        cert, key = os.path.join(self.dir, "cert.pem"), os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = self.start_server("--tls-cert", cert, "--tls-key", key, scheme="https")
        trusted = ssl.create_default_context(cafile=cert)
        client = hitl.Client(url, ADMIN, context=trusted)
        self.assertEqual(client.put_queue("tls")["name"], "tls")
        with self.assertRaises(hitl.HitlError) as caught:
            hitl.Client(url, ADMIN).get_queue("tls")  # The system's CAs do not know it.
        self.assertEqual(caught.exception.code, "unreachable")
        self.assertIn("CERTIFICATE_VERIFY_FAILED", caught.exception.message)


class RetryTests(OwnServerTestCase):
    """429 answers are sent again after Retry-After; past the retries, they raise."""

    def test_rate_limited_requests_are_retried(self):
        url = self.start_server("--rate-limit", "2")
        admin = hitl.Client(url, ADMIN)  # The admin token is not rate limited.
        token = admin.create_token("limited", ["agent"])["token"]
        admin.put_queue("q")
        client = hitl.Client(url, token)
        started = time.monotonic()
        ids = [client.submit("q", {"n": n})["id"] for n in range(4)]  # A burst of 2, then 429s.
        self.assertEqual(len(set(ids)), 4)
        self.assertGreaterEqual(time.monotonic() - started, 0.9)  # At least one Retry-After: 1.
        impatient = hitl.Client(url, token, retries=0)
        with self.assertRaises(hitl.HitlError) as caught:
            for n in range(4):
                impatient.submit("q", {"n": n})
        self.assertEqual((caught.exception.status, caught.exception.code), (429, "rate_limited"))


class ExampleTests(ClientTestCase):
    """clients/python/example_agent.py, run as docs/agents.md says, with the test as reviewer."""

    EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(hitl.__file__)), "example_agent.py")

    def run_example(self, kind, value=hitl._UNSET, comment=None):
        """Runs the example on a queue of its own; answers (exit status, standard output)."""
        q = self.new_queue()
        env = dict(os.environ, HITL_URL=URL, HITL_TOKEN=self.agent.token)
        with subprocess.Popen([sys.executable, self.EXAMPLE, q, "B-7", "30"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
            try:
                line = proc.stderr.readline()  # Returns "" if the example ends first.
                self.assertIn("waiting for a person", line)
                claimed = self.claim_one(q)
                self.assertEqual(claimed["input"]["args"], {"order_id": "B-7", "amount": 30,
                                                            "currency": "EUR"})
                self.reviewer.respond(claimed, kind, value, comment=comment)
                out, _ = proc.communicate(timeout=BOUND)
            finally:
                if proc.poll() is None:
                    proc.kill()
        return proc.returncode, out

    def test_example_approved(self):
        self.assertEqual(self.run_example("approve"), (0, "refunded 30 EUR on B-7\n"))

    def test_example_modified(self):
        self.assertEqual(self.run_example("modify", {"amount": 12.5}),
                         (0, "refunded 12.5 EUR on B-7\n"))

    def test_example_rejected(self):
        self.assertEqual(self.run_example("reject", comment="out of policy"),
                         (1, "not done: out of policy\n"))


if __name__ == "__main__":
    unittest.main()
