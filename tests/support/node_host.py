"""Host-wide changes the real node makes, each recorded before it is made and undone in reverse.

The journal (a JSON file in the cluster's state dir) lets `make cluster-down`, a later
fixture or a crashed run undo exactly what this cluster changed: bridges, iptables rules,
sysctls, cgroups, mounts, network namespaces and host directories. Nothing else is touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

CGROUP2_MOUNTS = (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))
CGROUP_V1_ROOT = Path("/sys/fs/cgroup")
NETNS_DIR = Path("/run/netns")


class HostError(RuntimeError):
    """A host change failed; the message carries the command and its output."""


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a host command (ip, iptables, ...) with captured output."""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if check and result.returncode != 0:
        raise HostError(f"{' '.join(argv)}: exit {result.returncode}: {result.stderr.strip()}")
    return result


def cgroup2_mount() -> Path | None:
    """Where the cgroup2 hierarchy is mounted (the hybrid layout's `unified`, or the root)."""
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    cgroup2 = {line.split()[1] for line in mounts if line.split()[2] == "cgroup2"}
    return next((path for path in CGROUP2_MOUNTS if str(path) in cgroup2), None)


def cgroup_hierarchies() -> list[Path]:
    """Every mounted cgroup hierarchy (v1 controllers, named ones, and cgroup2)."""
    hierarchies = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if fields[2] in ("cgroup", "cgroup2"):
            hierarchies.append(Path(fields[1]))
    return sorted(set(hierarchies))


def mounts_under(prefix: Path) -> list[str]:
    """Mount points at or below `prefix`, deepest first."""
    found = []
    text = Path("/proc/self/mounts").read_text()
    for line in text.splitlines():
        point = line.split()[1].replace("\\040", " ")
        if point == str(prefix) or point.startswith(f"{prefix}/"):
            found.append(point)
    return sorted(set(found), key=lambda p: p.count("/"), reverse=True)


def netns_names() -> list[str]:
    return sorted(os.listdir(NETNS_DIR)) if NETNS_DIR.is_dir() else []


class Journal:
    """Undo records in `path`, appended before each change; `undo()` replays them backwards."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []

    def record(self, **entry: Any) -> None:
        self.entries.append(entry)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.entries, indent=1))
        tmp.replace(self.path)

    # -- changes ---------------------------------------------------------------------------

    def bridge(self, name: str, addresses: tuple[str, ...], prefix: int) -> None:
        """A bridge with no ports holding `addresses` (the kernel has no dummy links)."""
        self.record(kind="link", name=name)
        run(["ip", "link", "add", name, "type", "bridge"])
        for address in addresses:
            run(["ip", "addr", "add", f"{address}/{prefix}", "dev", name])
        run(["ip", "link", "set", name, "up"])

    def link_created_later(self, name: str) -> None:
        """A link someone else (the CNI bridge plugin) will create for this cluster."""
        self.record(kind="link", name=name)

    def sysctl(self, key: str, value: str) -> None:
        path = Path("/proc/sys") / key
        old = path.read_text().strip()
        self.record(kind="sysctl", key=key, old=old)
        path.write_text(value)

    def iptables(self, binary: str, args: list[str], undo: list[list[str]]) -> None:
        self.record(kind="iptables", binary=binary, undo=undo)
        run([binary, "-w", *args])

    def cgroup(self, path: Path) -> None:
        self.record(kind="cgroup", path=str(path))
        path.mkdir(exist_ok=True)

    def cgroup_tree(self, name: str) -> None:
        """A cgroup under every v1 hierarchy and the cgroup2 mount (the kubelet's cgroupRoot,
        which must exist before it starts); removed with everything created below it."""
        self.record(kind="cgroup_tree", name=name)
        for hierarchy in cgroup_hierarchies():
            top = hierarchy / name
            top.mkdir(exist_ok=True)
            for key in ("cpuset.cpus", "cpuset.mems"):  # v1 cpuset starts empty
                if (hierarchy / key).exists() and not (top / key).read_text().strip():
                    (top / key).write_text((hierarchy / key).read_text())

    def directory(self, path: Path) -> None:
        """A host directory this cluster's components create when it was not there."""
        if not path.exists():
            self.record(kind="dir", path=str(path))

    def mounts(self, prefix: Path) -> None:
        """Mounts the components make below `prefix` (kubelet volumes, containerd rootfs)."""
        self.record(kind="mounts", path=str(prefix))

    def netns(self) -> None:
        """Network namespaces created after now (containerd's pod sandboxes)."""
        self.record(kind="netns", before=netns_names())

    def iptables_baseline(self) -> None:
        """Chains that exist now; any chain created later (kube-proxy's, the kubelet's,
        CNI's) is removed at undo, with the rules of other chains that jump to it."""
        self.record(kind="iptables_new_chains", baseline=iptables_chains())

    def command(self, argv: list[str]) -> None:
        """A command to run at undo time (e.g. kube-proxy --cleanup)."""
        self.record(kind="command", argv=argv)

    # -- undo ------------------------------------------------------------------------------

    def undo(self) -> list[str]:
        """Undo every recorded change, newest first; returns what could not be undone."""
        problems: list[str] = []
        for entry in reversed(self.entries):
            try:
                _undo_one(entry)
            except Exception as error:
                problems.append(f"{entry}: {error}")
        self.entries = []
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        return problems


