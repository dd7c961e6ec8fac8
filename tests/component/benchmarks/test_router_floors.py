"""`benchmarks.router_floors`: each pass-through `make bench-router` measures beside the router
relays a V2 request to its upstream and answers with the upstream's own answer, over real
sockets. The Go one is built from the Go module proxy where Go is installed, the Rust one from
crates.io where cargo is; nginx and socat are measured where Debian's packages are installed
(`make bench-router` installs them)."""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.router_floors import start_ensemble_floors, start_floors
from benchmarks.router_overhead import process, v2_body
from benchmarks.servers import free_port

ROOT = Path(__file__).resolve().parents[3]


def post(port: int, path: str, body: bytes) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body, {"content-type": "application/json"})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


def build(script: str) -> str:
    """The path a build script in benchmarks/peers prints (it builds once per cache)."""
    built = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "peers" / script)],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    return built.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def lean_proxy() -> str | None:
    return build("lean_proxy.sh") if shutil.which("go") else None


@pytest.fixture(scope="module")
def lean_proxy_rs() -> str | None:
    cargo = shutil.which("cargo") or str(Path.home() / ".cargo" / "bin" / "cargo")
    return build("lean_proxy_rs.sh") if Path(cargo).exists() else None


def _upstream(stack: contextlib.ExitStack) -> int:
    """The benchmark's sleeping V2 models (mN sleeps N ms), started on a free port."""
    up = free_port()
    upstream = [sys.executable, "-m", "benchmarks.router_servers", "upstream", str(up)]
    stack.enter_context(process(upstream, up, "/v2/models/m0/x"))
    return up


def test_every_floor_answers_as_its_upstream_does(
    tmp_path: Path, lean_proxy: str | None, lean_proxy_rs: str | None
) -> None:
    body = v2_body([1, 4])
    with contextlib.ExitStack() as stack:
        up = _upstream(stack)
        path = "/v2/models/m1/infer"  # the model sleeps 1 ms: an answer that is not instant
        floors = start_floors(stack, process, tmp_path, up, path, lean_proxy, lean_proxy_rs)
        expected = post(up, path, body)
        assert expected[0] == 200
        assert expected[1]["model_name"] == "m1"
        labels = [floor.label for floor in floors]
        assert labels[0] == "bare pass-through (floor)"
        if lean_proxy is not None:
            assert "Go pass-through (fasthttp)" in labels
        if lean_proxy_rs is not None:
            assert "Rust pass-through (hyper)" in labels
        for floor in floors:
            for _ in range(3):  # the same kept-alive upstream connection, reused
                assert post(floor.port, path, body) == expected, floor.label


def test_the_ensemble_floors_merge_every_members_outputs(
    tmp_path: Path, lean_proxy_rs: str | None
) -> None:
    body = v2_body([1, 4])
    with contextlib.ExitStack() as stack:
        up = _upstream(stack)
        paths = ["/v2/models/m3/infer", "/v2/models/m1/infer"]
        floors = start_ensemble_floors(stack, process, up, paths, lean_proxy_rs)
        outputs = []
        for path in paths:
            status, answer = post(up, path, body)
            assert status == 200
            outputs.extend(answer["outputs"])  # type: ignore[arg-type]
        assert len(outputs) == 2
        labels = [floor.label for floor in floors]
        assert labels[0] == "Ensemble floor, Python"
        if lean_proxy_rs is not None:
            assert labels[1] == "Ensemble floor, Rust hyper"
        for floor in floors:
            for _ in range(3):  # the same kept-alive member connections, reused
                status, answer = post(floor.port, "/x", body)
                assert status == 200, floor.label
                assert answer["outputs"] == outputs, floor.label
