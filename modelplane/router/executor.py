"""Executing a graph: nodes run their selected steps, steps call URLs or other nodes.

Decisions come from pure functions (`select`, `chaining`); this module owns the order of
calls, concurrency (Ensemble members run at once), dependency rules and the deadline.

Dependencies: a failed ``Hard`` step ends its node with that step's status and error; a failed
``Soft`` step is recorded (``soft_failures``, metrics) and its node carries on — a Sequence
with the last good payload, an Ensemble with the error document as that member's entry.

Failover: a Splitter the graph file lists under ``failover`` (the operator's Splitter over an
InferenceService's revisions) sends a request whose chosen step could not be reached (502:
no connection after the retries; 503: the upstream is not serving) to its other steps in
turn, picked by weight: while one revision's pods are gone, the service still answers.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelplane.router import tensors
from modelplane.router.blocking import sleep as blocking_sleep
from modelplane.router.blocking import together
from modelplane.router.chaining import (
    earlier_answer,
    ensemble_requests,
    next_request,
    split_outputs,
    with_outputs,
)
from modelplane.router.ensemble import EnsembleAnswer
from modelplane.router.errors import (
    ChainError,
    GraphDeadlineExceeded,
    NotJSON,
    NotV2,
    StepTimeout,
    UnknownOutput,
    Unreachable,
)
from modelplane.router.fanout import Expected
from modelplane.router.graph import Graph, Node, Step
from modelplane.router.grpc_transport import GrpcCalls, GrpcTransport, metadata, with_model_name
from modelplane.router.metrics import RouterMetrics
from modelplane.router.payload import Payload
from modelplane.router.result import StepResult, failure, upstream_failure
from modelplane.router.select import failover_order, select_steps, sequence_continues
from modelplane.router.transport import Reply, Transport
from modelplane.router.upstream import RetryPolicy, call

FAILOVER_STATUSES = frozenset({502, 503})  # a step not reached or not serving, not a wrong answer


@dataclass(slots=True)
class _Context:
    """Per-request state shared by every node and step of one graph run."""

    deadline: float
    headers: Mapping[str, str]
    limit: str  # what the deadline is, for the answer when it passes
    soft_failures: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)  # steps whose upstream answered 2xx
    _metadata: tuple[tuple[str, str], ...] | None = None

    def member(self) -> _Context:
        """The context of one Ensemble member: the same request, its own record of steps."""
        return _Context(self.deadline, self.headers, self.limit, [], [], self._metadata)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The forwarded headers as gRPC metadata (built once per request)."""
        if self._metadata is None:
            self._metadata = metadata(self.headers)
        return self._metadata


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
        grpc_transport: GrpcCalls | None = None,
        blocking: bool = False,
        expected: Expected | None = None,
    ) -> None:
        """`blocking`: the threaded path (`blocking`), whose transport blocks the request's
        thread; an Ensemble's members then run on that thread (`blocking.together`), else as
        tasks on the running loop."""
        self.graph = graph
        self.transport = transport
        self.grpc: GrpcCalls = grpc_transport if grpc_transport is not None else GrpcTransport()
        self.metrics = metrics
        self.rng = rng if rng is not None else random.Random()
        self.step_timeout = step_timeout
        self.deadline_seconds = graph.timeout if graph.timeout is not None else request_timeout
        self.policy = policy if policy is not None else RetryPolicy()
        # each step's recent latency: an Ensemble sends slowest first
        self.expected = expected if expected is not None else Expected()
        self.blocking = blocking
        self._sleep = blocking_sleep if blocking else asyncio.sleep

    def on_threads(self, transport: Transport, grpc_transport: GrpcCalls) -> Executor:
        """This executor (graph, metrics, timeouts, retries, learned latencies) in blocking
        mode over `transport` and `grpc_transport`: the threaded path."""
        return Executor(
            self.graph,
            transport,
            self.metrics,
            rng=self.rng,
            step_timeout=self.step_timeout,
            request_timeout=self.deadline_seconds,
            policy=self.policy,
            grpc_transport=grpc_transport,
            blocking=True,
            expected=self.expected,
        )

    async def run(
        self, payload: Payload, headers: Mapping[str, str], asked: float | None = None
    ) -> StepResult:
        """Run the root node on a request body with the headers to forward, within the graph's
        deadline or the seconds the request `asked` for (its `timeout`), the earlier."""
        seconds, limit = self.deadline_seconds, "the graph's deadline"
        if asked is not None and asked < seconds:
            seconds, limit = asked, "the request's timeout parameter"
        ctx = _Context(time.monotonic() + seconds, headers, f"{limit} of {seconds:g}s")
        result = await self._node(self.graph.root, payload, ctx)
        result.soft_failures = ctx.soft_failures
        result.ran = ctx.ran
        return result

    async def _node(self, node: Node, payload: Payload, ctx: _Context) -> StepResult:
        start = time.perf_counter()
        try:
            if node.router_type == "Sequence":
                return await self._sequence(node, payload, ctx)
            if node.router_type == "Ensemble":
                return await self._ensemble(node, payload, ctx)
            return await self._choose(node, payload, ctx)
        finally:
            self.metrics.node_latency[node.name].observe(time.perf_counter() - start)

    async def _sequence(self, node: Node, payload: Payload, ctx: _Context) -> StepResult:
        current: StepResult | None = None
        failure: StepResult | None = None  # the last failure of a step that had its own input
        # outputs the client asked for are the last step's: the steps before it answer whole
        asked, whole = split_outputs(payload) if len(node.steps) > 1 else (None, payload)
        last = node.steps[-1]
        answered: Step | None = None  # the step whose answer `current` is
        ended: Step | None = None  # the step whose condition ended the sequence
        for step in node.steps:
            if step.condition is not None:  # only a condition needs to look inside the body
                seen = current.payload if current is not None else payload
                if not sequence_continues(step, seen.json_or_none()):
                    ended = step
                    break  # KServe: a step whose condition fails ends the sequence
            # a $response step after failures only: no answer to take, it gets the node's input
            fallback = current is None and failure is not None and step.data == "$response"
            previous = current.payload if current else None
            if step is last:
                result = await self._step(step, payload, ctx, previous, asked)
            else:
                result = await self._step(step, whole, ctx, previous)
            if result.ok:
                current, answered = result, step
                continue
            if result.fatal:
                return result
            if step.dependency == "Hard":  # a fallback's failure follows from the one before it
                return failure if fallback and failure is not None else result
            ctx.soft_failures.append(step.label)
            if not fallback:
                failure = result
        if current is not None and asked is not None and answered is not last:
            return earlier_answer(node, current, answered, asked, ended, failure)
        if current is not None:
            return current
        if failure is not None:
            return failure
        return StepResult(200, payload)

    async def _ensemble(self, node: Node, payload: Payload, ctx: _Context) -> StepResult:
        try:  # outputs asked for by <step>.<output>: each member its own, the others left out
            requests = ensemble_requests(node.steps, payload)
        except UnknownOutput as exc:
            return failure(exc.status, "unknown requested output", str(exc), node.name)
        steps = node.steps if requests is None else [s for s in node.steps if s.key in requests]
        # each member records what ran and failed on its own, merged in step order below: the
        # answer's graph_steps do not depend on which member answered first
        own = [ctx.member() for _ in steps]
        order = self.expected.order([s.label for s in steps])  # the slowest expected first
        calls = {
            i: self._step(steps[i], requests[steps[i].key] if requests else payload, own[i])
            for i in order
        }
        try:
            if self.blocking:  # on this thread, in `order`
                ran = await together(
                    list(calls.values()), lambda k, r: _decisive(r, steps[order[k]])
                )
                done = ran if isinstance(ran, StepResult) else _in_step_order(order, ran)
            else:
                done = await _at_once(calls, steps)
            if isinstance(done, StepResult):
                return done  # the first Hard failure decides; the rest were stopped
            results = done
        finally:
            for member in own:
                ctx.ran.extend(member.ran)
                ctx.soft_failures.extend(member.soft_failures)
        if not any(o.ok for o in results):
            ctx.soft_failures.extend(s.label for s in steps)
            return results[0]
        failed = frozenset(s.key for s, r in zip(steps, results, strict=True) if not r.ok)
        ctx.soft_failures.extend(s.label for s in steps if s.key in failed)
        members = {s.key: r.payload for s, r in zip(steps, results, strict=True)}
        return StepResult(200, EnsembleAnswer(members, failed))

    async def _choose(self, node: Node, payload: Payload, ctx: _Context) -> StepResult:
        document = None
        if node.router_type == "Switch":
            try:
                document = payload.json()
            except NotJSON as exc:
                return failure(exc.status, exc.summary, str(exc), node.name)
        steps = select_steps(node, document, self.rng)
        if not steps:
            conditions = "; ".join(s.condition.text for s in node.steps if s.condition)
            return failure(
                404,
                f"no step of Switch node {node.name} matched the request",
                f"conditions: {conditions}",
                node.name,
            )
        result = await self._step(steps[0], payload, ctx)
        if node.failover and not result.ok and result.status in FAILOVER_STATUSES:
            for other in failover_order(node, steps[0], self.rng):
                if time.monotonic() >= ctx.deadline:
                    break
                self.metrics.step_error(node.name, steps[0].label, "failover")
                result = await self._step(other, payload, ctx)
                if result.ok or result.status not in FAILOVER_STATUSES:
                    break
        return result

    async def _step(
        self,
        step: Step,
        payload: Payload,
        ctx: _Context,
        previous: Payload | None = None,
        outputs: list[dict[str, Any]] | None = None,
    ) -> StepResult:
        """Run one step on the node's input (and the previous answer, in a Sequence; a
        request built from it asks for `outputs`, the client's, at a Sequence's last step)."""
        start = time.perf_counter()
        try:
            request = next_request(step, payload, previous)
            if outputs is not None and request is not payload:
                request = with_outputs(request, outputs)
        except (ChainError, NotV2) as exc:
            self.metrics.step_error(step.node, step.label, "chain")
            return failure(exc.status, "cannot build the input of this step", str(exc), step.label)
        if step.node_name is not None:
            result = await self._node(self.graph.nodes[step.node_name], request, ctx)
        else:
            result = await self._call(step, request, ctx)
        elapsed = time.perf_counter() - start
        self.metrics.step_latency[step.label].observe(elapsed)
        if result.ok:
            self.expected.observe(step.label, elapsed)
        return result

    async def _call(self, step: Step, payload: Payload, ctx: _Context) -> StepResult:
        timeout = step.timeout if step.timeout is not None else self.step_timeout
        policy = self.policy
        if step.retries is not None:
            policy = RetryPolicy(step.retries, policy.backoff, policy.max_backoff)
        try:
            send = self._sender(step, payload, ctx)
        except (ChainError, NotV2) as exc:
            self.metrics.step_error(step.node, step.label, "chain")
            return failure(exc.status, "cannot build the input of this step", str(exc), step.label)
        try:
            answer = await call(
                send, step_timeout=timeout, policy=policy, deadline=ctx.deadline, sleep=self._sleep
            )
        except StepTimeout as exc:
            self.metrics.step_error(step.node, step.label, "timeout")
            return failure(exc.status, f"step {step.label} timed out", str(exc), step.label)
        except GraphDeadlineExceeded as exc:
            self.metrics.step_error(step.node, step.label, "deadline")
            cause = f"{ctx.limit} passed"
            return failure(exc.status, "graph deadline exceeded", cause, step.label, fatal=True)
        except Unreachable as exc:
            self.metrics.step_error(step.node, step.label, "unreachable")
            return failure(exc.status, f"step {step.label} is unreachable", str(exc), step.label)
        if answer.attempts > 1:
            self.metrics.retried(step.node, step.label, answer.attempts - 1)
        reply = answer.reply
        if 200 <= reply.status < 300:
            ctx.ran.append(step.label)
            if reply.message is not None:
                return StepResult(reply.status, Payload.of_message(reply.message))
            body = Payload(
                reply.body, content_type=reply.content_type, header_length=reply.header_length
            )
            return StepResult(reply.status, body)
        self.metrics.step_error(step.node, step.label, str(reply.status))
        return upstream_failure(reply.status, reply.body, step.label)

    def _sender(
        self, step: Step, payload: Payload, ctx: _Context
    ) -> Callable[[float], Awaitable[Reply]]:
        """One attempt at a step in its protocol (given its timeout), the body converted to that
        protocol's form."""
        if step.grpc_target is not None:
            request = with_model_name(_grpc_request(payload), step.model or "")
            target, meta = step.grpc_target, ctx.metadata
            return lambda limit: self.grpc.infer(target, request, meta, limit)
        if payload.message is not None:  # a gRPC message goes on in the binary extension
            v2 = tensors.from_message(payload.message)
            payload = Payload.of_v2(v2, binary=True)
        url, body = step.service_url or "", payload.body
        headers = ctx.headers if payload.plain else {**ctx.headers, **payload.headers()}
        return lambda limit: self.transport.post(url, body, headers, limit)


