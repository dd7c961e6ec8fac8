"""The router's JSON: the NaN and infinity tokens V2 servers write survive a round trip."""

from __future__ import annotations

import math

import pytest

from modelplane.router import jsonio


def test_tokens_are_read_as_floats_and_written_back_as_the_same_tokens() -> None:
    text = b'{"data":[1.5,NaN,Infinity,-Infinity],"name":"y"}'
    value = jsonio.loads(text)
    data = value["data"]
    assert data[0] == 1.5 and math.isnan(data[1])
    assert data[2] == math.inf and data[3] == -math.inf
    assert jsonio.dumps(value) == text


def test_bodies_without_tokens_take_the_plain_path_unchanged() -> None:
    value = jsonio.loads(b'{"a":[1,2.5,"NaN"]}')
    assert value == {"a": [1, 2.5, "NaN"]}
    assert not any(isinstance(x, jsonio.NonFinite) for x in value["a"])
    assert jsonio.dumps(value) == b'{"a":[1,2.5,"NaN"]}'


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 0.5])
def test_non_finite_floats_from_tensors_are_written_as_tokens(value: float) -> None:
    written = jsonio.dumps([jsonio.non_finite(value)])
    assert written == {0.5: b"[0.5]"}.get(value, written)
    assert b"null" not in written
    back = jsonio.loads(written)[0]
    assert (math.isnan(back) and math.isnan(value)) or back == value


DEEP = b"[" * 5000 + b"1" + b"]" * 5000  # past orjson's depth: the standard library's stack


@pytest.mark.parametrize("text", [b"{bad", b'{"a": nan}', b"", b'{"a": NaNx}', DEEP])
def test_what_is_not_json_is_still_refused(text: bytes) -> None:
    with pytest.raises(jsonio.JSONDecodeError):
        jsonio.loads(text)


def test_other_unknown_types_are_still_refused() -> None:
    with pytest.raises(TypeError):
        jsonio.dumps({"a": object()})
