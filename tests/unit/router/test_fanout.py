"""The order an Ensemble sends its members in: unmeasured first, then the slowest expected."""

from __future__ import annotations

import pytest

from modelplane.router.fanout import WEIGHT, Expected, launch_order, updated


@pytest.mark.parametrize(
    ("expected", "order"),
    [
        ([], []),
        ([0.002, 0.005, 0.010], [2, 1, 0]),
        ([0.010, 0.005, 0.002], [0, 1, 2]),
        ([None, 0.010, None], [0, 2, 1]),  # not measured yet: first, in step order
        ([0.005, 0.005, 0.010], [2, 0, 1]),  # ties keep step order
        ([0.0, None], [1, 0]),
    ],
)
def test_launch_order(expected: list[float | None], order: list[int]) -> None:
    assert launch_order(expected) == order


def test_running_mean_starts_at_the_first_call_and_follows_later_ones() -> None:
    assert updated(None, 0.010) == 0.010
    assert updated(0.010, 0.020) == pytest.approx(0.010 + WEIGHT * 0.010)
    mean: float | None = None
    for _ in range(50):  # a member that got slower is soon expected to be slow
        mean = updated(mean if mean is not None else 0.001, 0.030)
    assert mean == pytest.approx(0.030, rel=1e-3)


def test_expected_orders_steps_by_their_labels() -> None:
    expected = Expected()
    expected.observe("root/a", 0.002)
    expected.observe("root/b", 0.009)
    assert expected.order(["root/a", "root/b", "root/c"]) == [2, 1, 0]
    for _ in range(30):  # a became the slow one
        expected.observe("root/a", 0.020)
    assert expected.order(["root/a", "root/b"]) == [0, 1]
