"""Separate control planes run side by side and leave nothing behind when stopped."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request

import pytest

from tests.support import controlplane
from tests.support.cluster import Cluster

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def test_a_second_cluster_runs_beside_the_first_and_stops_cleanly(k8s_cluster: Cluster) -> None:
    state_dir = controlplane.temp_state_dir()
    second = controlplane.start(state_dir, k8s_cluster.bin_dir)
    try:
        assert second.server != k8s_cluster.server
        second.kubectl("create", "namespace", "only-in-second")
        first = k8s_cluster.kubectl("get", "namespace", "only-in-second", check=False)
        assert first.returncode != 0
        assert "NotFound" in first.stderr
    finally:
        controlplane.stop(second)
        shutil.rmtree(state_dir, ignore_errors=True)
    assert len(second.pids) == 5
    assert not [p for p in second.pids.values() if controlplane.is_running(p, state_dir)]
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"{second.server}/readyz", timeout=2)
