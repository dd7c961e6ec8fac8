"""Writes made in one event-loop turn leave as one write; close sends what is pending first."""

from __future__ import annotations

import asyncio
from typing import Any

from modelplane.edge.corked import CorkedTransport


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else None


async def test_one_turn_of_writes_is_one_write_in_order() -> None:
    inner = RecordingTransport()
    corked = CorkedTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
    corked.write(b"HTTP/1.1 200 OK\r\n\r\n")
    corked.write(b"body")
    assert inner.writes == []
    await asyncio.sleep(0)
    assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    corked.write(b"next")
    corked.close()
    assert inner.writes[-1] == b"next" and inner.closed
    await asyncio.sleep(0)  # the scheduled flush finds nothing left
    assert len(inner.writes) == 2
    assert corked.get_extra_info("peername") == ("127.0.0.1", 1)
