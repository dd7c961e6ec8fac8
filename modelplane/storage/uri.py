"""Parse a model `storageUri` into what the pullers and the operator need (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

REMOTE_SCHEMES = frozenset({"s3", "gs", "http", "https"})


@dataclass(frozen=True)
class StorageUri:
    """A parsed storage URI: `scheme://bucket/key` (for pvc: `pvc://claim/path`)."""

    scheme: str
    bucket: str
    key: str
    raw: str

    @property
    def remote(self) -> bool:
        """Whether the model must be pulled (s3, gs, http, https)."""
        return self.scheme in REMOTE_SCHEMES


def parse(uri: str) -> StorageUri:
    """Split a storage URI; a bare path is `file`. Raises ValueError on an unusable URI."""
    if "://" not in uri:
        if not uri.startswith("/"):
            raise ValueError(f"storageUri {uri!r}: expected scheme://... or an absolute path")
        return StorageUri("file", "", uri, uri)
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return StorageUri("file", "", parts.path, uri)
    if scheme not in REMOTE_SCHEMES | {"pvc"}:
        raise ValueError(f"storageUri {uri!r}: unsupported scheme {scheme!r}")
    if not parts.netloc:
        raise ValueError(f"storageUri {uri!r}: missing {'claim' if scheme == 'pvc' else 'host'}")
    return StorageUri(scheme, parts.netloc, parts.path.lstrip("/"), uri)