def _in_step_order(order: Sequence[int], results: Sequence[StepResult]) -> list[StepResult]:
    """Results listed in `order` (step indexes), put back in step order."""
    by_step = dict(zip(order, results, strict=True))
    return [by_step[i] for i in range(len(results))]


def _decisive(result: StepResult, step: Step) -> bool:
    """Whether a member's failure ends its Ensemble: the deadline passed, or a Hard step."""
    return not result.ok and (result.fatal or step.dependency == "Hard")


async def _at_once(
    calls: dict[int, Coroutine[Any, Any, StepResult]], steps: Sequence[Step]
) -> list[StepResult] | StepResult:
    """An Ensemble's members as tasks on the running loop, started in the order of `calls`:
    their results in step order, or the first decisive failure (the others cancelled)."""
    started = {i: asyncio.ensure_future(call) for i, call in calls.items()}
    tasks = {started[i]: step for i, step in enumerate(steps)}  # in step order
    try:
        pending: set[asyncio.Future[StepResult]] = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in (t for t in tasks if t in done):  # in step order
                if _decisive(task.result(), tasks[task]):
                    return task.result()
    finally:
        for task in tasks:
            task.cancel()
    return [task.result() for task in tasks]


def _grpc_request(payload: Payload) -> bytes:
    """A payload as a serialized ModelInferRequest (raw tensors stay raw)."""
    message = payload.message
    if message is None or not tensors.is_request_message(message):
        v2 = payload.v2()
        if v2 is None or v2.kind != "request":
            raise NotV2("a gRPC step needs a V2 inference request (inputs with data)")
        message = tensors.to_message(v2)
    data: bytes = message.SerializeToString()
    return data
