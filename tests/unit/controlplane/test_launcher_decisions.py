"""Pure parts of the control-plane launcher: names, manifests, kubeconfig, version pin."""

from __future__ import annotations

import base64
import re
import socket
from pathlib import Path

import pytest

from tests.support import controlplane, fake_nodes, k8s_components, local_processes, ports
from tests.support.cluster import namespace_name
from tests.support.k8s_pki import PkiFiles

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def test_namespace_names_are_valid_dns_labels_and_unique() -> None:
    hints = ["test_deploy[param-1]", "Test With Spaces", "___", "x" * 200]
    names = [namespace_name(h) for h in hints] + [namespace_name("same") for _ in range(20)]
    assert all(DNS_LABEL.match(n) and len(n) <= 63 for n in names), names
    assert len(set(names)) == len(names)


def test_gpu_node_is_tainted_and_advertises_gpus_cpu_node_does_not() -> None:
    nodes = {n["metadata"]["name"]: n for n in fake_nodes.manifests()}
    cpu, gpu = nodes[fake_nodes.CPU_NODE], nodes[fake_nodes.GPU_NODE]
    assert gpu["status"]["allocatable"][fake_nodes.GPU_RESOURCE] == "8"
    assert gpu["status"]["capacity"][fake_nodes.MIG_RESOURCE] == "14"
    assert gpu["spec"]["taints"][0]["effect"] == "NoSchedule"
    assert fake_nodes.GPU_RESOURCE not in cpu["status"]["allocatable"]
    assert cpu["spec"]["taints"] == []
    for node in nodes.values():
        assert node["metadata"]["annotations"][fake_nodes.MANAGED_ANNOTATION] == "fake"
        assert node["status"]["allocatable"]["cpu"] == "16"
        assert node["status"]["allocatable"]["pods"] == "110"


def test_kubeconfig_embeds_ca_and_token() -> None:
    doc = controlplane.kubeconfig_doc("https://127.0.0.1:6443", b"PEM", "alice", "s3cret")
    cluster = doc["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == b"PEM"
    assert doc["users"][0] == {"name": "alice", "user": {"token": "s3cret"}}
    assert doc["current-context"] == doc["contexts"][0]["name"]


def test_pinned_version_is_a_1_34_release_and_keys_the_bin_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MODELPLANE_K8S_BIN_DIR", raising=False)
    version = controlplane.k8s_version()
    assert re.fullmatch(r"v1\.34\.\d+", version)
    assert controlplane.default_bin_dir().parts[-2:] == (version, "bin")


def test_missing_binaries_lists_what_is_absent(tmp_path: Path) -> None:
    (tmp_path / "kubectl").write_text("#!/bin/sh\n")
    (tmp_path / "kubectl").chmod(0o755)
    (tmp_path / "helm").write_text("not executable")
    missing = controlplane.missing_binaries(tmp_path)
    assert "kubectl" not in missing
    assert "helm" in missing
    assert set(missing) == set(controlplane.BINARIES) - {"kubectl"}


def test_free_port_is_bindable_on_loopback() -> None:
    port = ports.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_listens_on_sees_only_this_process_listening_socket() -> None:
    import os

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        assert not local_processes.listens_on(os.getpid(), port)  # bound, not listening yet
        sock.listen()
        assert local_processes.listens_on(os.getpid(), port)
        assert not local_processes.listens_on(os.getppid(), port)


def test_components_bind_loopback_and_enforce_auth() -> None:
    pki = PkiFiles(
        *(Path(f"/pki/{n}") for n in ("ca.crt", "ca.key", "s.crt", "s.key", "sa", "sa.pub"))
    )
    bin_dir, state = Path("/bin"), Path("/state")
    api = k8s_components.apiserver_argv(bin_dir, state, pki, 2379, 6443, state / "tokens.csv")
    assert api[0] == "/bin/kube-apiserver"
    assert {
        "--bind-address=127.0.0.1",
        "--secure-port=6443",
        "--authorization-mode=Node,RBAC",
    } <= set(api)
    assert "--etcd-servers=http://127.0.0.1:2379" in api
    assert "--token-auth-file=/state/tokens.csv" in api
    etcd = k8s_components.etcd_argv(bin_dir, state / "etcd", 2379, 2380)
    assert all("0.0.0.0" not in arg for arg in etcd + api)
    kcm = k8s_components.controller_manager_argv(bin_dir, state / "kcm.kubeconfig", pki)
    assert {"--controllers=*", "--service-account-private-key-file=/pki/sa"} <= set(kcm)
    kwok = k8s_components.kwok_argv(bin_dir, state / "kwok.kubeconfig")
    assert "--manage-all-nodes=false" in kwok
    assert f"--manage-nodes-with-annotation-selector={fake_nodes.MANAGED_ANNOTATION}=fake" in kwok
