"""Build images without a Docker daemon: each image's layers come from its Dockerfile's
spec, each layer is cached under a hash of its inputs, and each image is packed as a
record in the cache (`<name>.json`: its config and layers), from which a docker archive is
streamed into an importer (`Result.write_archive_to`) or written on request (`save`): the
layers are never stored twice.

A Python image is three layers: the Debian base (mmdebstrap), /opt/venv with the
dependencies, and the repository's package. The pause image is one file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from tools.images.archive import write_archive, write_archive_to
from tools.images.cache import cache_root, hash_files, key, locked, read_json, write_atomic
from tools.images.config import canonical, image_config
from tools.images.dockerfile import IMAGES, ROOT, Copy, DockerfileError, ImageSpec, load
from tools.images.layer import changes, snapshot
from tools.images.pause import build_binary, compile_command, gcc_version
from tools.images.rootfs import DPKG_OPTIONS, STRIP, SUITE, apt_sources, make_base
from tools.images.store import Store, Stored
from tools.images.venv import (
    build_project_wheel,
    deps_steps,
    fetch_wheels,
    install_app,
    install_deps,
    load_pyproject,
)

Log = Callable[[str], None]
# What the package's wheel is built from (as the Dockerfiles' build context holds).
APP_SOURCES = ["pyproject.toml", "README.md", "modelplane"]
VENV_COPY = (Copy("build", ("/opt/venv",), "/opt/venv"),)


class BuildError(RuntimeError):
    """An image cannot be built here (not root, a tool missing, a step misbehaving)."""


@dataclass(frozen=True)
class Step:
    """One layer: `apply` changes the root filesystem; the layer is what it changed."""

    key: str
    created_by: str
    apply: Callable[[Path, Path], None]  # (root filesystem, scratch directory)
    whole: bool = False  # a base: the layer is the whole tree
    needs_root: bool = True


@dataclass(frozen=True)
class Result:
    name: str
    ref: str
    config: bytes  # the image config JSON; its sha256 is the image id
    size: int  # uncompressed: the sum of the layer tars
    layers: tuple[Stored, ...]
    rebuilt: tuple[str, ...]  # the steps that ran (the rest came from the cache)
    seconds: float

    @property
    def image_id(self) -> str:
        return f"sha256:{hashlib.sha256(self.config).hexdigest()}"

    def write_archive_to(self, out: BinaryIO) -> None:
        """Stream the image as a docker archive (e.g. into `ctr images import -`)."""
        write_archive_to(out, self.ref, self.config, self._layer_files())

    def save(self, dest: Path) -> Path:
        """Write the image as a docker archive file."""
        write_archive(dest, self.ref, self.config, self._layer_files())
        return dest

    def _layer_files(self) -> list[tuple[str, Path]]:
        return [(s.layer.diff_id, s.path) for s in self.layers]


def python_steps(spec: ImageSpec, cache: Path, repo: Path) -> list[Step]:
    """base (apt packages, user) -> deps (/opt/venv) -> app (the package, --no-deps)."""
    users = [list(user.argv) for user in spec.users]
    base_key = key(
        "base", SUITE, spec.apt_packages, users, DPKG_OPTIONS, STRIP, apt_sources().read_text()
    )
    steps = deps_steps(spec, load_pyproject(repo))
    deps_key = key("deps", base_key, [asdict(step) for step in steps])
    # The package's layer depends on the base's Python, not on the deps (installed --no-deps):
    # built once, in whichever image comes first, and the same bytes in every image.
    app_key = key("app", base_key, hash_files(repo, APP_SOURCES, skip=("__pycache__",)))
    wheels = cache / "wheels"

    def deps(root: Path, scratch: Path) -> None:
        fetch_wheels(steps, wheels)
        install_deps(root, steps, wheels)

    def app(root: Path, scratch: Path) -> None:
        install_app(root, build_project_wheel(repo, scratch / "wheel"))

    apt = " ".join(spec.apt_packages)
    pip = " && ".join(
        shlex.join(["pip", "install", *(["--no-deps"] if s.no_deps else []), *s.requirements])
        for s in steps
    )
    return [
        Step(
            base_key,
            f"mmdebstrap --variant=minbase {SUITE} +{apt}; "
            + "; ".join(shlex.join(u) for u in users),
            lambda root, _: make_base(root, spec.apt_packages, spec.users),
            whole=True,
        ),
        Step(deps_key, f"python3 -m venv /opt/venv && {pip}", deps),
        Step(app_key, "pip install --no-deps modelplane (this repository)", app),
    ]


def binary_steps(spec: ImageSpec) -> list[Step]:
    """One layer: the file the build stage compiles (the pause image)."""
    sources = hash_files(ROOT, [c.sources[0] for c in spec.build_copies])
    command = compile_command(spec)
    step_key = key("binary", command, sources, gcc_version(), [asdict(c) for c in spec.copies])
    return [
        Step(
            step_key,
            shlex.join(command),
            lambda root, _: build_binary(spec, root),
            whole=True,
            needs_root=False,
        )
    ]


def plan(spec: ImageSpec, cache: Path, repo: Path) -> list[Step]:
    """The steps that build what the Dockerfile describes, for the shapes ours have."""
    if spec.base == "debian:bookworm-slim" and spec.copies == VENV_COPY:
        return python_steps(spec, cache, repo)
    if spec.base == "scratch" and len(spec.copies) == 1 and spec.copies[0].source_stage:
        return binary_steps(spec)
    raise DockerfileError(f"{spec.path}: not an image shape the daemonless builder knows")


def mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point.startswith(prefix):
            points.append(point)
    return points


def remove_tree(path: Path) -> None:
    """Remove a work tree, refusing while anything is mounted inside it (host /dev, /proc)."""
    if not path.exists():
        return
    mounted = mounts_under(path)
    if mounted:
        raise BuildError(f"still mounted under {path}: {', '.join(mounted)}; unmount, then retry")
    shutil.rmtree(path)


def unpack(layers: list[Stored], root: Path) -> None:
    root.mkdir(parents=True)
    for stored in layers:
        subprocess.run(
            ["tar", "-x", "--numeric-owner", "-p", "-f", str(stored.path), "-C", str(root)],
            check=True,
        )


def run_steps(
    name: str, steps: list[Step], found: list[Stored | None], store: Store, work: Path, log: Log
) -> tuple[list[Stored], list[str]]:
    """The layers of the steps: those found in the store, and made by running the others."""
    done: list[Stored] = []
    rebuilt: list[str] = []
    root = work / "rootfs"
    for step, cached in zip(steps, found, strict=True):
        if cached:
            done.append(cached)
            continue
        if step.needs_root and os.geteuid() != 0:
            raise BuildError(f"{name}: building its layers needs root (mmdebstrap, chroot)")
        if step.whole and done:
            raise BuildError(f"{name}: a base step must come first")
        if not root.exists() and done:
            log(f"{name}: unpacking {len(done)} cached layer(s) to build on")
            unpack(done, root)
        started = time.monotonic()
        log(f"{name}: {step.created_by}")
        before = {} if step.whole else snapshot(root)
        step.apply(root, work)
        change = changes(before, snapshot(root))
        if change.deleted:
            raise BuildError(f"{name}: {step.created_by!r} deleted {', '.join(change.deleted[:5])}")
        stored = store.put(step.key, root, change, step.created_by)
        seconds = time.monotonic() - started
        log(f"{name}: layer {stored.layer.diff_id[:19]} {mb(stored.layer.size)} in {seconds:.0f} s")
        done.append(stored)
        rebuilt.append(step.created_by)
    return done, rebuilt


def mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def build_one(name: str, cache: Path, store: Store, repo: Path, log: Log) -> Result:
    started = time.monotonic()
    spec = load(name)
    ref = IMAGES[name]
    steps = plan(spec, cache, repo)
    found = [store.lookup(step.key) for step in steps]
    if None in found:  # the image changes: its old archive, and layers nothing else uses, go now
        forget(cache, name)
        freed = store.prune(keep=in_use(cache) | {s.layer.diff_id for s in found if s})
        if freed:
            log(f"{name}: removed {len(freed)} layer(s) no image uses ({mb(sum(freed))})")
    work = cache / "work" / f"{name}-{os.getpid()}"
    try:
        work.mkdir(parents=True)
        layers, rebuilt = run_steps(name, steps, found, store, work, log)
    finally:
        remove_tree(work)
    config = canonical(
        image_config(spec, [s.layer.diff_id for s in layers], [s.created_by for s in layers])
    )
    archive_key = key("image", ref, hashlib.sha256(config).hexdigest())
    record = read_json(cache / f"{name}.json")
    size = sum(s.layer.size for s in layers)
    if not (record and record.get("key") == archive_key):
        forget(cache, name)
        record = {
            "key": archive_key,
            "ref": ref,
            "size": size,
            "config": f"sha256:{hashlib.sha256(config).hexdigest()}",
            "image_config": json.loads(config),
            "layers": [{**asdict(s.layer), "created_by": s.created_by} for s in layers],
        }
        write_atomic(cache / f"{name}.json", canonical(record))
    return Result(
        name, ref, config, size, tuple(layers), tuple(rebuilt), time.monotonic() - started
    )


def build(names: list[str], log: Log | None = None, repo: Path = ROOT) -> dict[str, Result]:
    """Build (or find up to date in the cache) the named images, one build per cache at a time."""
    say = log or (lambda line: print(f"images: {line}", file=sys.stderr, flush=True))
    unknown = [n for n in names if n not in IMAGES]
    if unknown:
        raise BuildError(f"unknown image(s) {', '.join(unknown)}; known: {', '.join(IMAGES)}")
    cache = cache_root()
    store = Store(cache)
    results = {}
    with locked(cache):
        for stale in sorted((cache / "work").glob("*")):  # left by a build that was killed
            remove_tree(stale)
        # Smallest first: a changed package layer is built in the smallest image's venv.
        for name in sorted(names, key=lambda n: recorded_size(cache, n)):
            results[name] = build_one(name, cache, store, repo, say)
    return {name: results[name] for name in names}


def recorded_size(cache: Path, name: str) -> int:
    record = read_json(cache / f"{name}.json") or {}
    return int(str(record.get("size", 0)))


def forget(cache: Path, name: str) -> None:
    """Remove an image's record (and an archive file an older build wrote)."""
    (cache / f"{name}.json").unlink(missing_ok=True)
    (cache / f"{name}.tar").unlink(missing_ok=True)


def in_use(cache: Path) -> set[str]:
    """The layers of every image recorded in the cache (by diff id)."""
    used = set()
    for path in cache.glob("*.json"):
        record = read_json(path) or {}
        layers = record.get("layers")
        for layer in layers if isinstance(layers, list) else []:
            used.add(str(layer["diff_id"]))
    return used
