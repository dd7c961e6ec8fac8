"""pytest fixture for the real-pod tier: `real_cluster` (session), a one-node cluster with a
real kubelet, containerd, CoreDNS, Traefik, metrics-server, Prometheus and prometheus-adapter
(tests.support.realnode)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator

import pytest

from tests.support import controlplane, realnode
from tests.support.cluster import reuse_requested, unavailable
from tests.support.node_cluster import RealCluster, node_bin_dir

START_SECONDS = pytest.StashKey[float]()
TEARDOWN = pytest.StashKey[tuple[float, list[str]]]()


@pytest.fixture(scope="session")
def real_cluster(request: pytest.FixtureRequest) -> Iterator[RealCluster]:
    """The machine's one real cluster for this session, torn down (host undone) at its end.

    With MODELPLANE_REUSE_CLUSTER=1, the `make cluster-up REAL=1` cluster is used instead.
    Skips with what is missing on a machine that cannot run it (no root, no containerd, no
    binaries); under MODELPLANE_REQUIRE_CLUSTER=1 (CI) that is a failure.
    """
    if reuse_requested():
        manual = realnode.running_manual_cluster()
        if manual is None:
            pytest.fail(
                "MODELPLANE_REUSE_CLUSTER is set but no real cluster runs: make cluster-up REAL=1"
            )
        yield manual
        return
    missing = realnode.missing_prerequisites(controlplane.default_bin_dir(), node_bin_dir())
    if missing:
        unavailable("real-pod tier cannot run here: missing " + "; ".join(missing))
    from tools.images import built

    images = built(realnode.TIER_IMAGES)
    state_dir = controlplane.temp_state_dir()
    try:
        started = time.monotonic()
        cluster = realnode.start(state_dir, images, tied=True)
        request.config.stash[START_SECONDS] = time.monotonic() - started
        try:
            yield cluster
        finally:
            stopping = time.monotonic()
            problems = realnode.stop(cluster)
            request.config.stash[TEARDOWN] = (time.monotonic() - stopping, problems)
            if problems:
                pytest.fail("real cluster teardown left host changes: " + "; ".join(problems))
    finally:
        if not os.environ.get("MODELPLANE_KEEP_CLUSTER_STATE"):
            shutil.rmtree(state_dir, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Report the real cluster's start and teardown times, and anything not undone."""
    seconds = terminalreporter.config.stash.get(START_SECONDS, None)
    if seconds is not None:
        terminalreporter.write_line(
            f"real_cluster: node and control plane started in {seconds:.1f}s"
        )
    teardown = terminalreporter.config.stash.get(TEARDOWN, None)
    if teardown is not None:
        took, problems = teardown
        terminalreporter.write_line(f"real_cluster: torn down in {took:.1f}s")
        for problem in problems:
            terminalreporter.write_line(f"real_cluster: NOT UNDONE: {problem}", red=True)
