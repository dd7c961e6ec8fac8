"""The idle clock's loop: reads the scale-to-zero components' model servers, idles them to 0.

Every `idleCheckSeconds` the leading replica lists the marked Services (`targets`), reads
/metrics of each component's Ready pods and feeds the sums to the pure `idle.IdleClock`; a
component idle for its `scaleToZeroAfterSeconds` is scaled to 0 through the scale
subresource, only while the activator has a Ready address to send its traffic to. The
Deployment's change starts a pass that points the Service at the activator.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

import aiohttp

from modelplane.operator import names
from modelplane.operator.activation_pass import activator_addresses
from modelplane.operator.config import OperatorConfig
from modelplane.operator.idle import IdleClock, Sample, reading, served_since
from modelplane.operator.kube import Kube
from modelplane.operator.targets import Target, target_of

log = logging.getLogger(__name__)

SCRAPE_TIMEOUT = 2.0


class Idler:
    """Scale-to-zero components' idle clocks and the loop that reads and acts on them."""

    def __init__(
        self,
        kube: Kube,
        config: OperatorConfig,
        leading: Callable[[], bool],
        namespaces: Sequence[str] = (),
    ) -> None:
        self.kube = kube
        self.config = config
        self.leading = leading
        self.namespaces = tuple(namespaces)
        self.clock = IdleClock()
        # per parked component: its reading when parked, and when (this replica's view)
        self._parked: dict[tuple[str, str], tuple[Sample, float]] = {}

    async def run_forever(self) -> None:
        """Check every idleCheckSeconds while leading; a failed check is logged and retried."""
        timeout = aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                await asyncio.sleep(self.config.idle_check_seconds)
                if not self.leading():
                    continue
                try:
                    await self.check_once(session)
                except Exception:
                    log.exception("idle check failed; next in %ss", self.config.idle_check_seconds)

    async def check_once(self, session: aiohttp.ClientSession) -> None:
        """One look at every scale-to-zero component."""
        selector = f"{names.SCALE_TO_ZERO_LABEL}=true"
        services = []
        for scope in self.namespaces or (None,):
            services += await asyncio.to_thread(self.kube.list, "Service", scope, selector)
        targets = {t.key: t for t in map(target_of, services) if t is not None}
        for key in self.clock.tracked():
            if key not in targets:
                self.clock.forget(key)
        for target in targets.values():
            await self._check(session, target)

    async def _check(self, session: aiohttp.ClientSession, target: Target) -> None:
        """Idle for its seconds: hand the Service to the activator (parked), then, after
        handoverSeconds without a request, 0 replicas. A request in between unparks it."""
        namespace, name = target.key
        deployment = await asyncio.to_thread(self.kube.get, "Deployment", namespace, name)
        if deployment is None or not (deployment.get("spec") or {}).get("replicas"):
            self.clock.forget(target.key)  # at zero (or gone): nothing to idle
            self._parked.pop(target.key, None)
            return
        notes = (deployment.get("metadata") or {}).get("annotations") or {}
        sample = await self._sample(session, target, deployment)
        idle = self.clock.observe(target.key, sample, time.monotonic())
        if names.PARKED_ANNOTATION in notes:
            if sample is None:  # unknown reading: no evidence either way, stays parked
                return
            # first reading since parking (or since this replica started leading)
            reference, parked_at = self._parked.setdefault(target.key, (sample, time.monotonic()))
            if served_since(reference, sample):  # a request came while handing over: back
                log.info("unparking %s/%s: it served a request", namespace, name)
                await self._annotate(target, None)
                self._parked.pop(target.key, None)
            elif time.monotonic() - parked_at >= self.config.handover_seconds:
                log.info(
                    "scaling %s/%s to zero: no requests in its %.0f s handover",
                    namespace,
                    name,
                    time.monotonic() - parked_at,
                )
                body = {
                    "metadata": {"annotations": {names.PARKED_ANNOTATION: None}},
                    "spec": {"replicas": 0},
                }
                await asyncio.to_thread(self.kube.patch, "Deployment", namespace, name, body)
                self.clock.forget(target.key)
                self._parked.pop(target.key, None)
            return
        if idle < target.idle_seconds:
            return
        if not await asyncio.to_thread(activator_addresses, self.kube, self.config):
            log.warning("not scaling %s/%s to zero: the activator has no ready pod", *target.key)
            return
        log.info(
            "parking %s/%s: no requests for %.0f s; its Service goes to the activator",
            namespace,
            name,
            idle,
        )
        await self._annotate(target, "true")
        if sample is not None:
            self._parked[target.key] = (sample, time.monotonic())

    async def _annotate(self, target: Target, value: str | None) -> None:
        namespace, name = target.key
        body = {"metadata": {"annotations": {names.PARKED_ANNOTATION: value}}}
        await asyncio.to_thread(self.kube.patch, "Deployment", namespace, name, body)

    async def _sample(
        self, session: aiohttp.ClientSession, target: Target, deployment: dict[str, object]
    ) -> Sample | None:
        """The component's reading; None when any pod is not Ready or does not answer."""
        spec = deployment.get("spec")
        match = (spec.get("selector") or {}).get("matchLabels") if isinstance(spec, dict) else None
        selector = ",".join(f"{k}={v}" for k, v in sorted((match or {}).items()))
        pods = await asyncio.to_thread(self.kube.list, "Pod", target.namespace, selector)
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        if not live:
            return None
        requests = in_flight = 0.0
        for pod in live:
            ip = (pod.get("status") or {}).get("podIP")
            if not ip:
                return None
            try:
                async with session.get(f"http://{ip}:{target.port}/metrics") as answer:
                    if answer.status != 200:
                        return None
                    text = await answer.text()
            except (aiohttp.ClientError, TimeoutError):
                return None
            answered, busy = reading(text)
            requests += answered
            in_flight += busy
        names_ = tuple(sorted(p["metadata"]["name"] for p in live))
        return Sample(pods=names_, requests=requests, in_flight=in_flight)
