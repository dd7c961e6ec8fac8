"""Header propagation, pure: which incoming headers every step receives."""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Iterable

REQUEST_ID = "x-request-id"
SOFT_FAILURES = "x-modelplane-soft-failures"  # the Soft steps that failed: a REST answer's
# header, a gRPC answer's trailing metadata
DEFAULT_PROPAGATE = (
    REQUEST_ID,
    "traceparent",
    "tracestate",
    "baggage",
    "b3",
    "x-b3-*",
    "x-ot-span-context",
    "x-cloud-trace-context",
    "x-amzn-trace-id",
)


class HeaderPolicy:
    """Case-insensitive name patterns (``fnmatch``, e.g. ``x-b3-*``) of headers to forward."""

    def __init__(self, patterns: Iterable[str] = DEFAULT_PROPAGATE) -> None:
        self.patterns = tuple(p.lower() for p in patterns)
        self._exact = frozenset(p for p in self.patterns if not any(c in p for c in "*?["))
        self._globs = tuple(p for p in self.patterns if p not in self._exact)
        self._cache: dict[bytes, str | None] = {}

    def _name(self, raw: bytes) -> str | None:
        """The lower-case name when it is forwarded, else None (memoised per raw name)."""
        if raw in self._cache:
            return self._cache[raw]
        name = raw.decode("latin-1").lower()
        keep = name in self._exact or any(fnmatch.fnmatchcase(name, g) for g in self._globs)
        result = name if keep else None
        if len(self._cache) < 1024:
            self._cache[raw] = result
        return result

    def forward(self, raw_headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
        """Headers for every upstream call: the forwarded ones, a request id, JSON, no gzip."""
        out: dict[str, str] = {}
        for raw_name, raw_value in raw_headers:
            name = self._name(raw_name)
            if name is not None:
                value = raw_value.decode("latin-1")
                out[name] = f"{out[name]}, {value}" if name in out else value
        if REQUEST_ID not in out:
            # 128 random bits, spelled as uuid4().hex spells them, at a tenth of its cost
            out[REQUEST_ID] = f"{random.getrandbits(128):032x}"
        out["content-type"] = "application/json"
        out["accept-encoding"] = "identity"  # compressing for the router is wasted work
        return out
