"""Executing a graph: nodes run their selected steps, steps call URLs or other nodes.

Decisions come from pure functions (`select`, `chaining`); this module owns the order of
calls, concurrency (Ensemble members run at once), dependency rules and the deadline.

Dependencies: a failed ``Hard`` step ends its node with that step's status and error; a failed
``Soft`` step is recorded (``soft_failures``, metrics) and its node carries on — a Sequence
with the last good payload, an Ensemble with the error document as that member's entry.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import orjson

from modelplane.router.chaining import ChainError, next_request
from modelplane.router.errors import Outcome, failure, upstream_failure
from modelplane.router.graph import Graph, Node, Step
from modelplane.router.metrics import RouterMetrics
from modelplane.router.payload import NotJSON, Payload
from modelplane.router.select import select_steps
from modelplane.router.transport import Transport
from modelplane.router.upstream import (
    DeadlineExceeded,
    RetryPolicy,
    StepTimeout,
    Unreachable,
    post,
)


class _Decisive(Exception):
    """A failed Hard (or deadline-hit) Ensemble member: its outcome ends the node."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.status)
        self.outcome = outcome


@dataclass(slots=True)
class _Context:
    """Per-request state shared by every node and step of one graph run."""

    deadline: float
    headers: Mapping[str, str]
    soft_failures: list[str] = field(default_factory=list)


class Executor:
    """Runs one graph over one pooled transport."""

    def __init__(
        self,
        graph: Graph,
        transport: Transport,
        metrics: RouterMetrics,
        *,
        rng: random.Random | None = None,
        step_timeout: float = 60.0,
        request_timeout: float = 120.0,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.graph = graph
        self.transport = transport
        self.metrics = metrics
        self.rng = rng if rng is not None else random.Random()
        self.step_timeout = step_timeout
        self.deadline_seconds = graph.timeout if graph.timeout is not None else request_timeout
        self.policy = policy if policy is not None else RetryPolicy()

    async def run(self, payload: Payload, headers: Mapping[str, str]) -> Outcome:
        """Run the root node on a request body with the headers to forward."""
        ctx = _Context(time.monotonic() + self.deadline_seconds, headers)
        outcome = await self._node(self.graph.root, payload, ctx)
        outcome.soft_failures = ctx.soft_failures
        return outcome

    async def _node(self, node: Node, payload: Payload, ctx: _Context) -> Outcome:
        start = time.perf_counter()
        try:
            if node.router_type == "Sequence":
                return await self._sequence(node, payload, ctx)
            if node.router_type == "Ensemble":
                return await self._ensemble(node, payload, ctx)
            return await self._choose(node, payload, ctx)
        finally:
            self.metrics.node_latency[node.name].observe(time.perf_counter() - start)

    async def _sequence(self, node: Node, payload: Payload, ctx: _Context) -> Outcome:
        current: Outcome | None = None
        last_failure: Outcome | None = None
        for step in node.steps:
            if step.condition is not None:
                seen = current.payload if current is not None else payload
                if not step.condition.matches(seen.json_or_none()):
                    break  # KServe: a step whose condition fails ends the sequence
            outcome = await self._step(step, payload, ctx, current.payload if current else None)
            if outcome.ok:
                current = outcome
                continue
            if outcome.fatal or step.dependency == "Hard":
                return outcome
            ctx.soft_failures.append(step.label)
            last_failure = outcome
        if current is not None:
            return current
        if last_failure is not None:
            return last_failure
        return Outcome(200, payload)

    async def _ensemble(self, node: Node, payload: Payload, ctx: _Context) -> Outcome:
        async def member(step: Step) -> Outcome:
            outcome = await self._step(step, payload, ctx)
            if not outcome.ok and (outcome.fatal or step.dependency == "Hard"):
                raise _Decisive(outcome)
            return outcome

        tasks = [asyncio.ensure_future(member(s)) for s in node.steps]
        try:
            outcomes = await asyncio.gather(*tasks)
        except _Decisive as exc:
            return exc.outcome  # the first Hard failure decides; the rest are cancelled below
        finally:
            for task in tasks:
                task.cancel()
        if not any(o.ok for o in outcomes):
            ctx.soft_failures.extend(s.label for s in node.steps)
            return outcomes[0]
        merged = {}
        for step, outcome in zip(node.steps, outcomes, strict=True):
            if not outcome.ok:
                ctx.soft_failures.append(step.label)
            merged[step.key] = _entry(outcome.payload)
        return Outcome(200, Payload(orjson.dumps(merged), merged))

    async def _choose(self, node: Node, payload: Payload, ctx: _Context) -> Outcome:
        document = None
        if node.router_type == "Switch":
            try:
                document = payload.json()
            except NotJSON as exc:
                return failure(400, "request body is not JSON", str(exc), node.name)
        steps = select_steps(node, document, self.rng)
        if not steps:
            conditions = "; ".join(s.condition.text for s in node.steps if s.condition)
            return failure(
                404,
                f"no step of Switch node {node.name} matched the request",
                f"conditions: {conditions}",
                node.name,
            )
        return await self._step(steps[0], payload, ctx)

    async def _step(
        self, step: Step, payload: Payload, ctx: _Context, previous: Payload | None = None
    ) -> Outcome:
        """Run one step on the node's input (and the previous answer, in a Sequence)."""
        start = time.perf_counter()
        try:
            request = next_request(step, payload, previous)
        except ChainError as exc:
            self.metrics.step_error(step.node, step.label, "chain")
            return failure(500, "cannot build the input of this step", str(exc), step.label)
        if step.node_name is not None:
            outcome = await self._node(self.graph.nodes[step.node_name], request, ctx)
        else:
            outcome = await self._call(step, request, ctx)
        self.metrics.step_latency[step.label].observe(time.perf_counter() - start)
        return outcome

    async def _call(self, step: Step, payload: Payload, ctx: _Context) -> Outcome:
        timeout = step.timeout if step.timeout is not None else self.step_timeout
        policy = self.policy
        if step.retries is not None:
            policy = RetryPolicy(step.retries, policy.backoff, policy.max_backoff)
        try:
            answer = await post(
                self.transport,
                step.service_url or "",
                payload.body,
                ctx.headers if payload.plain else {**ctx.headers, **payload.headers()},
                step_timeout=timeout,
                policy=policy,
                deadline=ctx.deadline,
            )
        except StepTimeout as exc:
            self.metrics.step_error(step.node, step.label, "timeout")
            return failure(504, f"step {step.label} timed out", str(exc), step.label)
        except DeadlineExceeded:
            self.metrics.step_error(step.node, step.label, "deadline")
            cause = f"the graph's deadline of {self.deadline_seconds:g}s passed"
            return failure(504, "graph deadline exceeded", cause, step.label, fatal=True)
        except Unreachable as exc:
            self.metrics.step_error(step.node, step.label, "unreachable")
            return failure(502, f"step {step.label} is unreachable", str(exc), step.label)
        if answer.attempts > 1:
            self.metrics.retried(step.node, step.label, answer.attempts - 1)
        reply = answer.reply
        if 200 <= reply.status < 300:
            body = Payload(
                reply.body, content_type=reply.content_type, header_length=reply.header_length
            )
            return Outcome(reply.status, body)
        self.metrics.step_error(step.node, step.label, str(reply.status))
        return upstream_failure(reply.status, reply.body, step.label)


def _entry(payload: Payload) -> object:
    """An Ensemble member's entry: its JSON value, or its body as text when it is not JSON."""
    try:
        return payload.json()
    except NotJSON:
        return payload.body.decode("utf-8", "replace")
