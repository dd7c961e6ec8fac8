"""`benchmarks.router_goals`: the router's goals judged on one pass's figures."""

from __future__ import annotations

from benchmarks.router_goals import verdicts

HOPS = {
    "router REST in / REST out": 0.341,
    "bare pass-through (floor)": 0.271,
    "nginx pass-through (C)": 0.134,
}


def test_a_hop_over_the_goal_is_not_met_and_the_hops_within_it_are_named() -> None:
    lines = verdicts(HOPS, {"router REST in / REST out": 0.209, "direct REST": 0.304}, 0.48)
    assert lines[0] == (
        "hop p50 <= 0.25 ms at 1 client: router REST in / REST out +0.341 ms NOT MET"
    )
    assert lines[1] == "  within it here: nginx pass-through (C) +0.134"
    assert lines[2] == "  beyond it here: bare pass-through (floor) +0.271"
    assert lines[3] == ("router CPU per request <= the model server's: 0.209 vs 0.304 ms MET")
    assert lines[4] == "Ensemble <= slowest member + 0.25 ms: +0.480 ms NOT MET"


def test_goals_within_bounds_are_met_and_the_bound_itself_counts() -> None:
    hops = {"router REST in / REST out": 0.25}
    lines = verdicts(hops, {"router REST in / REST out": 0.4, "direct REST": 0.3}, 0.1)
    assert lines == [
        "hop p50 <= 0.25 ms at 1 client: router REST in / REST out +0.250 ms MET",
        "router CPU per request <= the model server's: 0.400 vs 0.300 ms NOT MET",
        "Ensemble <= slowest member + 0.25 ms: +0.100 ms MET",
    ]


def test_the_ensemble_is_set_against_one_hop_to_its_slowest_member() -> None:
    hops = {"router REST in / REST out": 0.2}
    lines = verdicts(hops, {}, 0.46, slowest_hop=0.31)
    assert lines[-2:] == [
        "Ensemble <= slowest member + 0.25 ms: +0.460 ms NOT MET",
        "  one hop to the slowest member alone here: +0.310 ms; the Ensemble adds +0.150 ms to it",
    ]


def test_other_routers_ensembles_of_the_same_members_are_judged_beside_it() -> None:
    hops = {"router REST in / REST out": 0.2}
    others = {"router Ensemble, threads edge": 0.24, "KServe Ensemble": 0.6}
    lines = verdicts(hops, {}, 0.46, other_ensembles=others)
    assert lines[-2:] == [
        "  router Ensemble, threads edge: +0.240 ms MET",
        "  KServe Ensemble: +0.600 ms NOT MET",
    ]
