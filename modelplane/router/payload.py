"""A JSON body carried as bytes and parsed at most once, only when something needs to look."""

from __future__ import annotations

from typing import Any

import orjson

_UNPARSED: Any = object()


class NotJSON(ValueError):
    """The body is not valid JSON."""


class Payload:
    """Raw body bytes with a lazily parsed JSON value; bytes pass through unchanged."""

    __slots__ = ("_value", "body")

    def __init__(self, body: bytes, value: Any = _UNPARSED) -> None:
        self.body = body
        self._value = value

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
            try:
                self._value = orjson.loads(self.body)
            except orjson.JSONDecodeError as exc:
                raise NotJSON(str(exc)) from exc
        return self._value

    def json_or_none(self) -> Any:
        """The parsed value, or None when the body is not JSON."""
        try:
            return self.json()
        except NotJSON:
            return None
