"""Launch and stop a local Kubernetes control plane (etcd, apiserver, KCM, scheduler, kwok).

Used by the `k8s_cluster` pytest fixture and by hand:
`python -m tests.support.controlplane up|down|status` (`make cluster-up` / `make cluster-down`).
Everything binds 127.0.0.1 on random free ports and lives in one state directory, so separate
sessions can run clusters side by side; only the binary cache is shared (read-only).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support import fake_nodes, k8s_components
from tests.support.k8s_pki import PkiFiles, write_pki
from tests.support.local_processes import (
    http_json,
    http_ok,
    is_running,
    listens_on,
    log_tail,
    spawn,
    stop_recorded,
)
from tests.support.ports import free_port
from tests.support.wait import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBE_GO_MOD = REPO_ROOT / "tools" / "k8s" / "kube" / "go.mod"
BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "kubectl",
    "helm",
)
STATE_FILE = "cluster.json"
START_TIMEOUT = float(os.environ.get("MODELPLANE_CLUSTER_START_TIMEOUT", "180"))


class ControlPlaneError(RuntimeError):
    """A component failed to start; the message carries the tail of its log."""


def k8s_version() -> str:
    """The Kubernetes version pinned in tools/k8s/kube/go.mod (e.g. v1.34.4)."""
    match = re.search(
        r"^\s*(?:require\s+)?k8s\.io/kubernetes\s+(v\S+)", KUBE_GO_MOD.read_text(), re.M
    )
    if match is None:
        raise ControlPlaneError(f"no k8s.io/kubernetes requirement in {KUBE_GO_MOD}")
    return match.group(1)


def cache_dir() -> Path:
    """The modelplane cache root (MODELPLANE_CACHE or ~/.cache/modelplane)."""
    return Path(os.environ.get("MODELPLANE_CACHE") or Path.home() / ".cache" / "modelplane")


def default_bin_dir() -> Path:
    """Where `make k8s-bin` puts the binaries for the pinned version."""
    override = os.environ.get("MODELPLANE_K8S_BIN_DIR")
    if override:
        return Path(override)
    return cache_dir() / "k8s" / k8s_version() / "bin"


def missing_binaries(bin_dir: Path) -> list[str]:
    """Names of required binaries absent from `bin_dir`."""
    return [name for name in BINARIES if not os.access(bin_dir / name, os.X_OK)]


def kubeconfig_doc(server: str, ca_pem: bytes, user: str, token: str) -> dict[str, Any]:
    """A kubeconfig with one cluster, one token user and one current context."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "modelplane-test",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": "modelplane-test", "context": {"cluster": "modelplane-test", "user": user}}
        ],
        "current-context": "modelplane-test",
    }


@dataclass
class ControlPlane:
    """A running control plane: where it lives, how to reach it, and its processes."""

    state_dir: Path
    bin_dir: Path
    address: str = "127.0.0.1"  # where the API server binds (a node address for real pods)
    cgroup: Path | None = None  # cgroup2 directory every component runs in (egress rules)
    fake_nodes: bool = True  # kwok and its two fake nodes
    server: str = ""
    kubeconfig: Path = Path()
    admin_token: str = ""
    pids: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """Environment for clients: KUBECONFIG, PATH with the binaries, private helm dirs."""
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        helm_home = self.state_dir / "helm"
        env["HELM_CACHE_HOME"] = str(helm_home / "cache")
        env["HELM_CONFIG_HOME"] = str(helm_home / "config")
        env["HELM_DATA_HOME"] = str(helm_home / "data")
        env["KUBECACHEDIR"] = str(self.state_dir / "kube-cache")
        return env

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against this cluster."""
        return run_tool(self.bin_dir / "kubectl", args, self.env, input, check, timeout)

    def helm(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run the real helm against this cluster."""
        return run_tool(self.bin_dir / "helm", args, self.env, input, check, timeout)

    def save(self) -> None:
        """Record server, kubeconfig and pids so `down` can find them from another process."""
        state = {
            "server": self.server,
            "kubeconfig": str(self.kubeconfig),
            "bin_dir": str(self.bin_dir),
            "address": self.address,
            "fake_nodes": self.fake_nodes,
            "pids": self.pids,
        }
        (self.state_dir / STATE_FILE).write_text(json.dumps(state, indent=2))


