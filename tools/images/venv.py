"""The venv layers: /opt/venv with the dependencies (wheels the host fetched), then the
repository's package on its own, so that a change to modelplane/ rebuilds only that layer.

The build stage's pip installs are replayed as read from the Dockerfile: the host runs
`pip wheel` for each into a shared wheel directory, and pip inside the root filesystem
installs from there with --no-index. "." stands for the package's own requirements in the
deps layer; the package itself goes into the app layer with --no-deps.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import Version

from tools.images.dockerfile import DockerfileError, ImageSpec, PipStep, project_extras
from tools.images.rootfs import chroot, chroot_env, compile_python

VENV = "/opt/venv"


def load_pyproject(repo: Path) -> dict[str, Any]:
    with (repo / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def project_requirements(pyproject: dict[str, Any], extras: tuple[str, ...]) -> tuple[str, ...]:
    """The package's requirements with these extras, in order, each once."""
    project = pyproject["project"]
    optional = project.get("optional-dependencies", {})
    out = list(project.get("dependencies", []))
    for extra in extras:
        if extra not in optional:
            raise DockerfileError(f"extra {extra!r} is not in pyproject.toml")
        out.extend(optional[extra])
    return tuple(dict.fromkeys(out))


def deps_steps(spec: ImageSpec, pyproject: dict[str, Any]) -> tuple[PipStep, ...]:
    """The build stage's pip installs with "." replaced by the package's requirements."""
    steps = []
    for step in spec.pip_steps:
        requirements: list[str] = []
        for requirement in step.requirements:
            project, extras = project_extras(requirement)
            requirements.extend(
                project_requirements(pyproject, extras) if project else [requirement]
            )
        steps.append(PipStep(tuple(requirements), step.no_deps))
    return tuple(steps)


def pip_env() -> dict[str, str]:
    return {
        **chroot_env(),
        "PIP_NO_CACHE_DIR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_ROOT_USER_ACTION": "ignore",
        "PIP_NO_INPUT": "1",
    }


def fetch_wheels(steps: tuple[PipStep, ...], wheels: Path) -> None:
    """Wheels for every step (and pip itself) into `wheels`, built or downloaded by the host."""
    wheels.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(wheels)]
    base += ["--find-links", str(wheels)]
    subprocess.run([*base, "--no-deps", "pip"], check=True)
    for step in steps:
        subprocess.run(
            [*base, *(["--no-deps"] if step.no_deps else []), *step.requirements], check=True
        )


def newest(wheels: Path, name: str) -> Path:
    found = sorted(wheels.glob(f"{name}-*.whl"), key=lambda p: Version(p.name.split("-")[1]))
    if not found:
        raise FileNotFoundError(f"no {name} wheel in {wheels}")
    return found[-1]


def _link_tree(source: Path, dest: Path) -> None:
    """Hard links to source's files in dest (a copy when they are on different filesystems)."""
    dest.mkdir(parents=True)
    for path in source.iterdir():
        if path.is_file():
            try:
                os.link(path, dest / path.name)
            except OSError:
                shutil.copy2(path, dest / path.name)


def site_packages(root: Path) -> Path:
    found = sorted((root / VENV.lstrip("/")).glob("lib/python3*/site-packages"))
    if len(found) != 1:
        raise FileNotFoundError(f"no single site-packages under {root}{VENV}")
    return found[0]


def install_deps(root: Path, steps: tuple[PipStep, ...], wheels: Path) -> None:
    """Create /opt/venv in root and install the steps from the host's wheels."""
    if not (root / "usr/bin/python3").exists():
        raise DockerfileError("the final stage installs no python3: the venv cannot run")
    staged = root / "tmp/wheels"
    _link_tree(wheels, staged)
    try:
        # --without-pip: ensurepip is python3-venv, a build-stage package; pip comes from its wheel.
        chroot(root, "python3", "-m", "venv", "--without-pip", VENV)
        pip_whl = f"/tmp/wheels/{newest(wheels, 'pip').name}"
        install = ["install", "-q", "--no-index", "--find-links", "/tmp/wheels", "--no-compile"]
        chroot(root, f"{VENV}/bin/python", f"{pip_whl}/pip", *install, "pip", env=pip_env())
        for step in steps:
            extra = ["--no-deps"] if step.no_deps else []
            chroot(root, f"{VENV}/bin/pip", *install, *extra, *step.requirements, env=pip_env())
    finally:
        shutil.rmtree(staged)
    compile_python(root, f"/{site_packages(root).relative_to(root)}")


def build_project_wheel(repo: Path, out: Path) -> Path:
    """The repository's package as a wheel (what `pip install .` would build)."""
    out.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out)]
    subprocess.run([*argv, str(repo)], check=True)
    name = canonicalize_name(load_pyproject(repo)["project"]["name"]).replace("-", "_")
    return newest(out, name)


def install_app(root: Path, wheel: Path) -> None:
    """Install the package's wheel into root's venv, without its dependencies."""
    staged = root / "tmp/app"
    staged.mkdir()
    shutil.copy2(wheel, staged / wheel.name)
    name = wheel.name.split("-")[0]
    try:
        install = ["install", "-q", "--no-index", "--no-deps", "--find-links", "/tmp/app"]
        install.append("--no-compile")
        chroot(root, f"{VENV}/bin/pip", *install, name, env=pip_env())
    finally:
        shutil.rmtree(staged)
    compile_python(root, f"/{site_packages(root).relative_to(root)}/{name}")
