# SPDX-License-Identifier: MIT
"""A client for the hitl Human-in-the-Loop server, in one file, standard library only.

Copy this file next to your agent (Python 3.8 or later) and import it:

    import hitl

    client = hitl.Client("http://127.0.0.1:8080", "hitl_...")   # an agent token

    @hitl.approval_required(queue="refunds", client=client)
    def refund(order_id, amount):
        ...                                  # runs only once a person approved

    refund("A-1001", 120)                    # blocks until a person decides; a reject
                                             # raises hitl.Rejected with their comment

The API is described in docs/api.md, and the ways agents use it in docs/agents.md. Every method
answers the server's JSON as plain dicts and lists; an error answer raises HitlError with the
server's status, code, message and field.
"""

import asyncio
import functools
import inspect
import json
import math
import os
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = [
    "Client",
    "HitlError",
    "Rejected",
    "Timeout",
    "approval_required",
    "decision_of",
    "OPEN_STATES",
]

# A task in one of these states still waits for people; every other state is final.
OPEN_STATES = ("pending", "leased")

# The longest `?wait=` the server takes, in seconds.
MAX_WAIT_SECONDS = 120

_UNSET = object()  # Marks an argument that was not given, where None (JSON null) is a value.


class HitlError(Exception):
    """An error answer from the server (or no answer at all: status 0).

    status is the HTTP status, code the error code of the JSON body (validation_failed,
    forbidden, not_found, conflict, ...), message the server's explanation, field the input at
    fault when the server named one.
    """

    def __init__(self, status, code, message, field=None):
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        text = "hitl: %s %s: %s" % (status, code, message)
        if field:
            text += " (field %s)" % field
        super().__init__(text)


class Rejected(Exception):
    """A person (or the policy, or a deadline) did not approve: the tool must not run.

    outcome is the decision's outcome (reject, expired, answered) or the task's state
    (cancelled), by who decided (human, consensus, policy, sla), comment the reviewer's comment
    (None when there is none), task the whole task.
    """

    def __init__(self, task, outcome, by, comment):
        self.task = task
        self.task_id = task.get("id")
        self.outcome = outcome
        self.by = by
        self.comment = comment
        text = "task %s: %s" % (self.task_id, outcome)
        if by:
            text += " by %s" % by
        if comment:
            text += ": %s" % comment
        super().__init__(text)


class Timeout(Exception):
    """No decision came within the time the caller gave; task is the task as it was last read."""

    def __init__(self, task, seconds):
        self.task = task
        self.task_id = task.get("id")
        self.seconds = seconds
        super().__init__("task %s: no decision within %g s (state %s)"
                         % (self.task_id, seconds, task.get("state")))


def decision_of(task):
    """Reads a final task's decision as {"outcome", "by", "value", "comment"}.

    outcome is approve, modify, reject, answered or expired, or "cancelled" for a cancelled
    task; value is the corrected output for modify (None otherwise); comment is the comment of
    the last answer of the deciding kind (the reviewer's reason), or None. Returns None while the
    task is still open.
    """
    state = task.get("state")
    if state in OPEN_STATES:
        return None
    decision = task.get("decision") or {}
    outcome = decision.get("outcome") or state
    value = None
    for answer in (decision.get("answers") or {}).values():
        if answer.get("kind") == outcome:
            value = answer.get("value")
            break
    comment = None
    for response in task.get("responses") or []:
        if response.get("kind") == outcome and response.get("comment"):
            comment = response["comment"]
    return {"outcome": outcome, "by": decision.get("by"), "value": value, "comment": comment}


