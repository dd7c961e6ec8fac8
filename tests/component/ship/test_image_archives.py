"""The daemonless images, read and run by independent tools: skopeo reads each docker
archive, umoci unpacks it, and the image's own command runs in that root filesystem as
the image's user (chroot), serving real models on 127.0.0.1.

Needs root, mmdebstrap (tools/node/build.sh --packages), skopeo and umoci; builds what is
missing or out of date with tools.images (minutes when the cache is cold).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tools.images.dockerfile import IMAGES, load

pytestmark = pytest.mark.slow
# The model-server images (6 GB each: PyPI's torch brings its CUDA wheels) are not copied
# into archive files here: the real-pod tier runs the CPU one in pods (e2e/test_samples_real).
NAMES = ["pause", "operator", "router"]
PYTHON_IMAGES = ["operator", "router"]


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    missing = [tool for tool in ("mmdebstrap", "skopeo", "umoci") if not shutil.which(tool)]
    missing += ["root"] if os.geteuid() != 0 else []
    if missing:
        pytest.skip(f"daemonless images need {', '.join(missing)} (apt-get install skopeo umoci)")
    from tools.images import archives as build

    return build(NAMES, tmp_path_factory.mktemp("archives"))


@pytest.fixture(scope="module")
def configs(archives: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Each archive's image config as skopeo reads it."""
    out = {}
    for name, archive in archives.items():
        inspected = subprocess.run(
            ["skopeo", "inspect", "--config", f"docker-archive:{archive}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        out[name] = json.loads(inspected.stdout)
    return out


def umoci_unpack(archive: Path, bundle: Path) -> Path:
    """skopeo copies the archive to an OCI layout, umoci unpacks that into a bundle."""
    layout = f"{bundle}-oci:image"
    subprocess.run(
        ["skopeo", "copy", "-q", f"docker-archive:{archive}", f"oci:{layout}"],
        check=True,
        timeout=600,
    )
    unpack = ["umoci", "unpack", "--image", layout, str(bundle)]
    subprocess.run(unpack, check=True, capture_output=True, timeout=600)
    shutil.rmtree(f"{bundle}-oci")
    return bundle / "rootfs"


@pytest.fixture(scope="module")
def unpacked(
    archives: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path]]:
    """Each image's root filesystem, with the devices a runtime would add."""
    base = tmp_path_factory.mktemp("unpacked")
    roots = {}
    for name, archive in archives.items():
        roots[name] = umoci_unpack(archive, base / name)
        devices(roots[name])
    yield roots
    shutil.rmtree(base)


def devices(root: Path) -> None:
    """The character devices a container runtime gives every container (no mounts here)."""
    (root / "dev").mkdir(exist_ok=True)
    for name, minor in (("null", 3), ("zero", 5), ("random", 8), ("urandom", 9)):
        path = root / "dev" / name
        if not path.exists():
            os.mknod(path, 0o20666, os.makedev(1, minor))
            path.chmod(0o666)


def in_image(root: Path, config: dict[str, Any], command: list[str]) -> list[str]:
    """argv that runs `command` in root as the image's user, with its env and working dir."""
    inner = config["config"]
    return [
        "chroot", f"--userspec={inner['User']}", str(root),
        "/usr/bin/env", "-i", "-C", inner["WorkingDir"], *inner["Env"], *command,
    ]  # fmt: skip


def manifest(archive: Path) -> dict[str, Any]:
    out = subprocess.run(["tar", "-xOf", str(archive), "manifest.json"], capture_output=True)
    entries: list[dict[str, Any]] = json.loads(out.stdout)
    assert len(entries) == 1
    return entries[0]


@pytest.mark.parametrize("name", NAMES)
def test_skopeo_reads_what_the_dockerfile_says(
    name: str, archives: dict[str, Path], configs: dict[str, dict[str, Any]]
) -> None:
    spec, config = load(name), configs[name]
    assert (config["architecture"], config["os"]) == ("amd64", "linux")
    inner = config["config"]
    assert inner["Entrypoint"] == spec.entrypoint
    assert inner.get("Cmd", []) == spec.cmd
    assert (inner["User"], inner["WorkingDir"]) == (spec.user, spec.workdir)
    assert sorted(inner.get("ExposedPorts", {})) == sorted(spec.expose)
    assert inner.get("Env", []) == [f"{key}={value}" for key, value in spec.env]
    assert manifest(archives[name])["RepoTags"] == [IMAGES[name]]


@pytest.mark.parametrize("name", PYTHON_IMAGES)
def test_entry_command_runs_as_the_image_user(
    name: str, unpacked: dict[str, Path], configs: dict[str, dict[str, Any]]
) -> None:
    command = [*load(name).entrypoint, "--help"]
    out = subprocess.run(
        in_image(unpacked[name], configs[name], command),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "usage" in out.stdout.lower()


def test_app_layer_is_the_same_bytes_in_every_image(archives: dict[str, Path]) -> None:
    """The package's layer is deterministic: installed into three venvs, one digest."""
    tops = {manifest(archives[name])["Layers"][-1] for name in PYTHON_IMAGES}
    assert len(tops) == 1, tops


def test_pause_runs_until_sigterm(unpacked: dict[str, Path]) -> None:
    pause = subprocess.Popen(["chroot", "--userspec=65535:65535", str(unpacked["pause"]), "/pause"])
    try:
        time.sleep(0.5)
        assert pause.poll() is None, "pause exited on its own"
        pause.send_signal(signal.SIGTERM)
        assert pause.wait(timeout=5) == 0
    finally:
        if pause.poll() is None:
            pause.kill()
