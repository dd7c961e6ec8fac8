"""Local servers the storage puller is tested against: moto (S3), a fake GCS, plain HTTP."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tests.support.file_server import serve_files, serve_handler
from tests.support.ports import free_port


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    """Block until something accepts on 127.0.0.1:port, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto S3 server on a random local port."""
    binary = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which(
        "moto_server"
    )
    if binary is None:
        pytest.fail("moto_server not installed (dev extra: moto[server])")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str) -> str:
    """Fake AWS credentials in the environment, endpoint pointing at moto."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MODELPLANE_STORAGE_S3_ENDPOINT": moto_endpoint,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_endpoint


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on a random port serving a fresh directory."""
    root = tmp_path / "www"
    root.mkdir()

    with serve_files(root) as url:
        yield url, root


@pytest.fixture
def fake_gcs(tmp_path: Path) -> Iterator[tuple[str, dict[str, bytes], list[str]]]:
    """A minimal GCS JSON API (list with paging, alt=media download) over a dict of objects.

    Yields (endpoint, objects "bucket/name" -> bytes, Authorization headers seen).
    """
    objects: dict[str, bytes] = {}
    auth_seen: list[str] = []

    class Handler(_Quiet):
        def do_GET(self) -> None:
            auth_seen.append(self.headers.get("Authorization", ""))
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            segments = parts.path.split("/")
            # /storage/v1/b/{bucket}/o[/{object}]
            if segments[1:4] != ["storage", "v1", "b"] or len(segments) < 6:
                self.send_error(404)
                return
            bucket = unquote(segments[4])
            if len(segments) == 6:
                prefix = query.get("prefix", [""])[0]
                names = sorted(
                    key.split("/", 1)[1]
                    for key in objects
                    if key.startswith(f"{bucket}/") and key.split("/", 1)[1].startswith(prefix)
                )
                start = int(query.get("pageToken", ["0"])[0])
                page = names[start : start + 2]  # tiny pages so paging is exercised
                body: dict[str, object] = {"items": [{"name": n} for n in page]}
                if start + 2 < len(names):
                    body["nextPageToken"] = str(start + 2)
                data = json.dumps(body).encode()
            else:
                key = f"{bucket}/{unquote('/'.join(segments[6:]))}"
                if key not in objects or query.get("alt") != ["media"]:
                    self.send_error(404)
                    return
                data = objects[key]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with serve_handler(Handler) as url:
        yield url, objects, auth_seen


@pytest.fixture
def clean_storage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No storage settings leak in from the developer's environment."""
    for key in list(os.environ):
        if key.startswith("MODELPLANE_STORAGE_") or key == "GOOGLE_OAUTH_ACCESS_TOKEN":
            monkeypatch.delenv(key)
