"""Leaving the reason a startup model failed to load where Kubernetes shows it (the termination message file)."""

from __future__ import annotations

import logging
from pathlib import Path

from modelplane.termination import model_load_failed

log = logging.getLogger(__name__)


def report_load_failure(failures: dict[str, str], path: Path) -> str:
    """Write `ModelLoadFailed: MODEL: REASON` to `path` and log it; returns the message.

    A path that cannot be written (outside a pod: no /dev/termination-log) is logged, not
    raised: the exit that follows still tells the supervisor.
    """
    message = model_load_failed(failures)
    log.error("exiting: startup model failed to load", extra={"reason": message})
    try:
        path.write_text(message, encoding="utf-8")
    except OSError as exc:
        log.warning(
            "termination message not written", extra={"path": str(path), "reason": str(exc)}
        )
    return message
