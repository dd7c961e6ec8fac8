"""Images into the node's containerd: streamed docker archives, imported once per image id."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO, Protocol

from tests.support.local_processes import log_tail
from tests.support.node_cluster import NodeError, RealCluster


def ctr(cluster: RealCluster, *args: str) -> subprocess.CompletedProcess[str]:
    argv = ["ctr", "--address", str(cluster.paths.containerd_socket), "-n", "k8s.io", *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0:
        raise NodeError(f"{' '.join(argv)}: {result.stderr.strip()}")
    return result


class ImageSource(Protocol):
    """An image to import: its name, its id, and a way to stream it as a docker archive
    (`tools.images.build.Result`, or a test's derived image)."""

    @property
    def ref(self) -> str: ...

    @property
    def image_id(self) -> str: ...

    def write_archive_to(self, out: BinaryIO) -> None: ...


def containerd_ref(ref: str) -> str:
    """An image name as containerd stores it (`docker.io/` before a Docker Hub style name)."""
    first = ref.split("/", 1)[0]
    if "/" not in ref:
        return f"docker.io/library/{ref}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{ref}"
    return ref


def import_images(cluster: RealCluster, images: Mapping[str, ImageSource]) -> dict[str, float]:
    """Stream images into containerd's k8s.io namespace (`ctr images import -`); skip those
    already there with the same image id. Returns seconds per imported image.

    Streaming means no archive file: the layers stay once in the image cache, once in
    containerd. containerd's root is kept in the cache, so a warm start imports only what
    changed; an image replaced under the same name frees its old layers to containerd's GC.
    """
    marker_dir = cluster.paths.containerd_root / "modelplane-imported"
    marker_dir.mkdir(parents=True, exist_ok=True)
    listed = set(ctr(cluster, "images", "ls", "-q").stdout.split())
    timings = {}
    for name, image in sorted(images.items()):
        ref = containerd_ref(image.ref)
        marker = marker_dir / ref.replace("/", "_").replace(":", "_")
        cluster.images[name] = ref
        if ref in listed and marker.exists() and marker.read_text() == image.image_id:
            continue
        started = time.monotonic()
        log = cluster.paths.state / "ctr-import.log"
        code = _import(cluster, image, log)
        if code != 0 and _SNAPSHOT_RACE in log_tail(log):
            code = _import(cluster, image, log)  # once more: it unpacks the collected layer
        if code != 0:
            raise NodeError(f"importing {ref} failed ({code}):\n{log_tail(log)}")
        timings[name] = time.monotonic() - started
        marker.write_text(image.image_id)
    cluster.save()
    return timings


# containerd's garbage collector can remove a layer's snapshot while an import that replaces
# an image of the same name is unpacking onto it (containerd issues #2382, #3787): the import
# fails with this, and the same import run again unpacks the layer afresh
_SNAPSHOT_RACE = "does not exist: not found"


def _import(cluster: RealCluster, image: ImageSource, log: Path) -> int:
    """Stream one image into containerd (`ctr images import -`), its output appended to
    `log`; the exit code."""
    argv = ["ctr", "--address", str(cluster.paths.containerd_socket), "-n", "k8s.io"]
    argv += ["images", "import", "-"]
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=out)
        assert proc.stdin is not None
        try:
            image.write_archive_to(proc.stdin)
        finally:
            proc.stdin.close()
        return proc.wait(timeout=900)
