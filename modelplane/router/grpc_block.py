"""Calling model servers over V2 gRPC from the threaded REST path (`blocking`), no event loop.

The same calls as `grpc_transport` (one reused channel per upstream, the request bytes the
router serialized, the same answers and failures: `grpc_transport.error_reply`), on grpc's
synchronous channels. A call alone on its thread (a Sequence's, a Switch's) blocks in grpc,
which then reads the answer on this thread: no hand-over from grpc's own thread; its limit
is the call's deadline, and a DEADLINE_EXCEEDED once the limit has passed is the router's
TimeoutError. An Ensemble member's call (`blocking.alone` is false) starts, suspends once
with a `blocking.Sent` on an eventfd that the call's completion writes (so the Ensemble sends
its other members' requests and waits for a gRPC member's answer with its REST members'
sockets in one ``poll``), then takes the answer; it is cancelled when the router's limit
passes (TimeoutError). An upstream's own DEADLINE_EXCEEDED before the limit stays its
answer.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import grpc

from modelplane.router.blocking import Sent, alone
from modelplane.router.grpc_transport import CHANNEL_OPTIONS, answered, error_reply, model_infer
from modelplane.router.transport import Reply


class _Ready:
    """An eventfd written when a call completes; closed once, by whichever of the call's
    completion and its caller comes last (a completion after the caller gave up must not write
    to a closed descriptor whose number has been reused)."""

    __slots__ = ("_lock", "_owners", "fd")

    def __init__(self) -> None:
        self.fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._lock = threading.Lock()
        self._owners = 2  # the call's completion and the caller

    def done(self, _: object = None) -> None:
        """The call completed (its callback): wake the caller's poll (the descriptor is open:
        this completion still owns it)."""
        os.eventfd_write(self.fd, 1)
        self.release()

    def release(self) -> None:
        with self._lock:
            self._owners -= 1
            if self._owners == 0:
                os.close(self.fd)


def _passed(due: float | None) -> bool:
    return due is not None and time.monotonic() >= due


class BlockingGrpcTransport:
    """One synchronous grpc channel per upstream target (host:port), opened on first use;
    shared by the router's threads (grpc's channels are thread-safe)."""

    def __init__(self) -> None:
        self._calls: dict[str, Any] = {}  # grpc's UnaryUnaryMultiCallable per target
        self._channels: dict[str, grpc.Channel] = {}
        self._lock = threading.Lock()  # two threads' first calls open one channel

    def _call(self, target: str) -> Any:
        call = self._calls.get(target)
        if call is None:
            with self._lock:
                call = self._calls.get(target)
                if call is None:
                    channel = grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
                    self._channels[target] = channel
                    call = self._calls[target] = model_infer(channel)
        return call

    async def infer(
        self,
        target: str,
        request: bytes,
        meta: tuple[tuple[str, str], ...],
        limit: float | None = None,
    ) -> Reply:
        """ModelInfer on one upstream; the reply carries the response message or the error.

        TimeoutError when no answer came within `limit` seconds (the call is cancelled).
        """
        due = None if limit is None else time.monotonic() + limit
        if alone():  # nothing else to send meanwhile: grpc waits on this thread, no hand-over
            try:
                message = self._call(target)(request, metadata=meta, timeout=limit)
            except grpc.RpcError as exc:
                code = exc.code()  # a grpc.Call too
                if code == grpc.StatusCode.DEADLINE_EXCEEDED and _passed(due):
                    raise TimeoutError("no answer in time") from exc  # this call's own limit
                return error_reply(exc)
            return answered(message)
        ready = _Ready()
        try:
            future = self._call(target).future(request, metadata=meta)
        except BaseException:
            ready.release()
            ready.release()
            raise
        try:
            future.add_done_callback(ready.done)
            await Sent((ready.fd,), due)  # the request is on its way: the caller may send others
            wait = None if due is None else max(due - time.monotonic(), 0.0)
            try:
                message = future.result(timeout=wait)
            except grpc.FutureTimeoutError as exc:
                future.cancel()
                raise TimeoutError("no answer in time") from exc
            except grpc.RpcError as exc:
                return error_reply(exc)
            return answered(message)
        finally:
            if not future.done():  # the caller gave up (an Ensemble's decisive failure)
                future.cancel()
            ready.release()

    async def aclose(self) -> None:
        """Close every channel."""
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()
            self._calls.clear()
