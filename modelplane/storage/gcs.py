"""Pull every object under a `gs://bucket/prefix` through the GCS JSON API (httpx)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import httpx

from modelplane.storage.paths import relative_path
from modelplane.storage.settings import StorageSettings
from modelplane.storage.uri import StorageUri


def pull_gcs(uri: StorageUri, dest: Path, settings: StorageSettings) -> list[Path]:
    """List the prefix, then download each object; anonymous unless a token is set."""
    headers = {"Authorization": f"Bearer {settings.gcs_token}"} if settings.gcs_token else {}
    base = f"{settings.gcs_endpoint.rstrip('/')}/storage/v1/b/{quote(uri.bucket, safe='')}/o"
    written: list[Path] = []
    with httpx.Client(headers=headers, timeout=settings.http_timeout) as http:
        page_token: str | None = None
        while True:
            params = {"prefix": uri.key, "fields": "items(name),nextPageToken"}
            if page_token:
                params["pageToken"] = page_token
            listing = http.get(base, params=params)
            listing.raise_for_status()
            body = listing.json()
            for item in body.get("items", []):
                relative = relative_path(item["name"], uri.key)
                if relative is None:
                    continue
                target = dest / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                url = f"{base}/{quote(item['name'], safe='')}"
                with http.stream("GET", url, params={"alt": "media"}) as answer:
                    answer.raise_for_status()
                    with target.open("wb") as out:
                        for chunk in answer.iter_bytes():
                            out.write(chunk)
                written.append(target)
            page_token = body.get("nextPageToken")
            if not page_token:
                return written
