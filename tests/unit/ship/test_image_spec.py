"""The daemonless builder builds what each Dockerfile says.

The Dockerfile text is read here a second, independent way (regular expressions over the
final stage, not tools.images.dockerfile) and compared with the image config the builder
writes (a pure function of its parsed spec), the Debian packages and user of its base
layer, and the pip extras of its deps layer. When an archive is in the cache, its config,
its base layer's dpkg database and passwd, and its venv are read back and compared too.
"""

from __future__ import annotations

import contextlib
import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tools.images.cache import cache_root
from tools.images.config import container_config
from tools.images.dockerfile import DOCKER, IMAGES, load
from tools.images.venv import deps_steps, load_pyproject, project_requirements

ROOT = Path(__file__).resolve().parents[3]
PYTHON_IMAGES = sorted(set(IMAGES) - {"pause"})
# debian:bookworm-slim's own Env (the base an ENV's $PATH expands against).
DEBIAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def independent(name: str) -> dict[str, Any]:
    """What the final stage of docker/<name>.Dockerfile says, read with regexes."""
    text = (DOCKER / f"{name}.Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [line for line in joined.splitlines() if line and not line.startswith("#")]
    froms = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    final = lines[froms[-1] :]

    def last(word: str) -> str | None:
        found = [line.split(" ", 1)[1] for line in final if line.startswith(word + " ")]
        return found[-1] if found else None

    env: dict[str, str] = {"PATH": DEBIAN_PATH} if "debian" in final[0] else {}
    for line in final:
        if line.startswith("ENV "):
            for key, value in re.findall(r"(\w+)=(\S+)", line):
                env[key] = value.replace("$PATH", env.get("PATH", ""))
    runs = " && ".join(line for line in final if line.startswith("RUN "))
    apt = re.search(r"apt-get install ([^&]*)", runs)
    useradd = re.search(r"useradd ([^&]*)", runs)
    extras = re.findall(r'pip install [^&]*"\.\[([^\]]*)\]"', joined)
    config: dict[str, Any] = {
        "Env": [f"{k}={v}" for k, v in env.items()],
        "Entrypoint": json.loads(last("ENTRYPOINT") or "[]"),
        "WorkingDir": last("WORKDIR") or "/",
        "User": last("USER") or "root",
    }
    if last("CMD"):
        config["Cmd"] = json.loads(last("CMD") or "[]")
    if last("EXPOSE"):
        config["ExposedPorts"] = {f"{p}/tcp": {} for p in (last("EXPOSE") or "").split()}
    return {
        "config": config,
        "packages": [w for w in (apt.group(1).split() if apt else []) if not w.startswith("-")],
        "uid": int(re.search(r"--uid (\d+)", useradd.group(1)).group(1)) if useradd else None,  # type: ignore[union-attr]
        "extras": [e.strip() for e in extras[0].split(",")] if extras else [],
    }


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_builder_config_is_what_the_dockerfile_says(name: str) -> None:
    assert container_config(load(name)) == independent(name)["config"]


@pytest.mark.parametrize("name", PYTHON_IMAGES)
def test_builder_installs_the_dockerfile_packages_user_and_extras(name: str) -> None:
    spec, expected = load(name), independent(name)
    assert list(spec.apt_packages) == expected["packages"]
    assert [user.uid for user in spec.users] == [expected["uid"]]
    assert list(spec.extras) == expected["extras"]
    pyproject = load_pyproject(ROOT)
    installed = {r for step in deps_steps(spec, pyproject) for r in step.requirements}
    assert set(project_requirements(pyproject, tuple(expected["extras"]))) <= installed


def test_independent_reader_sees_a_change() -> None:
    """The comparison can fail: a different ENTRYPOINT is a different config."""
    spec = load("router")
    changed = container_config(spec) | {"Entrypoint": ["modelplane", "serve"]}
    assert changed != independent("router")["config"]


def member(tar: tarfile.TarFile, name: str) -> bytes:
    data = tar.extractfile(name)
    assert data is not None, name
    return data.read()


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_built_image_is_what_the_dockerfile_says(name: str) -> None:
    record_path = cache_root() / f"{name}.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else None
    if not record or "image_config" not in record:
        pytest.skip(f"no {record_path}: `make images` builds it")
    expected = independent(name)
    config = record["image_config"]
    layer_files = [
        cache_root() / "layers" / f"{layer['diff_id'].removeprefix('sha256:')}.tar"
        for layer in record["layers"]
    ]
    if not all(path.is_file() for path in layer_files):
        pytest.skip(f"{name}: layers pruned from the cache since it was recorded")
    assert config["config"] == expected["config"]
    assert config["rootfs"]["diff_ids"] == [layer["diff_id"] for layer in record["layers"]]
    assert len(config["history"]) == len(layer_files)
    with contextlib.ExitStack() as stack:
        layers = [stack.enter_context(path.open("rb")) for path in layer_files]
        with tarfile.open(fileobj=layers[0]) as base:
            names = base.getnames()
            if name == "pause":
                assert names == ["pause"]
                return
            status = member(base, "var/lib/dpkg/status").decode()
            passwd = member(base, "etc/passwd").decode()
        installed = re.findall(r"^Package: (\S+)\nStatus: install ok installed", status, re.M)
        assert set(expected["packages"]) <= set(installed)
        assert f":x:{expected['uid']}:{expected['uid']}:" in passwd
        with tarfile.open(fileobj=layers[1]) as deps:
            dists = {
                canonicalize_name(path.split("/")[-1].split("-")[0])
                for path in deps.getnames()
                if path.endswith(".dist-info")
            }
    wanted = project_requirements(load_pyproject(ROOT), tuple(expected["extras"]))
    assert {canonicalize_name(Requirement(r).name) for r in wanted} <= dists
