"""The pause image's one file: the build stage's gcc command, run on the host."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tools.images.dockerfile import ROOT, DockerfileError, ImageSpec


def compile_command(spec: ImageSpec) -> tuple[str, ...]:
    found = [argv for argv in spec.build_commands if argv[:1] == ("gcc",)]
    if len(found) != 1:
        raise DockerfileError(f"{spec.path}: expected one gcc command in the build stage")
    return found[0]


def host_argv(spec: ImageSpec, output: Path) -> list[str]:
    """The gcc command with the build stage's paths moved to this machine: sources to where
    the build stage COPYs them from, -o to `output`."""
    sources = {c.dest: str(ROOT / c.sources[0]) for c in spec.build_copies if len(c.sources) == 1}
    argv = list(compile_command(spec))
    for index, word in enumerate(argv):
        if index and argv[index - 1] == "-o":
            argv[index] = str(output)
        else:
            argv[index] = sources.get(word, word)
    return argv


def build_binary(spec: ImageSpec, root: Path) -> None:
    """Compile into root the file the final stage copies from the build stage."""
    (copied,) = spec.copies
    target = root / copied.dest.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(host_argv(spec, target), check=True)
    target.chmod(0o755)


def gcc_version() -> str:
    return subprocess.run(
        ["gcc", "-dumpfullversion"], capture_output=True, text=True, check=True
    ).stdout.strip()
