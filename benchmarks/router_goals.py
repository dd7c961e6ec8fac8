"""The router's goals (issue 18) judged on one pass of `benchmarks.router_overhead`, pure:
a hop of at most 0.25 ms p50 at 1 client, router CPU per request at or under the model
server's own, and an Ensemble that costs its slowest member plus at most one hop's goal.
Each line says MET or NOT MET, and which of the other hops measured in the same pass (the
pass-throughs, KServe's router) stay within the hop goal, so a reader sees what the machine
allows beside what we do."""

from __future__ import annotations

from collections.abc import Mapping

HOP_GOAL_MS = 0.25
ROUTER = "router REST in / REST out"
DIRECT = "direct REST"


def _met(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def verdicts(
    hops: Mapping[str, float],
    cpu: Mapping[str, float],
    ensemble: float,
    slowest_hop: float | None = None,
    other_ensembles: Mapping[str, float] | None = None,
) -> list[str]:
    """Lines judging the goals. `hops`: each REST case's hop p50 at 1 client (ms) by label;
    `cpu`: CPU per request (ms) by label, the model server's under `DIRECT`; `ensemble`:
    the Ensemble's p50 minus its slowest member's (ms); `slowest_hop`: a 1-step Sequence to
    that member alone through the router, minus the member's (ms): the hop at its service
    time, which the Ensemble cannot beat; `other_ensembles`: other routers' Ensembles of the
    same members, over the slowest member (ms), by label."""
    hop = hops[ROUTER]
    others = [(label, value) for label, value in hops.items() if label != ROUTER]
    within = [f"{label} {value:+.3f}" for label, value in others if value <= HOP_GOAL_MS]
    beyond = [f"{label} {value:+.3f}" for label, value in others if value > HOP_GOAL_MS]
    lines = [
        f"hop p50 <= {HOP_GOAL_MS} ms at 1 client: {ROUTER} {hop:+.3f} ms {_met(hop <= HOP_GOAL_MS)}"
    ]
    if within:
        lines.append(f"  within it here: {'; '.join(within)}")
    if beyond:
        lines.append(f"  beyond it here: {'; '.join(beyond)}")
    if ROUTER in cpu and DIRECT in cpu:
        ours, server = cpu[ROUTER], cpu[DIRECT]
        lines.append(
            f"router CPU per request <= the model server's: {ours:.3f} vs {server:.3f} ms "
            f"{_met(ours <= server)}"
        )
    lines.append(
        f"Ensemble <= slowest member + {HOP_GOAL_MS} ms: +{ensemble:.3f} ms "
        f"{_met(ensemble <= HOP_GOAL_MS)}"
    )
    if slowest_hop is not None:
        lines.append(
            f"  one hop to the slowest member alone here: {slowest_hop:+.3f} ms; the Ensemble "
            f"adds {ensemble - slowest_hop:+.3f} ms to it"
        )
    for label, value in (other_ensembles or {}).items():
        lines.append(f"  {label}: +{value:.3f} ms {_met(value <= HOP_GOAL_MS)}")
    return lines