def _undo_one(entry: dict[str, Any]) -> None:
    kind = entry["kind"]
    if kind == "link":
        if Path(f"/sys/class/net/{entry['name']}").exists():
            run(["ip", "link", "del", entry["name"]])
    elif kind == "sysctl":
        (Path("/proc/sys") / entry["key"]).write_text(entry["old"])
    elif kind == "iptables":
        for args in entry["undo"]:
            run([entry["binary"], "-w", *args], check=False)
    elif kind == "cgroup":
        _rmdir_cgroup(Path(entry["path"]))
    elif kind == "cgroup_tree":
        for hierarchy in cgroup_hierarchies():
            top = hierarchy / entry["name"]
            if top.is_dir():
                for sub in sorted(top.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                    if sub.is_dir():
                        _rmdir_cgroup(sub)
                _rmdir_cgroup(top)
    elif kind == "dir":
        shutil.rmtree(entry["path"], ignore_errors=True)
    elif kind == "mounts":
        for point in mounts_under(Path(entry["path"])):
            run(["umount", "-l", point], check=False)
    elif kind == "netns":
        for name in set(netns_names()) - set(entry["before"]):
            run(["ip", "netns", "delete", name], check=False)
            with contextlib.suppress(OSError):
                (NETNS_DIR / name).unlink()
    elif kind == "iptables_new_chains":
        _remove_new_chains({tuple(c) for c in entry["baseline"]})
    elif kind == "command":
        run(entry["argv"], check=False)
    else:
        raise HostError(f"unknown journal entry {kind}")


IPTABLES = ("iptables", "ip6tables")
TABLES = ("filter", "nat", "mangle", "raw")


def iptables_chains() -> list[tuple[str, str, str]]:
    """(binary, table, chain) of every chain on the host, v4 and v6."""
    chains = []
    for binary in IPTABLES:
        for table in TABLES:
            result = run([f"{binary}-save", "-t", table], check=False)
            chains += [
                (binary, table, line[1:].split()[0])
                for line in result.stdout.splitlines()
                if line.startswith(":")
            ]
    return chains


def _remove_new_chains(baseline: set[tuple[str, ...]]) -> None:
    new = [chain for chain in iptables_chains() if chain not in baseline]
    for binary, table, chain in new:  # first the jumps into them, from any chain
        rules = run([binary, "-w", "-t", table, "-S"], check=False).stdout.splitlines()
        for rule in rules:
            words = shlex.split(rule)
            jumps = words[:1] == ["-A"] and f"-j {chain} " in f"{rule} "
            if jumps and (binary, table, words[1]) in baseline:
                run([binary, "-w", "-t", table, "-D", *words[1:]], check=False)
    for binary, table, chain in new:
        run([binary, "-w", "-t", table, "-F", chain], check=False)
    for binary, table, chain in new:
        run([binary, "-w", "-t", table, "-X", chain], check=False)


def leftovers(
    baseline: list[tuple[str, str, str]], links: tuple[str, ...], state: Path
) -> list[str]:
    """What a torn-down cluster left on the host (empty: nothing)."""
    found = [f"iptables chain {c}" for c in iptables_chains() if c not in set(baseline)]
    found += [f"link {name}" for name in links if Path(f"/sys/class/net/{name}").exists()]
    found += [f"mount {point}" for point in mounts_under(state)]
    return found


def _rmdir_cgroup(path: Path, timeout: float = 10.0) -> None:
    """Remove an empty cgroup; exiting processes (zombies reaped late) get a moment."""
    deadline = time.monotonic() + timeout
    while path.exists():
        try:
            path.rmdir()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
