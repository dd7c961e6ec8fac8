"""Without binaries, k8s_cluster skips with a how-to; under MODELPLANE_REQUIRE_CLUSTER it fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.controlplane import REPO_ROOT

USES_CLUSTER = "def test_needs_cluster(k8s_cluster):\n    raise AssertionError('must not run')\n"


def run_inner_pytest(tmp_path: Path, require: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(USES_CLUSTER)
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "MODELPLANE_K8S_BIN_DIR": str(empty_bin),
        "MODELPLANE_REQUIRE_CLUSTER": require,
    }
    argv = [sys.executable, "-m", "pytest", "-p", "tests.support.cluster", "-rs", "-q"]
    argv += ["-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(tmp_path)]
    return subprocess.run(
        [*argv, "test_inner.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("require", [""])
def test_skips_with_make_hint_when_binaries_are_missing(tmp_path: Path, require: str) -> None:
    result = run_inner_pytest(tmp_path, require)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert "make k8s-bin" in result.stdout


def test_fails_when_the_cluster_is_required(tmp_path: Path) -> None:
    result = run_inner_pytest(tmp_path, "1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout
    assert "make k8s-bin" in result.stdout
