"""wait_for returns the first truthy value and gives up after its timeout."""

from __future__ import annotations

import time

import pytest

from tests.support.wait import WaitTimeout, wait_for


def test_returns_the_first_truthy_value() -> None:
    calls = iter([None, 0, "", "done", "later"])
    assert wait_for(lambda: next(calls), timeout=5, interval=0.001) == "done"


def test_times_out_with_a_message_naming_the_condition() -> None:
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match="the moon"):
        wait_for(lambda: False, timeout=0.2, interval=0.02, message=lambda: "the moon")
    assert 0.2 <= time.monotonic() - started < 2


def test_predicate_errors_propagate() -> None:
    def boom() -> bool:
        raise KeyError("x")

    with pytest.raises(KeyError):
        wait_for(boom, timeout=1)
