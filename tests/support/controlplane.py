"""Launch and stop a local Kubernetes control plane (etcd, apiserver, KCM, scheduler, kwok).

Used by the `k8s_cluster` pytest fixture and by hand:
`python -m tests.support.controlplane up|down|status` (`make cluster-up` / `make cluster-down`).
Everything binds 127.0.0.1 on random free ports and lives in one state directory, so separate
sessions can run clusters side by side; only the binary cache is shared (read-only).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support import fake_nodes
from tests.support.k8s_pki import PkiFiles, write_pki
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
SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kubeconfig_doc(server: str, ca_pem: bytes, user: str, token: str) -> dict[str, Any]:
    """A kubeconfig with one cluster, one token user and one current context."""
    import base64

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


def _die_with_parent() -> None:
    """preexec: SIGTERM this child when the launching process dies (Linux PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def _spawn(
    cp: ControlPlane, name: str, argv: list[str], tied: bool, env: dict[str, str] | None = None
) -> None:
    with open(cp.state_dir / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cp.state_dir,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent if tied else None,
        )
    cp.procs[name] = proc
    cp.pids[name] = proc.pid


def log_tail(state_dir: Path, name: str, lines: int = 30) -> str:
    """The last lines of a component's log."""
    path = state_dir / f"{name}.log"
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _check_alive(cp: ControlPlane) -> None:
    for name, proc in cp.procs.items():
        code = proc.poll()
        if code is not None:
            raise ControlPlaneError(
                f"{name} exited with {code} during start; log tail:\n{log_tail(cp.state_dir, name)}"
            )


def _http_ok(url: str, context: ssl.SSLContext | None = None, token: str = "") -> bool:
    try:
        return _http(url, context, token)[0] == 200
    except (urllib.error.URLError, OSError):
        return False


def _http(
    url: str,
    context: ssl.SSLContext | None = None,
    token: str = "",
    method: str = "GET",
    body: Any = None,
) -> tuple[int, Any]:
    """One JSON request; returns (status, parsed body or None). HTTP errors are returned."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def listens_on(pid: int, port: int) -> bool:
    """True when process `pid` holds a listening TCP socket on 127.0.0.1:`port` (Linux /proc).

    A health probe alone could reach another cluster's server that won a port race.
    """
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
        rows = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return False
    inodes = set()
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    wanted = f"0100007F:{port:04X}"
    for row in rows:
        fields = row.split()
        if fields[1] == wanted and fields[3] == "0A" and fields[9] in inodes:
            return True
    return False


def _api(cp: ControlPlane, path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    """Call the API server as the admin (no kubectl start-up cost during bring-up)."""
    context = ssl.create_default_context(cafile=str(cp.state_dir / "pki" / "ca.crt"))
    return _http(f"{cp.server}{path}", context, cp.admin_token, method, body)


def _await(cp: ControlPlane, check: Any, what: str, timeout: float = START_TIMEOUT) -> None:
    def probe() -> bool:
        _check_alive(cp)
        return bool(check())

    wait_for(probe, timeout=timeout, interval=0.1, message=what)


def _write_token_file(path: Path, tokens: dict[str, tuple[str, str, str]]) -> None:
    lines = [
        f'{tok},{user},{user},"{groups}"' if groups else f"{tok},{user},{user}"
        for tok, (user, groups, _) in tokens.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def _start_processes(cp: ControlPlane, pki: PkiFiles, tied: bool) -> dict[str, str]:
    """Start every component; returns kubeconfig paths by component."""
    d = cp.state_dir
    b = cp.bin_dir
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    peer_url = f"http://127.0.0.1:{peer_port}"
    _spawn(
        cp,
        "etcd",
        [
            str(b / "etcd"),
            "--name=default",
            f"--data-dir={d / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ],
        tied,
    )
    etcd_pid = cp.pids["etcd"]
    _await(
        cp,
        lambda: listens_on(etcd_pid, etcd_port) and _http_ok(f"{etcd_url}/health"),
        "etcd /health",
        timeout=60,
    )

    cp.admin_token = secrets.token_hex(16)
    users = {
        cp.admin_token: ("modelplane-admin", "system:masters", "admin"),
        secrets.token_hex(16): ("system:kube-controller-manager", "", "controller-manager"),
        secrets.token_hex(16): ("system:kube-scheduler", "", "scheduler"),
        secrets.token_hex(16): ("kwok", "system:masters", "kwok"),
    }
    _write_token_file(d / "tokens.csv", users)
    cp.server = f"https://127.0.0.1:{api_port}"
    ca_pem = pki.ca_cert.read_bytes()
    configs: dict[str, str] = {}
    for token, (user, _, component) in users.items():
        path = d / f"{component}.kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig_doc(cp.server, ca_pem, user, token)))
        path.chmod(0o600)
        configs[component] = str(path)
    cp.kubeconfig = Path(configs["admin"])

    _spawn(
        cp,
        "kube-apiserver",
        [
            str(b / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={api_port}",
            f"--cert-dir={d / 'apiserver-certs'}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--token-auth-file={d / 'tokens.csv'}",
            "--authorization-mode=Node,RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.sa_pub}",
            f"--service-account-signing-key-file={pki.sa_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            "--profiling=false",
        ],
        tied,
    )
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    _await(
        cp,
        lambda: (
            listens_on(cp.pids["kube-apiserver"], api_port)
            and _http_ok(f"{cp.server}/readyz", context, cp.admin_token)
        ),
        "kube-apiserver /readyz",
    )
    _create_nodes(cp)  # before kwok starts, so it adopts them on its first list

    _spawn(
        cp,
        "kube-controller-manager",
        [
            str(b / "kube-controller-manager"),
            f"--kubeconfig={configs['controller-manager']}",
            "--controllers=*",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki.sa_key}",
            f"--root-ca-file={pki.ca_cert}",
            f"--cluster-signing-cert-file={pki.ca_cert}",
            f"--cluster-signing-key-file={pki.ca_key}",
            "--leader-elect=false",
            "--secure-port=0",
            "--profiling=false",
        ],
        tied,
    )
    _spawn(
        cp,
        "kube-scheduler",
        [
            str(b / "kube-scheduler"),
            f"--kubeconfig={configs['scheduler']}",
            "--leader-elect=false",
            "--secure-port=0",
            "--profiling=false",
        ],
        tied,
    )
    kwok_home = d / "kwok-home"  # keeps kwok from reading a user's ~/.kwok/kwok.yaml
    kwok_home.mkdir(exist_ok=True)
    _spawn(
        cp,
        "kwok",
        [
            str(b / "kwok"),
            f"--kubeconfig={configs['kwok']}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={fake_nodes.MANAGED_ANNOTATION}=fake",
            "--node-lease-duration-seconds=40",
            "--cidr=10.244.0.1/16",
        ],
        tied,
        env={**os.environ, "HOME": str(kwok_home)},
    )
    return configs


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


def start(state_dir: Path, bin_dir: Path | None = None, tied: bool = True) -> ControlPlane:
    """Start a control plane in `state_dir`; with `tied`, it dies with this process.

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
            return _start_once(state_dir, bin_dir, tied)
        except ControlPlaneError as error:
            if attempt == attempts or "address already in use" not in str(error):
                raise
    raise AssertionError("unreachable")


def _start_once(state_dir: Path, bin_dir: Path, tied: bool) -> ControlPlane:
    cp = ControlPlane(state_dir=state_dir, bin_dir=bin_dir)
    try:
        pki = write_pki(state_dir / "pki", SERVICE_IP)
        _start_processes(cp, pki, tied)
        cp.save()
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
        pid = cp.pids.get(name)
        if pid is None:
            continue
        proc = cp.procs.get(name)
        if proc is not None:
            _terminate_child(proc, grace)
        else:
            _terminate_pid(pid, cp.state_dir, grace)


def _terminate_child(proc: subprocess.Popen[bytes], grace: float) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)


def is_running(pid: int, state_dir: Path) -> bool:
    """True when pid runs a component of the cluster in `state_dir` (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return str(state_dir).encode() in cmdline


def _terminate_pid(pid: int, state_dir: Path, grace: float) -> None:
    if not is_running(pid, state_dir):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not is_running(pid, state_dir):
            return
        time.sleep(0.1)
    if is_running(pid, state_dir):
        os.kill(pid, signal.SIGKILL)


def load(state_dir: Path) -> ControlPlane | None:
    """The control plane recorded in `state_dir`, if any."""
    path = state_dir / STATE_FILE
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    return ControlPlane(
        state_dir=state_dir,
        bin_dir=Path(state["bin_dir"]),
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
