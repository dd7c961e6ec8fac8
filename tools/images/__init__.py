"""Container images without a Docker daemon, from docker/*.Dockerfile (see docs/images.md).

`built(names)` builds what is missing or out of date and returns the images, which stream
themselves as docker archives; `archives(names, directory)` writes archive files;
`python -m tools.images build|save|ref` is the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.images.build import Result


def built(names: list[str] | tuple[str, ...]) -> dict[str, Result]:
    """Image short name -> the built image (layers in the cache), built first when missing
    or out of date; `Result.write_archive_to` streams it as a docker archive."""
    from tools.images.build import build

    return build(list(names))


def archives(names: list[str] | tuple[str, ...], directory: Path) -> dict[str, Path]:
    """Image short name -> a docker archive file of it in `directory` (a full copy of its
    layers: for tools that read files, like skopeo)."""
    return {name: result.save(directory / f"{name}.tar") for name, result in built(names).items()}
