"""The pool's flags: capacities are non-negative byte counts, and they need one worker."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from modelplane.model_server.settings import ServerSettings


def test_the_pool_flags_refuse_several_workers() -> None:
    with pytest.raises(ValidationError, match="need --workers 1"):
        ServerSettings(workers=2, memory_capacity=1 << 30)
    with pytest.raises(ValidationError, match="memory_capacity"):
        ServerSettings(memory_capacity=-1)
    assert ServerSettings(memory_capacity=1 << 30, gpu_memory_capacity=2).memory_capacity == 1 << 30
