"""Pull every object under an `s3://bucket/prefix` into a directory (boto3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelplane.storage.paths import relative_path
from modelplane.storage.settings import StorageSettings
from modelplane.storage.uri import StorageUri


def pull_s3(uri: StorageUri, dest: Path, settings: StorageSettings) -> list[Path]:
    """Download the prefix's objects; credentials come from the usual AWS_* variables."""
    import boto3  # the storage extra; imported here so the package imports without it

    s3: Any = boto3.client("s3", endpoint_url=settings.s3_endpoint, region_name=settings.s3_region)
    written: list[Path] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=uri.bucket, Prefix=uri.key):
        for item in page.get("Contents", []):
            relative = relative_path(item["Key"], uri.key)
            if relative is None:
                continue
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(uri.bucket, item["Key"], str(target))
            written.append(target)
    return written
