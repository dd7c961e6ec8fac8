"""Where the puller's S3 endpoint comes from: a storage Secret's key over the operator's default."""

from __future__ import annotations

import pytest

from modelplane.storage.settings import StorageSettings


def test_the_operators_endpoint_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("S3_ENDPOINT", raising=False)
    monkeypatch.setenv("MODELPLANE_STORAGE_S3_ENDPOINT", "http://minio:9000")
    assert StorageSettings().s3_endpoint == "http://minio:9000"


def test_a_storage_secrets_endpoint_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPLANE_STORAGE_S3_ENDPOINT", "http://minio:9000")  # operator's env
    monkeypatch.setenv("S3_ENDPOINT", "http://team-minio:9000")  # the Secret's (envFrom)
    assert StorageSettings().s3_endpoint == "http://team-minio:9000"


def test_a_flag_wins_over_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPLANE_STORAGE_S3_ENDPOINT", "http://minio:9000")
    monkeypatch.setenv("S3_ENDPOINT", "http://team-minio:9000")
    assert StorageSettings(s3_endpoint="http://flag:1").s3_endpoint == "http://flag:1"
