"""The hops `benchmarks.router_overhead` measures beside the router's, each a pass-through in
front of the model server that does no graph work, from most to least work per request:

- the Python floor: the router's own HTTP edge and upstream client, nothing else
  (`benchmarks.router_servers floor`);
- the same pass-through in Python on blocking sockets, a thread per client connection and no
  event loop (`benchmarks.router_servers blocking`): what the interpreter costs without
  asyncio's machinery;
- a Go pass-through on fasthttp, GOMAXPROCS=1 (`benchmarks/peers/lean-proxy`, built by
  `benchmarks/peers/lean_proxy.sh`): a lean compiled HTTP stack;
- a Rust pass-through on hyper with tokio's current-thread runtime
  (`benchmarks/peers/lean-proxy-rs`, built by `benchmarks/peers/lean_proxy_rs.sh`): a
  compiled HTTP stack on a single-threaded event loop;
- nginx, one worker process, keep-alive to the upstream: a C event loop that parses HTTP;
- socat: a C byte relay, one forked process per connection, no HTTP at all.

Each is left out, with a line saying so, where its program is not installed (`make
bench-router` installs nginx and socat from Debian when run as root, and builds the Go and
Rust ones).

The Ensemble's floors (`start_ensemble_floors`) send one request to several models at once
and merge their answers' outputs into one V2 response, with no graph either: in Python on
blocking sockets (`benchmarks.router_servers ensemble`) and in Rust on hyper (the same
`lean-proxy-rs` given several paths).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from benchmarks.servers import free_port

Process = Callable[[list[str], int, str], contextlib.AbstractContextManager[int]]

NGINX_CONF = """\
worker_processes 1;
master_process off;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  upstream model {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://model;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}
}}
"""


class Floor(NamedTuple):
    """A pass-through that is up: its label, its port, and the PID whose CPU is its own
    (None for socat, which forks a process per connection)."""

    label: str
    port: int
    pid: int | None


def start_floors(
    stack: contextlib.ExitStack,
    process: Process,
    tmp: Path,
    upstream_port: int,
    infer_path: str,
    lean_proxy: str | None,
    lean_proxy_rs: str | None = None,
) -> list[Floor]:
    """Start every pass-through that can run here in front of the model server on
    `upstream_port` (each ended with `stack`); a line says why any is left out."""
    target = f"http://127.0.0.1:{upstream_port}{infer_path}"
    floors = []
    floors.append(_python(stack, process, "bare pass-through (floor)", "floor", [target]))
    floors.append(
        _python(stack, process, "Python pass-through, blocking threads", "blocking", [target])
    )
    if lean_proxy:
        port = free_port()
        with_env = ["env", "GOMAXPROCS=1", lean_proxy, f"127.0.0.1:{port}", target]
        pid = stack.enter_context(process(with_env, port, "/x"))
        floors.append(Floor("Go pass-through (fasthttp)", port, pid))
    else:
        print("Go pass-through left out: no binary (make bench-router builds it)")
    if lean_proxy_rs:
        label = "Rust pass-through (hyper)"
        floors.append(_rust(stack, process, label, lean_proxy_rs, upstream_port, [infer_path]))
    else:
        print("Rust pass-through left out: no binary (make bench-router builds it)")
    nginx = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if nginx:
        port = free_port()
        conf = tmp / "nginx" / "nginx.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(NGINX_CONF.format(dir=conf.parent, upstream=upstream_port, port=port))
        pid = stack.enter_context(process([nginx, "-c", str(conf)], port, infer_path))
        floors.append(Floor("nginx pass-through (C)", port, pid))
    else:
        print("nginx left out: not installed here (make bench-router installs it as root)")
    socat = shutil.which("socat")
    if socat:
        port = free_port()
        cmd = [socat, f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork",
               f"TCP:127.0.0.1:{upstream_port}"]  # fmt: skip
        stack.enter_context(process(cmd, port, "/v2/health/ready"))
        floors.append(Floor("C byte relay (socat)", port, None))
    else:
        print("C byte relay left out: no socat here (make bench-router installs it)")
    return floors


def start_ensemble_floors(
    stack: contextlib.ExitStack,
    process: Process,
    upstream_port: int,
    paths: list[str],
    lean_proxy_rs: str | None = None,
) -> list[Floor]:
    """Start the Ensembles with no graph in front of the models at `paths` on
    `upstream_port` (the slowest first: its request is written first), each ended with
    `stack`; a line says why the Rust one is left out."""
    targets = [f"http://127.0.0.1:{upstream_port}{path}" for path in paths]
    floors = [_python(stack, process, "Ensemble floor, Python", "ensemble", targets)]
    if lean_proxy_rs:
        label = "Ensemble floor, Rust hyper"
        floors.append(_rust(stack, process, label, lean_proxy_rs, upstream_port, paths))
    else:
        print("Rust Ensemble floor left out: no binary (make bench-router builds it)")
    return floors


def _python(
    stack: contextlib.ExitStack, process: Process, label: str, kind: str, targets: list[str]
) -> Floor:
    """A floor of `benchmarks.router_servers` (`kind`: floor, blocking, ensemble) on a free port."""
    port = free_port()
    cmd = [sys.executable, "-m", "benchmarks.router_servers", kind, str(port), *targets]
    return Floor(label, port, stack.enter_context(process(cmd, port, "/x")))


def _rust(
    stack: contextlib.ExitStack,
    process: Process,
    label: str,
    binary: str,
    upstream_port: int,
    paths: list[str],
) -> Floor:
    """`lean-proxy-rs` on a free port: a pass-through with one path, an Ensemble with more."""
    port = free_port()
    cmd = [binary, f"127.0.0.1:{port}", f"127.0.0.1:{upstream_port}", *paths]
    return Floor(label, port, stack.enter_context(process(cmd, port, "/x")))
