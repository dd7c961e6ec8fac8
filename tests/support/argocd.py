"""Argo CD's health check of our kinds, run by a real Lua 5.1 interpreter (Debian's lua5.1).

Argo CD runs `resource.customizations.health.<group>_<kind>` scripts with the object as the
global `obj` and reads the returned table's `status` and `message`; this does the same with
the one script in charts/modelplane/health/health.lua.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "charts" / "modelplane" / "health" / "health.lua"
LUA = "lua5.1"


def lua_available() -> bool:
    return shutil.which(LUA) is not None


def lua_literal(value: Any) -> str:
    """`value` (decoded JSON) as a Lua 5.1 expression; null becomes nil, as Argo CD's does."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = "".join(  # UTF-8 bytes; Lua 5.1 strings are bytes, \ddd escapes them
            chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\{b:03d}" for b in value.encode()
        )
        return f'"{escaped}"'
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    if isinstance(value, dict):
        fields = (f"[{lua_literal(str(k))}] = {lua_literal(v)}" for k, v in value.items())
        return "{" + ", ".join(fields) + "}"
    raise TypeError(f"not JSON: {type(value).__name__}")


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """(status, message) that Argo CD would show for `obj`."""
    driver = (
        f"obj = {lua_literal(obj)}\n"
        f"local hs = dofile({lua_literal(str(SCRIPT))})\n"
        'io.write(hs.status, "\\n", hs.message or "")\n'
    )
    done = subprocess.run(
        [LUA, "-"], input=driver, capture_output=True, text=True, timeout=10, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"lua failed: {done.stderr.strip()}")
    status, _, message = done.stdout.partition("\n")
    return status, message