class Client:
    """One hitl server, seen with one token.

    url is the server's base URL (default: the HITL_URL environment variable), token a bearer
    token (default: HITL_TOKEN). timeout is the socket timeout of ordinary requests in seconds;
    a long-poll gets its wait on top. retries is how often a request answered 429 (rate limited)
    or 503 with Retry-After is sent again, after the time the server asks for: such answers
    mean nothing was done. context is an ssl.SSLContext for an https URL (None: the system's
    certificate authorities; for a server with its own certificate, e.g.
    ssl.create_default_context(cafile="cert.pem")). A Client holds no connection and may be
    shared between threads.
    """

    def __init__(self, url=None, token=None, timeout=30.0, retries=5, context=None):
        url = url or os.environ.get("HITL_URL")
        token = token or os.environ.get("HITL_TOKEN")
        if not url:
            raise ValueError("hitl.Client needs a url (or the HITL_URL environment variable)")
        if not token:
            raise ValueError("hitl.Client needs a token (or the HITL_TOKEN environment variable)")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.context = context

    # The HTTP layer.

    def request(self, method, path, body=_UNSET, query=None, wait=0):
        """Sends one request; answers the decoded JSON body, or None for an empty one (204).

        path starts with "/"; body is any JSON value (left out: no body); query a dict whose
        None values are left out; wait the seconds the server may hold the request. Raises
        HitlError for an error status, and for a server that cannot be reached (status 0).
        """
        if query:
            pairs = [(k, _query_value(v)) for k, v in query.items() if v is not None]
            if pairs:
                path += "?" + urllib.parse.urlencode(pairs)
        data = None
        headers = {"Authorization": "Bearer " + self.token, "Accept": "application/json"}
        if body is not _UNSET:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        elif method == "POST":
            data = b""  # A POST without a body still says so: Content-Length: 0.
        attempt = 0
        while True:
            req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout + wait,
                                            context=self.context) as resp:
                    raw = resp.read()
                return json.loads(raw) if raw else None
            except urllib.error.HTTPError as e:
                raw = e.read()
                retry_after = e.headers.get("Retry-After")
                if (e.code == 429 or (e.code == 503 and retry_after)) and attempt < self.retries:
                    attempt += 1
                    time.sleep(min(_seconds(retry_after, 1.0), 30.0))
                    continue
                raise _error_from(e.code, raw) from None
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", e)
                raise HitlError(0, "unreachable", "%s %s%s: %s"
                                % (method, self.url, path, reason)) from None

    # Queues and tokens (orchestrator).

    def put_queue(self, name, config=None):
        """Creates or replaces queue name with config (a dict; None: every default)."""
        return self.request("PUT", "/v1/queues/" + _seg(name), config or {})

    def get_queue(self, name):
        """The queue's configuration and live counts."""
        return self.request("GET", "/v1/queues/" + _seg(name))

    def create_token(self, name, roles):
        """Creates a token; answers {"token", "name", "roles"} (the secret is shown only here)."""
        return self.request("POST", "/v1/tokens", {"name": name, "roles": list(roles)})

    # Tasks (agent).

    def submit(self, queue, input, **fields):
        """Submits one task to queue; answers the task (201, or 200 for an idempotent replay).

        input is the item to decide. fields are the task's other members, as docs/api.md lists
        them: output, context, metadata, confidence, probabilities, priority, model_version,
        inference_id, run_id, external_id, idempotency_key, deadline_seconds. A member given as
        None is left out. The answer's state is "decided" when the policy decided at once.
        """
        body = {"input": input}
        body.update((k, v) for k, v in fields.items() if v is not None)
        return self.request("POST", "/v1/queues/%s/tasks" % _seg(queue), body)

    def get_task(self, task_id, wait=None):
        """One task with its responses; wait (0 to 120 s) long-polls while it is open."""
        return self.request("GET", "/v1/tasks/" + _seg(task_id), query={"wait": wait},
                            wait=wait or 0)

    def wait_for_decision(self, task_id, timeout=None, poll_seconds=60):
        """Waits until the task is final (decided, expired or cancelled) and answers it.

        Long-polls the server, poll_seconds (at most 120) at a time, so the answer comes at the
        moment of the decision. timeout (seconds, None: no limit) bounds the whole wait; when it
        passes first, raises Timeout with the task as it was. The task is left as it is: cancel
        it if nobody should decide it any more.
        """
        poll_seconds = max(1, min(int(poll_seconds), MAX_WAIT_SECONDS))
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = poll_seconds
            if end is not None:
                wait = max(0, min(wait, math.ceil(end - time.monotonic())))
            task = self.get_task(task_id, wait=wait)
            if task.get("state") not in OPEN_STATES:
                return task
            if end is not None and time.monotonic() >= end:
                raise Timeout(task, timeout)

    def cancel(self, task_id):
        """Cancels an open task this token submitted; answers the task, now "cancelled"."""
        return self.request("POST", "/v1/tasks/%s/cancel" % _seg(task_id))

    # Reviewing (reviewer roles).

    def list_tasks(self, queue, state=None, limit=None, cursor=None):
        """One page of the queue's tasks, newest first: {"tasks", "next_cursor"}."""
        return self.request("GET", "/v1/queues/%s/tasks" % _seg(queue),
                            query={"state": state, "limit": limit, "cursor": cursor})

    def claim(self, queue):
        """Leases the next task of queue; answers it with its "lease", or None when there is none."""
        return self.request("POST", "/v1/queues/%s/claim" % _seg(queue))

    def respond(self, task, kind=None, value=_UNSET, lease_id=None, question=None, answers=None,
                comment=None, time_spent_ms=None):
        """Answers a claimed task; answers the task after the answer.

        task is the task from claim (its lease is used) or a task id with lease_id. Give one
        answer as kind (approve, reject, modify, label, ..., skip, escalate) with value where the
        kind needs one (modify: the corrected output) and question where the queue has several,
        or several as answers=[{"question", "kind", "value"}, ...].
        """
        task_id, lease_id = _task_and_lease(task, lease_id)
        body = {"lease_id": lease_id}
        if answers is not None:
            body["answers"] = answers
        if kind is not None:
            body["kind"] = kind
        if value is not _UNSET:
            body["value"] = value
        for key, val in (("question", question), ("comment", comment),
                         ("time_spent_ms", time_spent_ms)):
            if val is not None:
                body[key] = val
        return self.request("POST", "/v1/tasks/%s/responses" % _seg(task_id), body)

    def release(self, task, lease_id=None):
        """Gives a lease back; the task is pending again."""
        task_id, lease_id = _task_and_lease(task, lease_id)
        return self.request("POST", "/v1/tasks/%s/release" % _seg(task_id), {"lease_id": lease_id})

    def renew(self, task, lease_id=None):
        """Renews a lease for the queue's lease_seconds from now."""
        task_id, lease_id = _task_and_lease(task, lease_id)
        return self.request("POST", "/v1/tasks/%s/lease" % _seg(task_id), {"lease_id": lease_id})

    # Runs (agent; commands: orchestrator).

    def start_run(self, agent, goal=None, metadata=None, heartbeat_seconds=None):
        """Registers an agent run; answers the run (its "id" goes into submit(run_id=...))."""
        body = {"agent": agent}
        for key, val in (("goal", goal), ("metadata", metadata),
                         ("heartbeat_seconds", heartbeat_seconds)):
            if val is not None:
                body[key] = val
        return self.request("POST", "/v1/runs", body)

    def get_run(self, run_id):
        """One run: state, agent, goal, last heartbeat."""
        return self.request("GET", "/v1/runs/" + _seg(run_id))

    def list_runs(self, **query):
        """The runs the token may see: {"runs": [...]} (query: the route's filters)."""
        return self.request("GET", "/v1/runs", query=query)

    def heartbeat(self, run_id, **fields):
        """Tells the server the run is alive; answers the run (with its state, e.g. "paused").

        fields are the route's optional members, as docs/api.md lists them (state="finished"
        ends the run: see finish_run). A stopped or finished run answers 409: the agent should end.
        """
        return self.request("POST", "/v1/runs/%s/heartbeat" % _seg(run_id),
                            {k: v for k, v in fields.items() if v is not None})

    def finish_run(self, run_id):
        """Tells the server the agent is done: the run ends as "finished"."""
        return self.heartbeat(run_id, state="finished")

    def step(self, run_id, text, data=None, **fields):
        """Reports one step of the run: a short text and optional JSON data."""
        body = {"text": text}
        if data is not None:
            body["data"] = data
        body.update((k, v) for k, v in fields.items() if v is not None)
        return self.request("POST", "/v1/runs/%s/steps" % _seg(run_id), body)

    def commands(self, run_id, after=0, wait=None):
        """The run's commands after sequence number after, long-polled up to wait seconds.

        Answers the list [{"seq", "type", "goal", "created_at", "acked_at"}, ...] (empty when
        none came in time). Acknowledge each with ack() once it is carried out.
        """
        answer = self.request("GET", "/v1/runs/%s/commands" % _seg(run_id),
                              query={"after": after, "wait": wait}, wait=wait or 0)
        return (answer or {}).get("commands", [])

    def ack(self, run_id, seq):
        """Acknowledges command seq of the run."""
        return self.request("POST", "/v1/runs/%s/commands/%s/ack" % (_seg(run_id), seq))

    def send_command(self, run_id, type, goal=None):
        """Orchestrator: sends the run a command: pause, resume, stop, or goal with a new goal."""
        body = {"type": type}
        if goal is not None:
            body["goal"] = goal
        return self.request("POST", "/v1/runs/%s/commands" % _seg(run_id), body)


