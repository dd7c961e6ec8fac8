"""Running the graph on the request's own thread, without an event loop (the threaded REST path).

The executor is written once, as coroutines. Over the blocking transport (`h1block`) an
upstream call sends its request, suspends once with a `Sent` (the request is out; nothing
else is ever awaited), then reads its answer on the calling thread. `drive` runs such a
coroutine to its end on the calling thread, resuming it at once after each `Sent`: none of
asyncio's tasks, futures, callbacks or selector on the way. Measured on this 2-vCPU machine that machinery was
most of what a Python hop cost (docs/router.md: a pass-through on blocking threads +0.06 to
+0.08 ms against +0.14 to +0.20 ms on uvloop, and after an idle wait +0.23 against +0.34 ms).

An Ensemble's members run at once on the same thread (`together`): each is started until its
request is out, in the executor's order (the slowest expected first), then resumed as its
answer arrives (one ``poll`` over their sockets while two or more wait; the last is read
directly), so the first Hard failure ends the node as on the loop. No answer is handed
between threads. A retry's pause (`sleep`) blocks the thread.
"""

from __future__ import annotations

import math
import select
import threading
import time
from collections.abc import Callable, Coroutine, Generator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
_running = threading.local()  # `members`: how deep this thread is inside Ensemble members


class Suspended(RuntimeError):
    """A coroutine run here waited on something other than its own request: an event loop."""


class Sent:
    """What an upstream call awaits once its request is out (the one suspension allowed): the
    sockets its answer will come on, and when it is due (a `time.monotonic()` instant)."""

    __slots__ = ("due", "fds")

    def __init__(self, fds: tuple[int, ...], due: float | None) -> None:
        self.fds = fds
        self.due = due

    def __await__(self) -> Generator[Sent, None, None]:
        yield self


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end on this thread, resuming it at once after each `Sent`."""
    send = coro.send
    try:
        while type(send(None)) is Sent:
            pass
    except StopIteration as done:
        value: T = done.value
        return value
    coro.close()
    raise Suspended("a coroutine on the threaded path awaited an event loop")


async def sleep(seconds: float) -> None:
    """A retry's pause on the request's thread."""
    time.sleep(seconds)  # noqa: ASYNC251  # a coroutine only in form: it blocks by design


async def together(
    members: Sequence[Coroutine[Any, Any, T]], decisive: Callable[[int, T], bool]
) -> list[T] | T:
    """Run members at once on this thread: each started in the order given until its request
    is out, then each resumed as its answer arrives, until all have ended. Their results in
    the order given, or the first result `decisive(index, result)` holds for (the members
    still running are closed, their connections with them)."""
    results: dict[int, T] = {}
    waiting: dict[int, Sent] = {}
    for i, member in enumerate(members):
        sent = _resume(member, i, results)
        if sent is not None:
            waiting[i] = sent
    try:
        for i in sorted(results):  # those that ended before sending anything
            if decisive(i, results[i]):
                return results[i]
        if waiting:  # every request is out: an enclosing `together` starts its other members
            await Sent(tuple(fd for s in waiting.values() for fd in s.fds), _due(waiting))
        while waiting:
            for i in _ready(waiting):
                sent = _resume(members[i], i, results)
                if sent is not None:
                    waiting[i] = sent
                    continue
                del waiting[i]
                if decisive(i, results[i]):
                    return results[i]
    finally:
        for i in waiting:
            members[i].close()
    return [results[i] for i in range(len(members))]


def alone() -> bool:
    """Whether the call being made on this thread is the only one in flight (not an Ensemble
    member's): it may then wait for its answer without suspending."""
    return not getattr(_running, "members", 0)


def _resume(member: Coroutine[Any, Any, T], i: int, results: dict[int, T]) -> Sent | None:
    """Run a member on until its next request is out (what it waits on) or its end (None:
    its result is in `results`)."""
    _running.members = getattr(_running, "members", 0) + 1
    try:
        sent = member.send(None)
    except StopIteration as done:
        results[i] = done.value
        return None
    finally:
        _running.members -= 1
    if type(sent) is Sent:
        return sent
    member.close()
    raise Suspended("an Ensemble member on the threaded path awaited an event loop")


def _due(waiting: dict[int, Sent]) -> float | None:
    dues = [s.due for s in waiting.values() if s.due is not None]
    return min(dues) if dues else None


def _ready(waiting: dict[int, Sent]) -> list[int]:
    """The members whose answers have begun to arrive (waiting for the first), or, when none
    arrives before the earliest is due, that one (its read then times out). The last one
    waiting is read at once: no poll."""
    if len(waiting) == 1:
        return list(waiting)
    poller = select.poll()
    owner: dict[int, int] = {}
    for i, sent in waiting.items():
        for fd in sent.fds:
            poller.register(fd, select.POLLIN)
            owner[fd] = i
    due = _due(waiting)
    wait = None if due is None else max(0, math.ceil((due - time.monotonic()) * 1000))
    events = poller.poll(wait)
    if not events:
        return [min(waiting, key=lambda i: waiting[i].due or math.inf)]
    return list(dict.fromkeys(owner[fd] for fd, _ in events))
