"""Streaming inference's loop (`v2grpc.stream`): answers in the order asked, several at once
within the window, the stream's own failure passed on, and nothing left running after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from modelplane.v2grpc import stream
from modelplane.v2grpc.stream import answer_stream


async def _requests(*items: float) -> AsyncIterator[float]:
    for item in items:
        yield item


async def test_answers_come_in_the_order_asked_even_when_later_ones_finish_first() -> None:
    finished: list[float] = []

    async def answer(seconds: float) -> str:
        await asyncio.sleep(seconds)
        finished.append(seconds)
        return f"after {seconds}"

    got = [a async for a in answer_stream(_requests(0.05, 0.0, 0.02), answer)]
    assert got == ["after 0.05", "after 0.0", "after 0.02"]
    assert finished == [0.0, 0.02, 0.05]  # they ran at once


async def test_at_most_the_window_runs_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "WINDOW", 3)
    running = 0
    peak = 0

    async def answer(item: float) -> float:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001)
        running -= 1
        return item

    got = [a async for a in answer_stream(_requests(*range(20)), answer)]
    assert got == list(range(20))
    assert peak == 3


async def test_a_stream_that_breaks_ends_with_its_error_after_the_answers_before() -> None:
    async def broken() -> AsyncIterator[int]:
        yield 1
        raise ConnectionResetError("client went away")

    async def answer(item: int) -> int:
        return item * 10

    got: list[int] = []
    with pytest.raises(ConnectionResetError):
        async for a in answer_stream(broken(), answer):
            got.append(a)
    assert got == [10]


async def test_closing_the_stream_early_cancels_what_is_still_running() -> None:
    started: list[asyncio.Task[object] | None] = []

    async def answer(item: float) -> float:
        started.append(asyncio.current_task())
        if item:
            await asyncio.sleep(30)
        return item

    answers = answer_stream(_requests(0, 1, 1), answer)
    assert await anext(answers) == 0
    await asyncio.sleep(0.01)  # let the others start
    await answers.aclose()
    await asyncio.sleep(0)
    assert len(started) == 3
    assert all(t is not None and (t.done() or t.cancelled()) for t in started[1:])