class CommandFailed(subprocess.CalledProcessError):
    """A kubectl/helm call failed; str() includes its stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstdout: {self.stdout}\nstderr: {self.stderr}"


def run_tool(
    binary: Path,
    args: tuple[str, ...],
    env: dict[str, str],
    input: str | None,
    check: bool,
    timeout: float,
) -> subprocess.CompletedProcess[str]:
    """Run a client binary with captured text output, raising CommandFailed on failure."""
    argv = [str(binary), *args]
    result = subprocess.run(
        argv, input=input, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise CommandFailed(result.returncode, argv, result.stdout, result.stderr)
    return result


def _spawn(
    cp: ControlPlane, name: str, argv: list[str], tied: bool, env: dict[str, str] | None = None
) -> None:
    proc = spawn(argv, cp.state_dir / f"{name}.log", cp.state_dir, tied, env, cp.cgroup)
    cp.procs[name] = proc
    cp.pids[name] = proc.pid


def _check_alive(cp: ControlPlane) -> None:
    for name, proc in cp.procs.items():
        code = proc.poll()
        if code is not None:
            tail = log_tail(cp.state_dir / f"{name}.log")
            raise ControlPlaneError(f"{name} exited with {code} during start; log tail:\n{tail}")


def _api(cp: ControlPlane, path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    """Call the API server as the admin (no kubectl start-up cost during bring-up)."""
    context = ssl.create_default_context(cafile=str(cp.state_dir / "pki" / "ca.crt"))
    return http_json(f"{cp.server}{path}", context, cp.admin_token, method, body)


def _await(
    cp: ControlPlane, check: Callable[[], bool], what: str, timeout: float = START_TIMEOUT
) -> None:
    """Poll `check` until true, failing fast (with its log) when a component exits."""

    def probe() -> bool:
        _check_alive(cp)
        return check()

    wait_for(probe, timeout=timeout, interval=0.1, message=what)


def _write_token_file(path: Path, tokens: dict[str, tuple[str, str, str]]) -> None:
    lines = [
        f'{tok},{user},{user},"{groups}"' if groups else f"{tok},{user},{user}"
        for tok, (user, groups, _) in tokens.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def _write_kubeconfigs(
    cp: ControlPlane, pki: PkiFiles, users: dict[str, tuple[str, str, str]]
) -> dict[str, Path]:
    ca_pem = pki.ca_cert.read_bytes()
    configs: dict[str, Path] = {}
    for token, (user, _, component) in users.items():
        path = cp.state_dir / f"{component}.kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig_doc(cp.server, ca_pem, user, token)))
        path.chmod(0o600)
        configs[component] = path
    return configs


def _start_processes(cp: ControlPlane, pki: PkiFiles, tied: bool) -> None:
    """Start etcd, the API server (and create the nodes), then the controllers and kwok."""
    d, b = cp.state_dir, cp.bin_dir
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    _spawn(cp, "etcd", k8s_components.etcd_argv(b, d / "etcd", etcd_port, peer_port), tied)
    etcd_pid = cp.pids["etcd"]
    _await(
        cp,
        lambda: listens_on(etcd_pid, etcd_port) and http_ok(f"http://127.0.0.1:{etcd_port}/health"),
        "etcd /health",
        timeout=60,
    )

    cp.admin_token = secrets.token_hex(16)
    users = {
        cp.admin_token: ("modelplane-admin", "system:masters", "admin"),
        secrets.token_hex(16): ("system:kube-controller-manager", "", "controller-manager"),
        secrets.token_hex(16): ("system:kube-scheduler", "", "scheduler"),
    }
    # (user, groups) of the other components, each given a token and a kubeconfig
    component_users = (
        {"kwok": ("kwok", "system:masters")} if cp.fake_nodes else k8s_components.NODE_USERS
    )
    for component, (user, groups) in component_users.items():
        users[secrets.token_hex(16)] = (user, groups, component)
    _write_token_file(d / "tokens.csv", users)
    cp.server = f"https://{cp.address}:{api_port}"
    configs = _write_kubeconfigs(cp, pki, users)
    cp.kubeconfig = configs["admin"]

    argv = k8s_components.apiserver_argv(
        b, d, pki, etcd_port, api_port, d / "tokens.csv", cp.address
    )
    _spawn(cp, "kube-apiserver", argv, tied)
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    api_pid = cp.pids["kube-apiserver"]
    _await(
        cp,
        lambda: (
            listens_on(api_pid, api_port, cp.address)
            and http_ok(f"{cp.server}/readyz", context, cp.admin_token)
        ),
        "kube-apiserver /readyz",
    )
    if cp.fake_nodes:
        _create_nodes(cp)  # before kwok starts, so it adopts them on its first list

    argv = k8s_components.controller_manager_argv(b, configs["controller-manager"], pki)
    if not cp.fake_nodes:
        argv += k8s_components.REAL_NODE_CONTROLLER_FLAGS
    _spawn(cp, "kube-controller-manager", argv, tied)
    _spawn(cp, "kube-scheduler", k8s_components.scheduler_argv(b, configs["scheduler"]), tied)
    if not cp.fake_nodes:
        return
    kwok_home = d / "kwok-home"  # keeps kwok from reading a user's ~/.kwok/kwok.yaml
    kwok_home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(kwok_home)}
    _spawn(cp, "kwok", k8s_components.kwok_argv(b, configs["kwok"]), tied, env)


def _ready_nodes(cp: ControlPlane) -> set[str]:
    status, nodes = _api(cp, "/api/v1/nodes")
    ready = set()
    for node in nodes["items"] if status == 200 else []:
        conditions = node.get("status", {}).get("conditions", [])
        if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
            ready.add(node["metadata"]["name"])
    return ready


def _has_default_sa(cp: ControlPlane) -> bool:
    return _api(cp, "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200


def _create_nodes(cp: ControlPlane) -> None:
    for node in fake_nodes.manifests():
        status, reply = _api(cp, "/api/v1/nodes", "POST", node)
        if status != 201:
            raise ControlPlaneError(f"creating node {node['metadata']['name']}: {status} {reply}")


def start(
    state_dir: Path,
    bin_dir: Path | None = None,
    tied: bool = True,
    address: str = "127.0.0.1",
    fake_nodes: bool = True,
    cgroup: Path | None = None,
) -> ControlPlane:
    """Start a control plane in `state_dir`; with `tied`, it dies with this process.

    `address` is where the API server binds and advertises itself; `fake_nodes=False` starts
    no kwok and creates no nodes (a real kubelet joins instead); `cgroup` is a cgroup2
    directory that every component runs in.

    Ports are picked free but bound later, so a port taken meanwhile (by a concurrent session)
    makes a component exit; the whole start is then retried with fresh ports.
    """
    bin_dir = bin_dir or default_bin_dir()
    missing = missing_binaries(bin_dir)
    if missing:
        raise ControlPlaneError(f"missing {', '.join(missing)} in {bin_dir}: run `make k8s-bin`")
    state_dir.mkdir(parents=True, exist_ok=True)
    attempts = 3
    for attempt in range(1, attempts + 1):
        shutil.rmtree(state_dir / "etcd", ignore_errors=True)  # other files are rewritten
        try:
            cp = ControlPlane(state_dir, bin_dir, address, cgroup, fake_nodes)
            return _start_once(cp, tied)
        except ControlPlaneError as error:
            if attempt == attempts or "address already in use" not in str(error):
                raise
    raise AssertionError("unreachable")


def _start_once(cp: ControlPlane, tied: bool) -> ControlPlane:
    try:
        extra_ips = () if cp.address.startswith("127.") else (cp.address,)
        pki = write_pki(cp.state_dir / "pki", k8s_components.SERVICE_IP, extra_ips)
        _start_processes(cp, pki, tied)
        cp.save()
        if cp.fake_nodes:
            names = {node["metadata"]["name"] for node in fake_nodes.manifests()}
            _await(cp, lambda: names <= _ready_nodes(cp), f"nodes {sorted(names)} Ready")
        _await(cp, lambda: _has_default_sa(cp), "serviceaccount default/default")
    except BaseException:
        stop(cp)
        raise
    return cp


def stop(cp: ControlPlane, grace: float = 10.0) -> None:
    """Stop all components (clients first, etcd last) and wait for them to exit."""
    order = ["kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"]
    for name in order:
        stop_recorded(name, cp.pids, cp.procs, cp.state_dir, grace)


def load(state_dir: Path) -> ControlPlane | None:
    """The control plane recorded in `state_dir`, if any."""
    path = state_dir / STATE_FILE
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    return ControlPlane(
        state_dir=state_dir,
        bin_dir=Path(state["bin_dir"]),
        address=state.get("address", "127.0.0.1"),
        fake_nodes=state.get("fake_nodes", True),
        server=state["server"],
        kubeconfig=Path(state["kubeconfig"]),
        pids={k: int(v) for k, v in state["pids"].items()},
    )


def running_manual_cluster() -> ControlPlane | None:
    """The `make cluster-up` cluster when all its components are running, else None."""
    state_dir = manual_state_dir()
    existing = load(state_dir)
    if existing is None or not all(is_running(p, state_dir) for p in existing.pids.values()):
        return None
    return existing


def temp_state_dir() -> Path:
    """A fresh, unique state directory for one cluster."""
    return Path(tempfile.mkdtemp(prefix="modelplane-k8s-"))


def manual_state_dir() -> Path:
    """The state directory of the hand-started cluster (`make cluster-up`)."""
    return cache_dir() / "k8s" / "cluster-up"


def main(argv: list[str]) -> int:
    """`up` starts a detached cluster and prints exports; `down` stops it; `status` reports."""
    command = argv[0] if argv else "status"
    state_dir = manual_state_dir()
    existing = load(state_dir)
    alive = running_manual_cluster() is not None
    if command == "up":
        if existing is None or not alive:
            if existing is not None:
                stop(existing)
            shutil.rmtree(state_dir, ignore_errors=True)
            started = time.monotonic()
            existing = start(state_dir, tied=False)
            print(f"# started in {time.monotonic() - started:.1f}s", file=sys.stderr)
        print(f"export KUBECONFIG={existing.kubeconfig}")
        print(f"export PATH={existing.bin_dir}:$PATH")
        return 0
    if command == "down":
        if existing is not None:
            stop(existing)
            shutil.rmtree(state_dir, ignore_errors=True)
        print("cluster stopped", file=sys.stderr)
        return 0
    if command == "status":
        if existing is None or not alive:
            print("no cluster running (make cluster-up)")
            return 1
        print(f"running: {existing.server}\nexport KUBECONFIG={existing.kubeconfig}")
        return 0
    print(f"usage: {sys.argv[0]} up|down|status", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
