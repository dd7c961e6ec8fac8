"""Nothing leaves the machine: the node's egress rules, put in place and checked.

`prepare_host` makes the bridges, sysctls, node cgroup and egress rules (journaled);
`verify_egress` checks them, the closed registry mirror and DNS without forwarding before any
pod exists; `pin_egress_first` puts our rules back in front after kube-proxy and the kubelet
insert theirs.
"""

from __future__ import annotations

import datetime
import shlex
from pathlib import Path
from typing import Any

from tests.support import node_host, node_plan
from tests.support.node_cluster import NodeError, RealCluster


def prepare_host(journal: node_host.Journal, cgroup: Path) -> None:
    """Bridges, sysctls, the node cgroup and the egress rules, each journaled first."""
    journal.bridge(node_plan.NODE_BRIDGE, node_plan.NODE_ADDRESSES, 24)
    journal.link_created_later(node_plan.POD_BRIDGE)
    for key, value in node_plan.sysctls().items():
        journal.sysctl(key, value)
    journal.cgroup(cgroup)
    mount = node_host.cgroup2_mount()
    assert mount is not None
    cgroup_path = "/" + str(cgroup.relative_to(mount))
    for binary, args in node_plan.egress_rules(cgroup_path):
        journal.iptables(binary, args, node_plan.undo_rule(args))


def verify_egress(cluster: RealCluster) -> dict[str, Any]:
    """Check, before any pod exists, that nothing can leave the machine.

    - every egress rule is in place (`iptables -C`);
    - containerd's registry config mirrors every registry to the closed local port, and a
      pull of a public image fails at that port (so the mirror, not the network, answered);
    - the pod DNS server has no `forward`.
    Raises NodeError on the first gap; returns what was checked.
    """
    mount = node_host.cgroup2_mount()
    assert mount is not None and cluster.cp.cgroup is not None
    cgroup_path = "/" + str(cluster.cp.cgroup.relative_to(mount))
    rules = node_plan.egress_rules(cgroup_path)
    checked_rules = []
    for binary, args in rules:
        if args[0] in ("-N",):
            check = node_host.run([binary, "-w", "-S", args[1]], check=False)
        elif args[0] == "-A":
            check = node_host.run([binary, "-w", "-C", *args[1:]], check=False)
        else:  # -I CHAIN POS rest
            check = node_host.run([binary, "-w", "-C", args[1], *args[3:]], check=False)
        if check.returncode != 0:
            raise NodeError(f"egress rule missing: {binary} {' '.join(args)}")
        checked_rules.append(f"{binary} {' '.join(args)}")
    for binary, args in egress_jumps(cluster):
        chain = node_host.run([binary, "-w", "-S", args[1]]).stdout.splitlines()
        first = chain[1] if len(chain) > 1 else ""
        if not set(args[3:]) <= set(shlex.split(first)):  # iptables reorders, adds defaults
            raise NodeError(f"the egress rule is not first in {binary} {args[1]}: {chain[:3]}")
    mirrors = {}
    for registry in node_plan.REGISTRIES:
        hosts = cluster.paths.registry_dir / registry / "hosts.toml"
        text = hosts.read_text() if hosts.exists() else ""
        if f'[host."{node_plan.CLOSED_MIRROR}"]' not in text:
            raise NodeError(f"registry {registry} has no closed mirror host entry in {hosts}")
        mirrors[registry] = node_plan.CLOSED_MIRROR
    if node_host.run(["ss", "-Hltn", "sport = :1"], check=False).stdout.strip():
        raise NodeError("something listens on 127.0.0.1:1, the closed mirror port")
    pull = cluster.crictl("pull", "docker.io/library/busybox:1.36", check=False)
    if pull.returncode == 0 or "127.0.0.1:1" not in pull.stderr:
        raise NodeError(f"a public pull did not stop at the closed mirror: {pull.stderr.strip()}")
    if "forward" in cluster.paths.corefile.read_text():
        raise NodeError("CoreDNS config forwards queries")
    return {
        "checked_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "rules": checked_rules,
        "mirrors": mirrors,
        "public_pull": pull.stderr.strip().splitlines()[-1][:300],
    }


def kube_proxy_synced() -> bool:
    rules = node_host.run(["iptables", "-w", "-S", "OUTPUT"], check=False).stdout
    return "KUBE-SERVICES" in rules or "KUBE-PROXY-FIREWALL" in rules


def egress_jumps(cluster: RealCluster) -> list[tuple[str, list[str]]]:
    """The rules of `egress_rules` that sit in OUTPUT and FORWARD (ours must come first)."""
    mount = node_host.cgroup2_mount()
    assert mount is not None and cluster.cp.cgroup is not None
    path = "/" + str(cluster.cp.cgroup.relative_to(mount))
    return [(b, args) for b, args in node_plan.egress_rules(path) if args[0] == "-I"]


def pin_egress_first(cluster: RealCluster) -> None:
    """kube-proxy and the kubelet insert their jumps at the top of OUTPUT and FORWARD when
    they start; move ours back in front, so that no rule of theirs runs first."""
    for binary, args in egress_jumps(cluster):
        node_host.run([binary, "-w", "-D", args[1], *args[3:]])
        node_host.run([binary, "-w", *args])
