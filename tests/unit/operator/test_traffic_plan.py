"""The traffic plan of a component's revisions, as a table: what serves, with what share."""

from __future__ import annotations

import pytest

from modelplane.operator.traffic import TrafficPlan, plan_traffic, revision_fields

OLD, NEW, OLDER = "m-predictor-0ld0ld00", "m-predictor-new00000", "m-predictor-01der000"


@pytest.mark.parametrize(
    ("case", "percent", "rolled_out", "ready", "targets", "rolled", "previous"),
    [
        ("a first revision serves alone", None, None, {NEW: False}, [(NEW, 100)], NEW, None),
        ("a canary on a first revision", 20, None, {NEW: True}, [(NEW, 100)], NEW, None),
        (
            "an unchanged spec keeps its one revision",
            20,
            NEW,
            {NEW: True},
            [(NEW, 100)],
            NEW,
            None,
        ),
        (
            "a new revision not ready yet: the old one keeps everything",
            None,
            OLD,
            {OLD: True, NEW: False},
            [(OLD, 100), (NEW, 0)],
            OLD,
            None,
        ),
        (
            "a failed canary gets nothing",
            20,
            OLD,
            {OLD: True, NEW: False},
            [(OLD, 100), (NEW, 0)],
            OLD,
            None,
        ),
        (
            "a ready canary gets its percent",
            20,
            OLD,
            {OLD: True, NEW: True},
            [(OLD, 80), (NEW, 20)],
            OLD,
            None,
        ),
        (
            "rollback: 0 sends everything back",
            0,
            OLD,
            {OLD: True, NEW: True},
            [(OLD, 100), (NEW, 0)],
            OLD,
            None,
        ),
        (
            "promotion: unset moves everything, the old revision kept for this pass",
            None,
            OLD,
            {OLD: True, NEW: True},
            [(OLD, 0), (NEW, 100)],
            NEW,
            OLD,
        ),
        (
            "promotion: 100 is the same",
            100,
            OLD,
            {OLD: True, NEW: True},
            [(OLD, 0), (NEW, 100)],
            NEW,
            OLD,
        ),
        (
            "the rolled-out revision deleted: the latest serves alone",
            20,
            OLD,
            {NEW: True},
            [(NEW, 100)],
            NEW,
            OLD,
        ),
        (
            "a third revision during a canary: the middle one is dropped",
            20,
            OLD,
            {OLD: True, NEW: True, OLDER: True},
            [(OLD, 80), (NEW, 20)],
            OLD,
            None,
        ),
    ],
)
def test_plan(
    case: str,
    percent: int | None,
    rolled_out: str | None,
    ready: dict[str, bool],
    targets: list[tuple[str, int]],
    rolled: str,
    previous: str | None,
) -> None:
    plan = plan_traffic(NEW, percent, rolled_out, None, ready)
    assert list(plan.targets) == targets, case
    assert (plan.rolled_out, plan.previous) == (rolled, previous), case
    assert sum(p for _, p in plan.targets) == 100
    assert len(plan.kept) <= 2


def test_the_pass_after_a_promotion_retires_the_old_revision() -> None:
    promoted = plan_traffic(NEW, None, OLD, None, {OLD: True, NEW: True})
    after = plan_traffic(NEW, None, promoted.rolled_out, promoted.previous, {OLD: True, NEW: True})
    assert after.kept == (NEW,)
    assert after.previous == OLD  # remembered for the status


def test_a_plan_is_the_same_however_often_it_is_made() -> None:
    args = (NEW, 20, OLD, None, {OLD: True, NEW: True})
    assert plan_traffic(*args) == plan_traffic(*args)


def test_status_fields_name_the_revisions_and_their_urls() -> None:
    plan = TrafficPlan(NEW, ((OLD, 80), (NEW, 20)), OLD)
    urls = {OLD: "http://old", NEW: "http://new"}
    assert revision_fields(plan, {OLD: True, NEW: True}, urls) == {
        "latestCreatedRevision": NEW,
        "latestReadyRevision": NEW,
        "latestRolledoutRevision": OLD,
        "traffic": [
            {"revisionName": OLD, "percent": 80, "latestRevision": False, "url": "http://old"},
            {"revisionName": NEW, "percent": 20, "latestRevision": True, "url": "http://new"},
        ],
    }


def test_a_failed_latest_revision_is_listed_at_zero_and_is_not_the_latest_ready() -> None:
    plan = TrafficPlan(NEW, ((OLD, 100), (NEW, 0)), OLD)
    fields = revision_fields(plan, {OLD: True, NEW: False}, {OLD: "u1", NEW: "u2"})
    assert fields["latestReadyRevision"] == OLD
    assert [(t["revisionName"], t["percent"]) for t in fields["traffic"]] == [(OLD, 100), (NEW, 0)]
