"""The operator's identity for kopf: the pod's name in a cluster, user@host elsewhere.

kopf's own default calls `getpass.getuser()`, which raises for a uid with no passwd entry
(an image's numeric `USER 10001`, OpenShift's random uids), so the operator crashed at start.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


def operator_identity(env: Mapping[str, str], uid: int, hostname: str) -> str:
    """`POD_NAME`/`POD_ID` when set (the chart sets it); else `user@host`, user from the
    environment or passwd, falling back to `uid-N` when the uid has no passwd entry."""
    for key in ("POD_NAME", "POD_ID"):
        if env.get(key):
            return env[key]
    for key in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if env.get(key):
            return f"{env[key]}@{hostname}"
    try:
        import pwd

        user = pwd.getpwuid(uid).pw_name
    except (KeyError, ImportError):
        user = f"uid-{uid}"
    return f"{user}@{hostname}"


def current_identity() -> str:
    """`operator_identity` for this process (the edge: reads env, uid and hostname)."""
    return operator_identity(os.environ, os.getuid(), socket.gethostname())


__all__ = ["current_identity", "operator_identity"]
