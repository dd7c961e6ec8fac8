"""`modelplane storage pull` against a real S3-compatible server (moto), a fake GCS and HTTP."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import boto3
import pytest

from modelplane.storage.pull import NothingToPull, pull
from modelplane.storage.settings import StorageSettings

pytestmark = pytest.mark.usefixtures("clean_storage_env")


def _bucket(endpoint: str, name: str, objects: dict[str, bytes]) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=name)
    for key, data in objects.items():
        s3.put_object(Bucket=name, Key=key, Body=data)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_s3_prefix_pulls_the_tree_and_nothing_beside_it(aws_env: str, tmp_path: Path) -> None:
    _bucket(
        aws_env,
        "models",
        {
            "iris/1/model.onnx": b"onnx-bytes",
            "iris/config.pbtxt": b"cfg",
            "iris/": b"",  # directory marker
            "iris-old/model.onnx": b"stale",
        },
    )
    pull("s3://models/iris", tmp_path / "out")
    assert _files(tmp_path / "out") == {"1/model.onnx": b"onnx-bytes", "config.pbtxt": b"cfg"}


def test_s3_single_object_keeps_its_name(aws_env: str, tmp_path: Path) -> None:
    _bucket(aws_env, "single", {"dir/model.pt": b"torch"})
    pull("s3://single/dir/model.pt", tmp_path / "out")
    assert _files(tmp_path / "out") == {"model.pt": b"torch"}


def test_s3_missing_prefix_fails_with_the_uri(aws_env: str, tmp_path: Path) -> None:
    _bucket(aws_env, "empty", {})
    with pytest.raises(NothingToPull, match="s3://empty/nothing"):
        pull("s3://empty/nothing", tmp_path / "out")


def test_cli_pulls_from_s3_in_a_subprocess(aws_env: str, tmp_path: Path) -> None:
    _bucket(aws_env, "cli", {"m/model.onnx": b"abc"})
    done = subprocess.run(
        [sys.executable, "-m", "modelplane", "storage", "pull", "s3://cli/m", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "o" / "model.onnx").read_bytes() == b"abc"


def test_cli_reports_failure_with_exit_code_one(aws_env: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelplane",
            "storage",
            "pull",
            "s3://no-such-bucket/x",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert done.returncode == 1
    assert "modelplane storage pull:" in done.stderr


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def test_http_plain_file(http_root: tuple[str, Path], tmp_path: Path) -> None:
    url, root = http_root
    (root / "model.onnx").write_bytes(b"plain")
    pull(f"{url}/model.onnx", tmp_path / "out")
    assert _files(tmp_path / "out") == {"model.onnx": b"plain"}


@pytest.mark.parametrize(
    ("name", "pack"), [("model.tar.gz", _tar_gz), ("bundle.tgz", _tar_gz), ("model.zip", _zip)]
)
def test_http_archive_is_unpacked(
    http_root: tuple[str, Path], tmp_path: Path, name: str, pack: object
) -> None:
    url, root = http_root
    (root / name).write_bytes(pack({"m/1/model.onnx": b"x", "m/config.pbtxt": b"y"}))  # type: ignore[operator]
    pull(f"{url}/{name}", tmp_path / "out")
    assert _files(tmp_path / "out") == {"m/1/model.onnx": b"x", "m/config.pbtxt": b"y"}


def test_http_archive_escaping_the_target_is_refused(
    http_root: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = http_root
    (root / "evil.zip").write_bytes(_zip({"../escape.txt": b"no"}))
    with pytest.raises(ValueError, match="escapes"):
        pull(f"{url}/evil.zip", tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_http_missing_file_is_an_error(http_root: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = http_root
    with pytest.raises(Exception, match="404"):
        pull(f"{url}/absent.onnx", tmp_path / "out")


def test_gcs_prefix_with_paging_and_token(
    fake_gcs: tuple[str, dict[str, bytes], list[str]], tmp_path: Path
) -> None:
    endpoint, objects, auth = fake_gcs
    objects.update(
        {
            "bkt/net/a.onnx": b"a",
            "bkt/net/sub/b.bin": b"b",
            "bkt/net/c.txt": b"c",
            "bkt/network/other": b"no",
            "other/net/x": b"no",
        }
    )
    settings = StorageSettings(gcs_endpoint=endpoint, gcs_token="tok")
    pull("gs://bkt/net", tmp_path / "out", settings)
    assert _files(tmp_path / "out") == {"a.onnx": b"a", "sub/b.bin": b"b", "c.txt": b"c"}
    assert set(auth) == {"Bearer tok"}


def test_gcs_anonymous_sends_no_authorization(
    fake_gcs: tuple[str, dict[str, bytes], list[str]], tmp_path: Path
) -> None:
    endpoint, objects, auth = fake_gcs
    objects["pub/model.onnx"] = b"m"
    pull("gs://pub/model.onnx", tmp_path / "out", StorageSettings(gcs_endpoint=endpoint))
    assert _files(tmp_path / "out") == {"model.onnx": b"m"}
    assert set(auth) == {""}
