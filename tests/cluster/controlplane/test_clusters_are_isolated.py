"""Separate control planes run side by side, and a crashed launcher leaves no processes behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.support import controlplane, local_processes
from tests.support.cluster import Cluster
from tests.support.wait import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

LAUNCHER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from tests.support import controlplane
    cp = controlplane.start(Path(sys.argv[1]), Path(sys.argv[2]), tied=True)
    print(json.dumps({"kubeconfig": str(cp.kubeconfig), "server": cp.server, "pids": cp.pids}))
    sys.stdout.flush()
    time.sleep(600)
    """
)


def test_second_cluster_is_separate_and_dies_with_its_launcher(k8s_cluster: Cluster) -> None:
    state_dir = controlplane.temp_state_dir()
    env = {**os.environ, "PYTHONPATH": str(controlplane.REPO_ROOT)}
    argv = [sys.executable, "-c", LAUNCHER, str(state_dir), str(k8s_cluster.bin_dir)]
    launcher = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert launcher.stdout is not None
        line = launcher.stdout.readline()  # bounded by the launcher's own start timeout
        assert line, f"launcher exited with {launcher.wait(timeout=10)}"
        second = json.loads(line)
        assert second["server"] != k8s_cluster.server
        assert len(second["pids"]) == 5
        kubectl = [str(k8s_cluster.bin_dir / "kubectl"), "--kubeconfig", second["kubeconfig"]]
        subprocess.run([*kubectl, "create", "namespace", "only-in-second"], check=True, timeout=60)
        first = k8s_cluster.kubectl("get", "namespace", "only-in-second", check=False)
        assert first.returncode != 0
        assert "NotFound" in first.stderr

        launcher.send_signal(signal.SIGKILL)  # no teardown code runs: PDEATHSIG must do it
        launcher.wait(timeout=10)

        def all_exited() -> bool:
            return not any(
                local_processes.is_running(p, state_dir) for p in second["pids"].values()
            )

        wait_for(all_exited, timeout=30, message="components of the killed launcher to exit")
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait(timeout=10)
        shutil.rmtree(state_dir, ignore_errors=True)
