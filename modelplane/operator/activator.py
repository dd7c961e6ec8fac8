"""The activator: holds HTTP requests for a component at zero, wakes it, forwards to its pod.

A predictor with minReplicas 0 that the idle clock sent to zero has a Service without a
selector whose EndpointSlice points here (`render.activation`). A request arriving here is
matched to its component by the Host header (`targets.resolve`), held while one wake per
component scales its Deployment to 1 through the scale subresource and waits for a Ready pod,
then forwarded to that pod. Once a pod exists the operator gives the Service its selector
back, so warm traffic never passes here.

Bounded: at most `maxHeldRequests` requests are held per component, each for at most
`wakeTimeoutSeconds`; beyond either the answer is 503 with a message that the model is
starting. Runs in the operator process (every replica, leader or not: waking is idempotent).
"""

from __future__ import annotations

import asyncio
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
from modelplane.operator.targets import Target, ready_pod_ip, resolve, target_of

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

    async def close(self) -> None:
        """Stop listening; cancel wakes; close the upstream connections."""
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
        key = target.key
        if self._held.get(key, 0) >= self.config.max_held_requests:
            return error(503, self._starting(target, "too many requests are waiting"), 5)
        self._held[key] = self._held.get(key, 0) + 1
        try:
            body = await request.read()
            try:
                address = await asyncio.wait_for(
                    asyncio.shield(self._wake(target)), self.config.wake_timeout_seconds
                )
            except TimeoutError:
                waited = f"no replica was ready within {self.config.wake_timeout_seconds:g} s"
                return error(503, self._starting(target, waited), 5)
            except LookupError as missing:
                return error(404, str(missing))
        finally:
            self._held[key] -= 1
        return await self._forward(request, body, f"{address}:{target.port}")

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
