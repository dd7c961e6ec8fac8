"""Read the repository's Dockerfiles: stages, final user, entry command."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

DOCKER = Path(__file__).resolve().parents[3] / "docker"
IMAGES = {
    "model-server": "modelplane/model-server:0.1.0",
    "model-server-cuda": "modelplane/model-server-cuda:0.1.0",
    "operator": "modelplane/operator:0.1.0",
    "router": "modelplane/router:0.1.0",
}


@dataclass(frozen=True)
class Dockerfile:
    """What the tests need to know of one Dockerfile."""

    path: Path
    stages: int
    user: str
    entrypoint: list[str]
    cmd: list[str]

    @property
    def command(self) -> list[str]:
        """The command a container of the image runs with no arguments given."""
        return [*self.entrypoint, *self.cmd]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, rest) pairs with continuation lines joined and comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def parse(path: Path) -> Dockerfile:
    """The stages, final USER, ENTRYPOINT and CMD (exec form) of a Dockerfile."""
    items = instructions(path.read_text())
    final = max(i for i, (word, _) in enumerate(items) if word == "FROM")
    tail = items[final:]

    def last(word: str, default: str) -> str:
        found = [rest for w, rest in tail if w == word]
        return found[-1] if found else default

    return Dockerfile(
        path=path,
        stages=sum(1 for word, _ in items if word == "FROM"),
        user=last("USER", "root"),
        entrypoint=list(json.loads(last("ENTRYPOINT", "[]"))),
        cmd=list(json.loads(last("CMD", "[]"))),
    )


def load(name: str) -> Dockerfile:
    """The Dockerfile of one image by short name (docker/<name>.Dockerfile)."""
    return parse(DOCKER / f"{name}.Dockerfile")
