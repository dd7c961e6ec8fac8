"""Pull one `http(s)://` file (httpx); archives are unpacked by the caller."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import httpx

from modelplane.storage.settings import StorageSettings
from modelplane.storage.uri import StorageUri


def pull_http(uri: StorageUri, dest: Path, settings: StorageSettings) -> list[Path]:
    """Stream the URL into dest under its base name (`model` when the path has none)."""
    name = PurePosixPath(urlsplit(uri.raw).path).name or "model"
    target = dest / name
    with (
        httpx.Client(timeout=settings.http_timeout, follow_redirects=True) as http,
        http.stream("GET", uri.raw) as answer,
    ):
        answer.raise_for_status()
        with target.open("wb") as out:
            for chunk in answer.iter_bytes():
                out.write(chunk)
    return [target]