def approval_required(queue, client=None, timeout=None, tool=None, on_submit=None, **fields):
    """Decorates an agent tool so that each call waits for a person's decision first.

    A call submits the task {"input": {"tool": name, "args": {...}}, "output": {...}} to queue,
    where args (and output, the proposal a reviewer approves or corrects) are the call's
    arguments by parameter name, then waits for the decision:
    - approve (by a person or the policy): the function runs with the arguments as called;
    - modify: the function runs with the arguments the reviewer gave (an object of parameter
      names to values, replacing those it names; an unknown name raises HitlError, and the
      function does not run);
    - anything else (reject, a deadline that expired or rejected, a cancelled task): raises
      Rejected with the reviewer's comment, and the function does not run.

    client is a Client, or None for Client() from HITL_URL and HITL_TOKEN at each call. timeout
    bounds the wait in seconds: when it passes, the task is cancelled and Timeout raised (fail
    closed). tool names the tool (default: the function's name). on_submit(task) is called
    once the task is submitted (to log its id, say). fields go to submit() as they are
    (metadata, run_id, deadline_seconds, priority, ...; output= replaces the proposal shown).
    On a method, the first parameter (self or cls) is neither sent nor modifiable. Works on
    async functions as well: the wait then runs in a thread.
    """

    def decorate(fn):
        signature = inspect.signature(fn)
        name = tool or fn.__name__
        first = next(iter(signature.parameters), None)
        hidden = first if first in ("self", "cls") else None  # A method's own object.

        def gate(args, kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = {k: v for k, v in bound.arguments.items() if k != hidden}
            c = client if client is not None else Client()
            submit = {"output": arguments}
            submit.update(fields)
            task = c.submit(queue, {"tool": name, "args": arguments}, **submit)
            if on_submit is not None:
                on_submit(task)
            if task.get("state") in OPEN_STATES:
                try:
                    task = c.wait_for_decision(task["id"], timeout=timeout)
                except Timeout:
                    _cancel_quietly(c, task["id"])
                    raise
            else:
                task = c.get_task(task["id"])  # With its responses, for the comment.
            arguments = _arguments_after(task, arguments, signature, name, hidden)
            if hidden is not None:
                arguments[hidden] = bound.arguments[hidden]
            return arguments

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args, **kwargs):
                arguments = await asyncio.get_running_loop().run_in_executor(
                    None, gate, args, kwargs)
                call_args, call_kwargs = _call_arguments(signature, arguments)
                return await fn(*call_args, **call_kwargs)
            wrapper = async_wrapper
        else:
            @functools.wraps(fn)
            def sync_wrapper(*args, **kwargs):
                call_args, call_kwargs = _call_arguments(signature, gate(args, kwargs))
                return fn(*call_args, **call_kwargs)
            wrapper = sync_wrapper
        wrapper.hitl_queue = queue
        wrapper.hitl_tool = name
        return wrapper

    return decorate


