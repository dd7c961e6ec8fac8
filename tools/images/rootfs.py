"""The base layer: a Debian root filesystem (mmdebstrap minbase) like debian:bookworm-slim,
with the final stage's apt packages and user, stripped of apt lists, caches, docs and logs.

Runs as root: mmdebstrap's root mode mounts /proc, /sys and /dev inside the target while it
installs and unmounts them when it ends; nothing here mounts anything itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tools.images.dockerfile import User
from tools.images.layer import EPOCH

SUITE = "bookworm"
# What debian:bookworm-slim leaves out (its dpkg excludes), applied while packages install.
DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/lintian/*",
)
# Host state mmdebstrap copies in or leaves behind; the runtime provides /dev, hostname, DNS.
STRIP = (
    "dev/*",
    "etc/hostname",
    "etc/resolv.conf",
    "var/lib/apt/lists/*",
    "var/cache/apt/*",
    "var/cache/debconf/*-old",
    "var/cache/ldconfig/aux-cache",
    "var/log/apt/*",
    "var/log/*.log",
    "tmp/*",
    "run/*",
)
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def apt_sources() -> Path:
    """The host's apt sources: the base comes from the mirror the host already uses."""
    for path in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        if path.is_file() and path.read_text().strip():
            return path
    raise FileNotFoundError(
        "no apt sources on this host (/etc/apt/sources.list[.d/debian.sources])"
    )


def mmdebstrap_argv(root: Path, packages: tuple[str, ...], sources: Path) -> list[str]:
    return [
        "mmdebstrap",
        "--quiet",
        "--mode=root",
        "--variant=minbase",
        # usr-is-merged (as Debian's images have), not usrmerge, which pulls in perl.
        "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
        '--aptopt=Acquire::Languages "none"',
        *(f"--dpkgopt={option}" for option in DPKG_OPTIONS),
        f"--include={','.join(packages)}",
        SUITE,
        str(root),
        str(sources),
    ]


def chroot_env() -> dict[str, str]:
    return {
        "PATH": CHROOT_PATH,
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "SOURCE_DATE_EPOCH": str(EPOCH),  # useradd's password-change date, pip's pyc mode
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def chroot(root: Path, *argv: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(["chroot", str(root), *argv], env=env or chroot_env(), check=True)


def compile_python(root: Path, *dirs: str) -> None:
    """Byte-compile with unchecked-hash pycs: valid whatever the files' mtimes (every layer
    has one fixed mtime), and never rewritten (the images run with PYTHONDONTWRITEBYTECODE)."""
    argv = ["python3", "-m", "compileall", "-q", "-f", "--invalidation-mode", "unchecked-hash"]
    # Exit status 1 means a file did not compile (test data, templates): pip ignores those too.
    result = subprocess.run(["chroot", str(root), *argv, *dirs], env=chroot_env(), check=False)
    if result.returncode not in (0, 1):
        raise subprocess.CalledProcessError(result.returncode, argv)


def strip(root: Path) -> None:
    for pattern in STRIP:
        for path in root.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def make_base(root: Path, packages: tuple[str, ...], users: tuple[User, ...]) -> None:
    """mmdebstrap into root (which must not exist yet), then the users, pycs and strip."""
    if shutil.which("mmdebstrap") is None:
        raise FileNotFoundError(
            "mmdebstrap missing: bash tools/node/build.sh --packages installs it"
        )
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH)}  # mmdebstrap's reproducible mode
    subprocess.run(mmdebstrap_argv(root, packages, apt_sources()), env=env, check=True)
    for user in users:
        chroot(root, *user.argv)  # the Dockerfile's own command
    found = [*root.glob("usr/lib/python3*"), *root.glob("usr/share/python3")]
    python_dirs = sorted(f"/{p.relative_to(root)}" for p in found)
    if python_dirs:
        compile_python(root, *python_dirs)
    strip(root)
