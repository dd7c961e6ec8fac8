"""A body carried as it came and looked into at most once, only when something needs to look.

Three forms: JSON bytes; a body in the V2 binary tensor extension
(``inference-header-content-length: N``: a JSON header of N bytes, then raw tensor data),
whose JSON view is its header (names, shapes, parameters); and a gRPC message
(``ModelInferRequest``/``ModelInferResponse``), whose JSON view decodes its tensors. Each
travels unchanged unless a step needs another form (`tensors` converts).
"""

from __future__ import annotations

from typing import Any

from modelplane.edge.v2 import HEADER_LENGTH, JSON, TIMEOUT_PARAMETER, timeout_seconds
from modelplane.router import jsonio, tensors
from modelplane.router.errors import MalformedV2, NotJSON
from modelplane.router.forms import ALL_BINARY, ALL_JSON, OutputForms
from modelplane.v2grpc.messages import NotAParameter, params_to_dict

_TIMEOUT_KEY = f'"{TIMEOUT_PARAMETER}"'.encode()
_PARAMETERS_KEY = b'"parameters"'
# Any backslash: a JSON escape (\u0074...) can spell a key without its letters. One byte is
# searched with memchr, about 80 times faster than the two bytes of "\u" on a large body.
_ESCAPE = b"\\"
# A JSON part this long is scanned once for every quoted word (`jsonio.quoted_runs`) rather
# than once per key looked for: on a 2.9 MB tensor, 40 us against 1 ms per key.
_SCAN_ONCE = 16 * 1024
_MOST_QUOTES = 64  # past this many quotes (strings), each key is searched for on its own
_ESCAPED: Any = object()  # a body with an escape: any key may be in it

_UNPARSED: Any = object()


class Payload:
    """Raw body bytes (or a gRPC message) with a lazily parsed JSON value."""

    __slots__ = ("_body", "_value", "_words", "content_type", "header_length", "message")

    def __init__(
        self,
        body: bytes,
        value: Any = _UNPARSED,
        content_type: bytes = JSON,
        header_length: int | None = None,
    ) -> None:
        self._body: bytes | None = body
        self._value = value
        self.content_type = content_type
        self.header_length = header_length
        self.message: Any = None
        self._words: frozenset[bytes] | None = _UNPARSED  # what `may_name` scanned once

    @classmethod
    def of_message(cls, message: Any) -> Payload:
        """A payload holding a gRPC ModelInferRequest or ModelInferResponse."""
        payload = cls(b"")
        payload._body = None
        payload.message = message
        return payload

    @classmethod
    def of(cls, value: Any) -> Payload:
        """A payload built from a JSON value, serialized when its body is first asked for
        (an Ensemble's map is renamed for the graph before it is ever written)."""
        payload = cls(b"", value)
        payload._body = None
        return payload

    @classmethod
    def of_v2(cls, v2: tensors.V2, binary: bool | OutputForms) -> Payload:
        """A REST payload of a V2 object: its raw tensors in the binary extension where asked
        (`binary`: all, none, or by output name), else JSON."""
        forms = binary if isinstance(binary, OutputForms) else ALL_BINARY if binary else ALL_JSON
        if forms.any_binary:
            body, length = tensors.to_binary(v2, forms)
            if length is not None:
                return cls(body, content_type=b"application/octet-stream", header_length=length)
            return cls(body)
        return cls.of(tensors.to_document(v2))

    @property
    def body(self) -> bytes:
        """The REST body (a gRPC message is given as JSON, tensors decoded)."""
        if self._body is None:
            self._body = jsonio.dumps(self.json())
        return self._body

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

    @property
    def parsed(self) -> bool:
        """Whether the value is already at hand (looking costs nothing)."""
        return self._value is not _UNPARSED

    def json(self) -> Any:
        """The parsed value; raises NotJSON when the body is not JSON."""
        if self._value is _UNPARSED:
            if self.message is not None:
                self._value = tensors.to_document(tensors.from_message(self.message))
                return self._value
            try:
                self._value = jsonio.loads(self.json_head())
            except jsonio.JSONDecodeError as exc:
                raise NotJSON(str(exc)) from exc
        return self._value

    def json_or_none(self) -> Any:
        """The parsed value, or None when the body is not JSON."""
        try:
            return self.json()
        except NotJSON:
            return None

    def asked_timeout(self) -> float | None:
        """The request's own `timeout` parameter in seconds, or None (ValueError when it is
        malformed); a body that does not name it is not parsed to look for it."""
        if self.message is not None:
            given = self.message.parameters
            return timeout_seconds(_message_params(given)) if TIMEOUT_PARAMETER in given else None
        if not self.may_name(_TIMEOUT_KEY):
            return None
        given = self._json_parameters()
        return timeout_seconds(given) if given is not None else None

    def request_parameters(self) -> dict[str, Any] | None:
        """The request's own `parameters` (not its tensors'), else None; a JSON body that
        does not hold the word is not parsed to look for them."""
        if self.message is not None:
            return _message_params(self.message.parameters) or None
        if not self.may_name(_PARAMETERS_KEY):
            return None
        given = self._json_parameters()
        return dict(given) if given else None

    def may_name(self, key: bytes) -> bool:
        """Whether the JSON part of a REST body may hold `key` (a quoted JSON string): it
        holds it as written, or holds an escape (a backslash), which could spell it otherwise. False
        lets a caller skip parsing a body that cannot name it (a scan, no parse). A long body
        is scanned once for every quoted word, which later keys are looked up in."""
        head = self.json_head()
        if len(head) < _SCAN_ONCE:
            return key in head or _ESCAPE in head
        words = self._words
        if words is _UNPARSED:
            words = self._words = (
                _ESCAPED if _ESCAPE in head else jsonio.quoted_runs(head, _MOST_QUOTES)
            )
        if words is _ESCAPED:
            return True
        if words is None or len(key) > jsonio.LONGEST_RUN:
            return key in head
        return key in words

    def json_head(self) -> bytes:
        """The JSON part of a REST body: all of it, or a binary body's header."""
        body = self.body
        return body if self.header_length is None else body[: self.header_length]

    def _json_parameters(self) -> dict[str, Any] | None:
        """The JSON body's request-level `parameters` object, else None (parsed once)."""
        document = self.json_or_none()
        given = document.get("parameters") if isinstance(document, dict) else None
        return given if isinstance(given, dict) else None

    def v2(self) -> tensors.V2 | None:
        """The V2 request or response this payload holds (raw tensors kept raw), else None."""
        if self.message is not None:
            return tensors.from_message(self.message)
        document = self.json_or_none()
        if not isinstance(document, dict):
            return None
        tail = None if self.header_length is None else self.body[self.header_length :]
        return tensors.from_document(document, tail)


def _message_params(given: Any) -> dict[str, Any] | None:
    """A client message's parameters as plain values (MalformedV2 for one with no value)."""
    try:
        return params_to_dict(given)
    except NotAParameter as exc:
        raise MalformedV2(str(exc)) from exc
