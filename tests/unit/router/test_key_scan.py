"""Looking for a request's keys without parsing it: a long body is scanned once for every
quoted word, and says what a search of the whole body for each key would say."""

from __future__ import annotations

import random

import orjson
import pytest

from modelplane.router.jsonio import quoted_runs
from modelplane.router.payload import Payload

KEYS = (b'"timeout"', b'"parameters"', b'"outputs"', b'"inputs"', b'"data"', b'"absent"')


def _searched(body: bytes, key: bytes) -> bool:
    """What a search of the whole body says (the definition the scan must keep)."""
    return key in body or b"\\" in body


def _tensor(count: int, strings: bool = False) -> dict[str, object]:
    rng = random.Random(count)
    if strings:
        return {"name": "t", "shape": [count], "datatype": "BYTES", "data": [f"w{i}" for i in range(count)]}  # fmt: skip
    return {"name": "x", "shape": [count], "datatype": "FP32", "data": [rng.random() for _ in range(count)]}  # fmt: skip


BODIES = [
    # keys before and after the data, in the order clients write them
    orjson.dumps({"inputs": [_tensor(5000)], "outputs": [{"name": "y"}]}),
    orjson.dumps({"parameters": {"timeout": 5}, "inputs": [_tensor(5000)]}),
    orjson.dumps({"inputs": [_tensor(3000), _tensor(3000)], "parameters": {"timeout": 1}}),
    # many strings: past the most quotes scanned, each key is searched on its own
    orjson.dumps({"inputs": [_tensor(5000, strings=True)], "outputs": [{"name": "y"}]}),
    # a key's word inside a string value counts, as a search finds it
    orjson.dumps({"inputs": [_tensor(5000), {"name": "outputs", "data": ["timeout"]}]}),
    # an escape: any key may be spelled with it
    orjson.dumps({"inputs": [_tensor(5000)], "note": 'a "quoted" word'}),
    # not JSON at all, quotes unpaired
    b'"' + b"1," * 20000 + b'"outputs" "',
    # short bodies keep the plain search
    b'{"inputs": [], "parameters": {"timeout": 5}}',
]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_the_scan_says_what_a_search_of_the_whole_body_says(body: bytes) -> None:
    payload = Payload(body)
    for key in KEYS:
        assert payload.may_name(key) == _searched(body, key), key
    assert not payload.parsed  # looking is no parse


def test_a_binary_body_is_scanned_in_its_json_header_only() -> None:
    header = orjson.dumps({"inputs": [_tensor(5000)], "parameters": {"x": 1}})
    payload = Payload(header + b'"outputs"' * 10, header_length=len(header))
    assert payload.may_name(b'"parameters"')
    assert not payload.may_name(b'"outputs"')


def test_a_long_body_gives_its_timeout_and_parameters_wherever_they_stand() -> None:
    body = orjson.dumps({"inputs": [_tensor(20000)], "parameters": {"timeout": 250_000}})
    assert len(body) > 100_000
    assert Payload(body).asked_timeout() == 0.25
    assert Payload(body).request_parameters() == {"timeout": 250_000}
    unnamed = Payload(orjson.dumps({"inputs": [_tensor(20000)]}))
    assert unnamed.asked_timeout() is None
    assert unnamed.request_parameters() is None
    assert not unnamed.parsed


def test_quoted_runs_are_the_runs_between_consecutive_quotes() -> None:
    text = b'{"a": "bc", "d": [1, 2]}'
    assert quoted_runs(text, 10) == {b'"a"', b'": "', b'"bc"', b'", "', b'"d"'}
    assert quoted_runs(b"no quotes", 10) == frozenset()
    assert quoted_runs(b'"one', 10) == frozenset()
    assert quoted_runs(text, 3) is None  # more quotes than asked to visit
    long_word = b'"' + b"w" * 100 + b'"'
    assert quoted_runs(long_word, 10) == frozenset()  # too long to be a key
