"""Storage URI parsing and the key -> local path mapping."""

from __future__ import annotations

import pytest

from modelplane.storage.paths import relative_path
from modelplane.storage.uri import parse


@pytest.mark.parametrize(
    ("uri", "scheme", "bucket", "key", "remote"),
    [
        ("s3://bucket/a/b", "s3", "bucket", "a/b", True),
        ("gs://b/m.onnx", "gs", "b", "m.onnx", True),
        ("https://host:8443/x/model.tar.gz", "https", "host:8443", "x/model.tar.gz", True),
        ("pvc://claim/models/iris", "pvc", "claim", "models/iris", False),
        ("pvc://claim", "pvc", "claim", "", False),
        ("file:///opt/models/iris", "file", "", "/opt/models/iris", False),
        ("/opt/models", "file", "", "/opt/models", False),
    ],
)
def test_parse(uri: str, scheme: str, bucket: str, key: str, remote: bool) -> None:
    parsed = parse(uri)
    assert (parsed.scheme, parsed.bucket, parsed.key, parsed.remote) == (
        scheme,
        bucket,
        key,
        remote,
    )


@pytest.mark.parametrize("uri", ["ftp://x/y", "relative/path", "s3:///no-bucket", "pvc:///x"])
def test_parse_rejects(uri: str) -> None:
    with pytest.raises(ValueError, match="storageUri"):
        parse(uri)


@pytest.mark.parametrize(
    ("key", "prefix", "expected"),
    [
        ("m/1/model.onnx", "m", "1/model.onnx"),
        ("m/1/model.onnx", "m/", "1/model.onnx"),
        ("m2/model.onnx", "m", None),
        ("m/", "m", None),
        ("m/model.pt", "m/model.pt", "model.pt"),
        ("a/b", "", "a/b"),
    ],
)
def test_relative_path(key: str, prefix: str, expected: str | None) -> None:
    assert relative_path(key, prefix) == expected


def test_relative_path_refuses_traversal() -> None:
    with pytest.raises(ValueError, match="safe"):
        relative_path("m/../../etc/passwd", "m")
