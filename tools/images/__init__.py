"""Container images without a Docker daemon, from docker/*.Dockerfile (see docs/images.md).

`archives(names)` builds what is missing or out of date and returns the docker archives;
`python -m tools.images build|path|ref` is the command line.
"""

from __future__ import annotations

from pathlib import Path


def archives(names: list[str] | tuple[str, ...]) -> dict[str, Path]:
    """Image short name -> its docker archive, built first when missing or out of date."""
    from tools.images.build import build

    return {name: result.archive for name, result in build(list(names)).items()}
