"""Pull a model from a storage URI into a local directory, unpacking a lone archive."""

from __future__ import annotations

import logging
from pathlib import Path

from modelplane.storage.archive import is_archive, unpack
from modelplane.storage.gcs import pull_gcs
from modelplane.storage.s3 import pull_s3
from modelplane.storage.settings import StorageSettings
from modelplane.storage.uri import parse
from modelplane.storage.web import pull_http

log = logging.getLogger(__name__)

PULLERS = {"s3": pull_s3, "gs": pull_gcs, "http": pull_http, "https": pull_http}


class NothingToPull(Exception):
    """The URI named no object."""


def pull(uri: str, dest: Path, settings: StorageSettings | None = None) -> list[Path]:
    """Download what `uri` names into `dest`; return the files now there (after unpacking)."""
    parsed = parse(uri)
    puller = PULLERS.get(parsed.scheme)
    if puller is None:
        raise ValueError(f"{uri}: cannot pull scheme {parsed.scheme!r} (s3, gs, http, https)")
    dest.mkdir(parents=True, exist_ok=True)
    written = puller(parsed, dest, settings or StorageSettings())
    if not written:
        raise NothingToPull(f"{uri}: no objects found")
    if len(written) == 1 and is_archive(written[0].name):
        log.info("unpacking %s", written[0].name)
        unpack(written[0], dest)
        written[0].unlink()
    return sorted(p for p in dest.rglob("*") if p.is_file())
