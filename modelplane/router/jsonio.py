"""JSON in and out of the router, with the non-finite floats V2 servers write.

Triton and the model server write NaN and the infinities as the bare tokens `NaN`,
`Infinity` and `-Infinity` (JSON has no spelling for them). orjson, the router's fast
parser, refuses those tokens, and writes a non-finite float as `null`. So a body orjson
refuses is read again by the standard library, which takes the tokens, each becoming a
`NonFinite` float that remembers its token; on the way out orjson hands such a float to
`_default`, which writes the token back unchanged. Bodies without the tokens never leave
orjson's path.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError
LONGEST_RUN = 64  # the longest quoted word `quoted_runs` keeps, its quotes included


class NonFinite(float):
    """A NaN or an infinity read from a JSON token; written back as the same token."""

    __slots__ = ("token",)

    def __new__(cls, token: str) -> NonFinite:
        value = super().__new__(cls, token)
        value.token = orjson.Fragment(token.encode())
        return value

    token: orjson.Fragment


def non_finite(value: float) -> float:
    """`value`, as a NonFinite when it is NaN or an infinity (so it is written as a token)."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return NonFinite("NaN")
    return NonFinite("Infinity" if value > 0 else "-Infinity")


def loads(data: bytes | str) -> Any:
    """Parse JSON, taking NaN, Infinity and -Infinity; raises JSONDecodeError otherwise
    (orjson's, which names why: past its depth of 1024, the standard library would exhaust
    Python's stack instead)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as first:
        try:
            return json.loads(data, parse_constant=NonFinite)
        except (ValueError, RecursionError):
            raise first from None


def dumps(value: Any) -> bytes:
    """Serialize with orjson; a NonFinite float is written as its token."""
    return orjson.dumps(value, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, NonFinite):
        return value.token
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def quoted_runs(text: bytes, limit: int) -> frozenset[bytes] | None:
    """Every run of `text` from one double quote to the next, both included, of up to
    `LONGEST_RUN` bytes: where any quoted word (a JSON key, or a string) the text holds as written can be,
    so ``word in quoted_runs(text)`` answers ``word in text`` for a word with no quote
    inside, found with one memchr per quote instead of one search of the whole text per
    word. None when the text has more than `limit` quotes (many strings: a search per word
    is then as quick)."""
    runs: set[bytes] = set()
    find = text.find
    start = find(b'"')
    for _ in range(limit):
        if start < 0:
            return frozenset(runs)
        end = find(b'"', start + 1)
        if end < 0:
            return frozenset(runs)
        if end - start < LONGEST_RUN:
            runs.add(text[start : end + 1])
        start = end
    return None


def narrow_floats(array: Any) -> list[float]:
    """A float32 or float16 numpy array as Python floats printed with the array's own
    shortest digits (0.078075096, not the double 0.0780750960111618), as orjson writes such
    an array and so as the model server writes it in JSON."""
    values: list[float] = orjson.loads(orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY))
    return values
