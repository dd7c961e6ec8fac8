"""pytest fixture `client_tools`: the real helm and kubectl binaries, without a control plane.

For offline work (`helm lint`, `helm template`, `kubectl kustomize`): the same binaries the
`k8s_cluster` fixture uses. Skips with a how-to when they are missing, and fails instead when
MODELPLANE_REQUIRE_CLUSTER=1 (CI builds them with `make k8s-bin`).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import controlplane


@dataclass(frozen=True)
class ClientTools:
    """Runs helm and kubectl from one bin dir, with private helm state dirs."""

    bin_dir: Path
    home: Path

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("KUBECONFIG", None)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        for name in ("CACHE", "CONFIG", "DATA"):
            env[f"HELM_{name}_HOME"] = str(self.home / name.lower())
        return env

    def run(
        self, tool: str, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run `tool args...` with captured text output; raise with stderr when it fails."""
        argv = [str(self.bin_dir / tool), *args]
        result = subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("helm", *args, check=check)

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("kubectl", *args, check=check)


@pytest.fixture(scope="session")
def client_tools(tmp_path_factory: pytest.TempPathFactory) -> ClientTools:
    """helm and kubectl from the control-plane binary cache (`make k8s-bin`)."""
    bin_dir = controlplane.default_bin_dir()
    missing = [name for name in ("helm", "kubectl") if not (bin_dir / name).is_file()]
    if missing:
        message = f"{', '.join(missing)} missing in {bin_dir}: run `make k8s-bin`"
        if os.environ.get("MODELPLANE_REQUIRE_CLUSTER", "") not in ("", "0", "false"):
            pytest.fail(message + " [MODELPLANE_REQUIRE_CLUSTER=1]", pytrace=False)
        pytest.skip(message)
    # pytest's own temporary tree: kept for the last three runs, not one more directory per run
    return ClientTools(bin_dir, tmp_path_factory.mktemp("helm-home"))
