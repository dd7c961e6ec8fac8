"""Whether the Ingress controller routes an owner's host yet: one GET through it, and the
memory of which owners it has routed.

A controller such as Traefik applies a Service's endpoints to its routes a moment after the
pods are Ready (its provider throttles updates; until then it answers 404 for the host), so
an InferenceService could be Ready while a curl to its URL still fails. With
``ingressProbeUrl`` set, the reconciler asks here before it calls an owner Ready: a GET of
``/v2/health/ready`` for the owner's host, sent to the controller's address, must be answered
200. Only the owner's own pods (the model server, the router) answer that; the controller's
own answers (404, 503, a redirect) do not.

- Only owners whose entry is modelplane's own server are probed (`answers_probe`): a
  custom container or a transformer may not serve that path.
- An owner at zero is never probed: the request would wake it.
- Once routed, an owner is not probed again until it stops being Ready or its host
  changes, so the periodic passes cost nothing.
- While it is not routed, the pass is retried every second for half a minute, then every
  ten seconds: a controller that never routes the host (a wrong class, a wrong address) is
  reported, not hammered.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from urllib.parse import urlsplit

from modelplane.api import InferenceGraph, InferenceService
from modelplane.operator.health import ready_of
from modelplane.operator.ingress_status import Route
from modelplane.operator.status_parts import SCALED_TO_ZERO, Obj

PATH = "/v2/health/ready"
TIMEOUT_SECONDS = 2.0
FAST_RETRY_SECONDS = 1.0  # while the route is expected any moment
SLOW_RETRY_SECONDS = 10.0  # once FAST_FOR_SECONDS have passed without it
FAST_FOR_SECONDS = 30.0
MAX_TEXT = 80  # characters of a refusal's body kept in the condition's message

Key = tuple[str, str, str]  # (kind, namespace, name)
Probe = Callable[[str, str], Route]
log = logging.getLogger(__name__)


def answers_probe(owner: InferenceService | InferenceGraph) -> bool:
    """Whether the owner's entry is a modelplane server (the model server or the router),
    which answers ``GET /v2/health/ready``."""
    if isinstance(owner, InferenceGraph):
        return True
    return owner.spec.transformer is None and owner.spec.predictor.model is not None


def probe(base: str, host: str, timeout: float = TIMEOUT_SECONDS) -> Route:
    """GET /v2/health/ready for `host`, sent to the controller at `base`: routed on a 200.

    Over https the controller's certificate is not checked: the probe sends nothing secret
    and only learns whether the host is routed.
    """
    parts = urlsplit(base)
    where = f"GET {PATH} for {host} through {base}"
    connection: HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=context
        )
    else:
        connection = HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        connection.request("GET", PATH, headers={"Host": host, "User-Agent": "modelplane-operator"})
        answer = connection.getresponse()
        text = answer.read(4096).decode("utf-8", "replace").strip()
    except (OSError, HTTPException) as error:
        return Route(False, f"{where}: {error or type(error).__name__}")
    finally:
        connection.close()
    if answer.status == 200:
        return Route(True, f"{where}: 200")
    return Route(
        False,
        f"{where} answered {answer.status} {text[:MAX_TEXT]!r}: "
        "the ingress does not route the host to its pods yet",
    )


class RouteProber:
    """Probes owners' hosts through the ingress until each is routed once (thread-safe: passes
    for different owners run at once)."""

    def __init__(
        self,
        base: str | None,
        probe: Probe = probe,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = base.rstrip("/") if base else None
        self._probe = probe
        self._clock = clock
        self._lock = threading.Lock()
        self._routed: dict[Key, str] = {}  # owner -> the host found routed
        self._failing_since: dict[Key, float] = {}

    def check(self, key: Key, status: Obj, eligible: bool) -> tuple[Route | None, float | None]:
        """For an owner's freshly computed status: (what a probe found when the host is not
        routed, else None; seconds until the pass should run again, else None)."""
        if self.base is None:
            return None, None
        ready = ready_of(status.get("conditions") or [])
        host = urlsplit(str(status.get("url") or "")).hostname
        if ready.get("status") != "True" or host is None:
            self.forget(key)
            return None, None
        if not eligible or ready.get("reason") == SCALED_TO_ZERO:
            return None, None
        with self._lock:
            if self._routed.get(key) == host:
                return None, None
        route = self._probe(self.base, host)
        now = self._clock()
        with self._lock:
            if route.routed:
                self._routed[key] = host
                self._failing_since.pop(key, None)
                log.info("%s %s/%s: the ingress routes %s", *key, host)
                return None, None
            since = self._failing_since.setdefault(key, now)
        fast = now - since < FAST_FOR_SECONDS
        return route, FAST_RETRY_SECONDS if fast else SLOW_RETRY_SECONDS

    def forget(self, key: Key) -> None:
        """Probe the owner again the next time it is Ready (it is not, or it is gone)."""
        with self._lock:
            self._routed.pop(key, None)
            self._failing_since.pop(key, None)
