"""The activator: holds requests for a component at zero, wakes it, forwards to its pod.

A predictor with minReplicas 0 that the idle clock sent to zero has a Service without a
selector whose EndpointSlice points here (`render.activation`). A request arriving here is
matched to its component by the Host header (`targets.resolve`), held while one wake per
component scales its Deployment to 1 through the scale subresource and waits for a Ready pod,
then forwarded to that pod. Once a pod exists the operator gives the Service its selector
back, so warm traffic never passes here.

Bounded: at most `maxHeldRequests` requests are held per component, each for at most
`wakeTimeoutSeconds`; beyond either the answer is 503 with a message that the model is
starting. gRPC arrives on the component's own relay port (`relay`), is held under the same
bounds and relayed to the woken pod. Runs in the operator process (every replica, leader or
not: waking is idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence

import aiohttp
from aiohttp import web

from modelplane.edge.keepalive import KEEP_ALIVE_SECONDS
from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.kube import Kube
from modelplane.operator.relay import Relay
from modelplane.operator.targets import Target, ready_pod_ip, relayed, resolve, target_of

log = logging.getLogger(__name__)

# Headers that describe one connection, not the request (RFC 9110 7.6.1), plus the length
# that aiohttp sets again for the forwarded body (bodies pass through undecoded).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
TARGETS_TTL = 1.0  # seconds a listing of the marked Services is reused
POLL = 0.25  # seconds between looks at a waking component's pods
RELAY_SYNC = 1.0  # seconds between looks at which relay ports to listen on


class Refused(Exception):
    """A held request the activator gives up on: the HTTP status and the message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error(status: int, message: str, retry_after: int | None = None) -> web.Response:
    """A JSON error like the model server's: {"error": message}."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return web.Response(
        status=status,
        body=json.dumps({"error": message}).encode(),
        content_type="application/json",
        headers=headers,
    )


class Activator:
    """The activator's request handler and its per-component wakes."""

    def __init__(self, kube: Kube, config: OperatorConfig, namespaces: Sequence[str] = ()) -> None:
        self.kube = kube
        self.config = config
        self.namespaces = tuple(namespaces)
        self._listed: tuple[float, list[Target]] = (-TARGETS_TTL, [])
        self._wakes: dict[tuple[str, str], asyncio.Task[str]] = {}
        self._held: dict[tuple[str, str], int] = {}
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._relay: Relay | None = None
        self._relay_sync: asyncio.Task[None] | None = None

    # --- lifecycle --------------------------------------------------------------------

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port (in a pod, all addresses; tests bind 127.0.0.1)."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        self._session = aiohttp.ClientSession(timeout=timeout, auto_decompress=False)
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        # idle connections outlive the proxy's in front (modelplane.edge.keepalive)
        self._runner = web.AppRunner(app, access_log=None, keepalive_timeout=KEEP_ALIVE_SECONDS)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        log.info("activator listening on %s:%s", host, port)
        self._relay = Relay(host, self.wake_connection)
        self._relay_sync = asyncio.create_task(self._sync_relay_forever())

    @property
    def relay(self) -> Relay | None:
        """The gRPC relay (once started)."""
        return self._relay

    async def close(self) -> None:
        """Stop listening; cancel wakes; close the upstream connections."""
        if self._relay_sync is not None:
            self._relay_sync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay_sync
        if self._relay is not None:
            await self._relay.close()
        for task in self._wakes.values():
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # --- requests ---------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Hold, wake, forward."""
        target = resolve(request.host, await self._targets())
        if target is None:
            return error(404, f"no scale-to-zero model is served as host {request.host}")
        body = await request.read()
        try:
            address = await self._hold(target)
        except Refused as refused:
            return error(refused.status, str(refused), 5 if refused.status == 503 else None)
        return await self._forward(request, body, f"{address}:{target.port}")

    async def wake_connection(self, target: Target) -> str | None:
        """A relayed gRPC connection's hold: the woken pod's IP, None when refused."""
        try:
            return await self._hold(target)
        except Refused as refused:
            log.warning("closing a gRPC connection to %s/%s: %s", *target.key, refused)
            return None

    async def _hold(self, target: Target) -> str:
        """Hold one request (within the bounds) until the component's pod is Ready."""
        key = target.key
        if self._held.get(key, 0) >= self.config.max_held_requests:
            raise Refused(503, self._starting(target, "too many requests are waiting"))
        self._held[key] = self._held.get(key, 0) + 1
        try:
            return await asyncio.wait_for(
                asyncio.shield(self._wake(target)), self.config.wake_timeout_seconds
            )
        except TimeoutError:
            waited = f"no replica was ready within {self.config.wake_timeout_seconds:g} s"
            raise Refused(503, self._starting(target, waited)) from None
        except LookupError as missing:
            raise Refused(404, str(missing)) from None
        finally:
            self._held[key] -= 1

    async def _sync_relay_forever(self) -> None:
        """Keep a relay listener on every claimed relay port (a failed look is retried)."""
        assert self._relay is not None
        while True:
            try:
                await self._relay.sync(relayed(await self._targets()))
            except Exception:
                log.exception("relay ports not synced; next look in %ss", RELAY_SYNC)
            await asyncio.sleep(RELAY_SYNC)

    @staticmethod
    def _starting(target: Target, why: str) -> str:
        return f"model {target.deployment} in {target.namespace} is starting ({why}); retry"

    async def _targets(self) -> list[Target]:
        at, targets = self._listed
        if time.monotonic() - at < TARGETS_TTL:
            return targets
        selector = f"{names.SCALE_TO_ZERO_LABEL}=true"
        services = []
        for scope in self.namespaces or (None,):
            services += await asyncio.to_thread(self.kube.list, "Service", scope, selector)
        targets = [t for t in map(target_of, services) if t is not None]
        self._listed = (time.monotonic(), targets)
        return targets

    def _wake(self, target: Target) -> asyncio.Task[str]:
        """The one wake of a component: its Ready pod's IP once there is one."""
        task = self._wakes.get(target.key)
        if task is None:
            task = asyncio.create_task(self._wake_until_ready(target))
            self._wakes[target.key] = task
            task.add_done_callback(lambda _: self._wakes.pop(target.key, None))
        return task

    async def _wake_until_ready(self, target: Target) -> str:
        started = time.monotonic()
        deadline = started + self.config.wake_timeout_seconds
        woken = False
        while True:
            namespace, name = target.key
            deployment = await asyncio.to_thread(self.kube.get, "Deployment", namespace, name)
            if deployment is None:
                raise LookupError(f"Deployment {namespace}/{name} does not exist")
            match = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            selector = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
            pods = await asyncio.to_thread(self.kube.list, "Pod", namespace, selector)
            address = ready_pod_ip(pods)
            if address is not None:
                if woken:
                    log.info(
                        "woke %s/%s: a pod is Ready %.1f s after the first request",
                        namespace,
                        name,
                        time.monotonic() - started,
                    )
                return address
            if not woken and not (deployment.get("spec") or {}).get("replicas"):
                log.info("waking %s/%s: scaling from 0 to 1", namespace, name)
                await asyncio.to_thread(self.kube.scale, "Deployment", namespace, name, 1)
                woken = True
            if time.monotonic() >= deadline:
                raise TimeoutError
            await asyncio.sleep(POLL)

    async def _forward(self, request: web.Request, body: bytes, address: str) -> web.Response:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        url = f"http://{address}{request.rel_url}"
        try:
            async with self._session.request(
                request.method, url, headers=headers, data=body, allow_redirects=False
            ) as answer:
                content = await answer.read()
                reply = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
                return web.Response(status=answer.status, body=content, headers=reply)
        except aiohttp.ClientError as failure:
            return error(502, f"the woken model did not answer: {failure}")
