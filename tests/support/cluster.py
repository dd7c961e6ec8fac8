"""pytest fixtures for the real control plane: `k8s_cluster` (session) and `k8s_namespace`."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from typing import NoReturn

import pytest

from tests.support import controlplane
from tests.support.controlplane import ControlPlane
from tests.support.wait import wait_for

Cluster = ControlPlane  # the handle tests receive: .kubeconfig .env .server .kubectl .helm .bin_dir
START_SECONDS = pytest.StashKey[float]()


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false")


def _require_cluster() -> bool:
    return _flag("MODELPLANE_REQUIRE_CLUSTER")


def reuse_requested() -> bool:
    """MODELPLANE_REUSE_CLUSTER: use the `make cluster-up` cluster instead of a fresh one."""
    return _flag("MODELPLANE_REUSE_CLUSTER")


def unavailable(message: str) -> NoReturn:
    """A cluster tier cannot run here: skip, or fail under MODELPLANE_REQUIRE_CLUSTER (CI)."""
    if _require_cluster():
        pytest.fail(message + " [MODELPLANE_REQUIRE_CLUSTER=1]", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def k8s_cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A private control plane for this pytest session, torn down at its end.

    With MODELPLANE_REUSE_CLUSTER=1 the `make cluster-up` cluster is used instead (faster
    iteration; its state carries over between runs).
    """
    if reuse_requested():
        manual = controlplane.running_manual_cluster()
        if manual is None:
            pytest.fail("MODELPLANE_REUSE_CLUSTER is set but no cluster runs: make cluster-up")
        yield manual  # left running: it belongs to `make cluster-up`
        return
    bin_dir = controlplane.default_bin_dir()
    missing = controlplane.missing_binaries(bin_dir)
    if missing:
        unavailable(
            f"control plane binaries missing in {bin_dir} ({', '.join(missing)}): "
            "run `make k8s-bin` (needs Go and npm)"
        )
    state_dir = controlplane.temp_state_dir()
    try:
        started = time.monotonic()
        cluster = controlplane.start(state_dir, bin_dir, tied=True)
        request.config.stash[START_SECONDS] = time.monotonic() - started
        try:
            yield cluster
        finally:
            controlplane.stop(cluster)
    finally:
        if not os.environ.get("MODELPLANE_KEEP_CLUSTER_STATE"):
            shutil.rmtree(state_dir, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Report how long the session's control plane took to start (warm binaries)."""
    seconds = terminalreporter.config.stash.get(START_SECONDS, None)
    if seconds is not None:
        terminalreporter.write_line(f"k8s_cluster: control plane started in {seconds:.1f}s")


def namespace_name(hint: str) -> str:
    """A valid, unique namespace name derived from a test name."""
    base = re.sub(r"[^a-z0-9-]+", "-", hint.lower()).strip("-")[:40].strip("-") or "t"
    return f"{base}-{secrets.token_hex(3)}"


def create_namespace(cluster: Cluster, hint: str, timeout: float = 30.0) -> str:
    """Create a fresh namespace and wait until its default ServiceAccount exists."""
    name = namespace_name(hint)
    cluster.kubectl("create", "namespace", name)
    wait_for(
        lambda: cluster.kubectl("get", "sa", "default", "-n", name, check=False).returncode == 0,
        timeout=timeout,
        message=f"serviceaccount {name}/default",
    )
    return name


@pytest.fixture
def k8s_namespace(k8s_cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, deleted (without waiting) afterwards."""
    name = create_namespace(k8s_cluster, request.node.name)
    yield name
    k8s_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
