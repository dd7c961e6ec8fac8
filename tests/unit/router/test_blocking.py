"""Coroutines run on the calling thread, suspending only once a request is out, and an
Ensemble's members run together on one thread, each resumed as its answer arrives
(`modelplane.router.blocking`). Answers come on real socket pairs."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from modelplane.router.blocking import Sent, Suspended, alone, drive, sleep, together


class Upstream:
    """A socket pair per call: the test writes the answer to `far`, the call reads `near`."""

    def __init__(self) -> None:
        self.pairs: dict[str, tuple[socket.socket, socket.socket]] = {}
        self.log: list[str] = []

    def answer(self, name: str, after: float = 0.0) -> None:
        def write() -> None:
            time.sleep(after)
            deadline = time.monotonic() + 5
            while name not in self.pairs and time.monotonic() < deadline:
                time.sleep(0.005)  # a call made later, after others' answers
            with contextlib.suppress(OSError, KeyError):  # the test may be over
                self.pairs[name][1].send(name.encode())

        threading.Thread(target=write, daemon=True).start()

    async def call(self, name: str, due: float | None = None) -> str:
        """An upstream call as the blocking transport makes it: sent, suspended, answer read."""
        near, _ = self.pairs[name] = socket.socketpair()
        self.log.append(f"send {name}")
        await Sent((near.fileno(),), due)
        near.settimeout(None if due is None else max(due - time.monotonic(), 1e-6))
        answer = near.recv(100).decode()
        self.log.append(f"read {name}")
        return answer

    def close(self) -> None:
        for near, far in self.pairs.values():
            near.close()
            far.close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    up = Upstream()
    yield up
    up.close()


async def add(a: int, b: int) -> int:
    return a + b


def test_drive_runs_a_coroutine_to_its_end_resuming_it_after_each_request(
    upstream: Upstream,
) -> None:
    async def two() -> str:
        first = await upstream.call("a")
        return first + await upstream.call("b")

    assert drive(add(1, 2)) == 3
    coro = two()
    threading.Timer(0.05, lambda: upstream.answer("a")).start()
    threading.Timer(0.1, lambda: upstream.answer("b")).start()
    assert drive(coro) == "ab"
    assert upstream.log == ["send a", "read a", "send b", "read b"]


def test_a_coroutine_that_waits_on_an_event_loop_is_refused_not_hung() -> None:
    async def waits() -> None:
        await asyncio.sleep(0)  # yields to a loop there is not

    with pytest.raises(Suspended):
        drive(waits())


def test_sleep_blocks_the_thread_for_the_pause() -> None:
    started = time.monotonic()
    drive(sleep(0.05))
    assert time.monotonic() - started >= 0.05


def test_together_sends_every_request_first_then_reads_each_answer_as_it_comes(
    upstream: Upstream,
) -> None:
    members = [upstream.call("slow"), upstream.call("mid"), upstream.call("fast")]
    for name, after in (("slow", 0.3), ("mid", 0.2), ("fast", 0.1)):
        threading.Timer(0.01, upstream.answer, (name, after)).start()
    started = time.monotonic()
    results = drive(together(members, lambda i, r: False))
    assert time.monotonic() - started < 0.45  # at once, not one after another (0.6)
    assert results == ["slow", "mid", "fast"]  # in the order given
    assert upstream.log[:3] == ["send slow", "send mid", "send fast"]
    assert upstream.log[3:] == ["read fast", "read mid", "read slow"]  # as they came


def test_a_decisive_result_ends_it_at_once_and_closes_the_members_still_waiting(
    upstream: Upstream,
) -> None:
    closed: list[str] = []

    async def member(name: str) -> str:
        try:
            return await upstream.call(name)
        except GeneratorExit:
            closed.append(name)
            raise

    members = [member("slow"), member("bad"), member("fast")]
    upstream.answer("bad", 0.05)
    upstream.answer("fast", 0.1)
    started = time.monotonic()
    result = drive(together(members, lambda i, r: r == "bad"))
    assert result == "bad"
    assert time.monotonic() - started < 0.09  # not waiting for "slow", which never answers
    assert sorted(closed) == ["fast", "slow"]


def test_a_member_whose_answer_is_late_is_read_when_due_and_times_out(
    upstream: Upstream,
) -> None:
    due = time.monotonic() + 0.1
    members = [upstream.call("never", due), upstream.call("never2", due + 5)]
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        drive(together(members, lambda i, r: False))
    assert 0.09 < time.monotonic() - started < 1


def test_together_inside_together_starts_every_request_before_any_answer_is_read(
    upstream: Upstream,
) -> None:
    async def node() -> list[str] | str:
        return await together([upstream.call("x"), upstream.call("y")], lambda i, r: False)

    for name in ("x", "y", "z"):
        threading.Timer(0.05, upstream.answer, (name,)).start()
    results = drive(together([node(), upstream.call("z")], lambda i, r: False))
    assert results == [["x", "y"], "z"]
    assert upstream.log[:3] == ["send x", "send y", "send z"]


def test_a_call_is_alone_outside_an_ensembles_members_and_not_inside_them(
    upstream: Upstream,
) -> None:
    """`alone` lets a call with nothing else to send wait without suspending (`grpc_block`);
    inside a member, however deep and after however many answers, it must suspend."""
    seen: list[tuple[str, bool]] = []

    async def step(name: str) -> str:
        seen.append((name, alone()))
        return await upstream.call(name)

    async def sequence(*names: str) -> list[str]:
        return [await step(n) for n in names]

    async def graph() -> Any:
        first = await step("a")
        both = await together([sequence("b", "c"), step("d")], lambda i, r: False)
        return first, both, await step("e")

    for name in "abcde":
        threading.Timer(0.05, upstream.answer, (name,)).start()
    assert drive(graph()) == ("a", [["b", "c"], "d"], "e")
    assert sorted(seen) == [("a", True), ("b", False), ("c", False), ("d", False), ("e", True)]
    assert alone()  # and after it, on this thread