def _arguments_after(task, arguments, signature, name, hidden):
    """The arguments the tool runs with after the decision on task; raises when it must not run."""
    decision = decision_of(task)
    if decision["outcome"] == "approve":
        return arguments
    if decision["outcome"] == "modify":
        changed = decision["value"]
        if not isinstance(changed, dict):
            raise HitlError(0, "validation_failed",
                            "task %s: the modified value for %s() must be an object of its "
                            "arguments by name, not %s" % (task.get("id"), name,
                                                          type(changed).__name__))
        unknown = sorted(set(changed) - set(signature.parameters) | ({hidden} & set(changed)))
        if unknown:
            raise HitlError(0, "validation_failed",
                            "task %s: %s() has no argument %s" % (task.get("id"), name,
                                                                  ", ".join(unknown)))
        merged = dict(arguments)
        merged.update(changed)
        return merged
    raise Rejected(task, decision["outcome"], decision["by"], decision["comment"])


def _call_arguments(signature, arguments):
    """Turns arguments by parameter name back into (args, kwargs) for a call."""
    args, kwargs = [], {}
    for param in signature.parameters.values():
        if param.name not in arguments:
            continue
        value = arguments[param.name]
        if param.kind == param.POSITIONAL_ONLY:
            args.append(value)
        elif param.kind == param.VAR_POSITIONAL:
            args.extend(value)
        elif param.kind == param.VAR_KEYWORD:
            kwargs.update(value)
        else:
            kwargs[param.name] = value
    return args, kwargs


def _cancel_quietly(client, task_id):
    """Cancels a task whose wait timed out; a task decided meanwhile stays as it is."""
    try:
        client.cancel(task_id)
    except HitlError:
        pass


def _task_and_lease(task, lease_id):
    """(task id, lease id) from a claimed task dict, or a task id and an explicit lease id."""
    if isinstance(task, dict):
        task_id = task["id"]
        if lease_id is None:
            lease_id = (task.get("lease") or {}).get("id")
    else:
        task_id = task
    if not lease_id:
        raise ValueError("no lease: pass the task from claim() or lease_id=")
    return task_id, lease_id


def _error_from(status, raw):
    """A HitlError from an error answer's body (the JSON error shape, or whatever came)."""
    try:
        error = json.loads(raw)["error"]
        return HitlError(status, error.get("code"), error.get("message"), error.get("field"))
    except (ValueError, KeyError, TypeError, AttributeError):
        text = raw.decode("utf-8", "replace").strip()[:200]
        return HitlError(status, "http_%d" % status, text or "no body")


def _seg(value):
    """One path segment, percent-encoded."""
    return urllib.parse.quote(str(value), safe="")


def _query_value(value):
    """A query parameter as the server reads it (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _seconds(text, default):
    """A Retry-After header's whole seconds, or default."""
    try:
        return max(0.0, float(text))
    except (TypeError, ValueError):
        return default
