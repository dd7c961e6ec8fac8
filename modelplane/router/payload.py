"""A body carried as bytes and parsed at most once, only when something needs to look.

A body in the V2 binary tensor extension (``inference-header-content-length: N``) is a JSON
header of N bytes followed by raw tensor data: it travels unchanged, and looking at it parses
only the JSON header (names, shapes, parameters).
"""

from __future__ import annotations

from typing import Any

import orjson

from modelplane.edge.v2 import HEADER_LENGTH, JSON
from modelplane.router.errors import NotJSON

_UNPARSED: Any = object()


class Payload:
    """Raw body bytes with a lazily parsed JSON value; bytes pass through unchanged."""

    __slots__ = ("_value", "body", "content_type", "header_length")

    def __init__(
        self,
        body: bytes,
        value: Any = _UNPARSED,
        content_type: bytes = JSON,
        header_length: int | None = None,
    ) -> None:
        self.body = body
        self._value = value
        self.content_type = content_type
        self.header_length = header_length

    @property
    def plain(self) -> bool:
        """Plain JSON: no headers beyond the router's defaults are needed to send it."""
        return self.header_length is None and self.content_type == JSON

    def headers(self) -> dict[str, str]:
        """The headers that describe this body."""
        out = {"content-type": self.content_type.decode("latin-1")}
        if self.header_length is not None:
            out[HEADER_LENGTH] = str(self.header_length)
        return out

    @classmethod
    def of(cls, value: Any) -> Payload:
        """A payload built from a JSON value."""
        return cls(orjson.dumps(value), value)

    @property
    def parsed(self) -> bool:
        """Whether the value is already at hand (looking costs nothing)."""
        return self._value is not _UNPARSED

    def json(self) -> Any:
        """The parsed value; raises NotJSON when the body is not JSON."""
        if self._value is _UNPARSED:
            header = self.body if self.header_length is None else self.body[: self.header_length]
            try:
                self._value = orjson.loads(header)
            except orjson.JSONDecodeError as exc:
                raise NotJSON(str(exc)) from exc
        return self._value

    def json_or_none(self) -> Any:
        """The parsed value, or None when the body is not JSON."""
        try:
            return self.json()
        except NotJSON:
            return None
