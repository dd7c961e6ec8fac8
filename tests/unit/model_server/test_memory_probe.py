"""Memory readings around a load: statm parsing, deltas, injectable readers, the GPU reader."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelplane.model_server.eviction import Footprint
from modelplane.model_server.memory import (
    MemoryProbe,
    Reading,
    grown,
    parse_statm,
    rss_bytes,
    settled_rss,
    torch_gpu_used,
)


def test_parse_statm_takes_the_resident_pages() -> None:
    assert parse_statm("1000 250 30 4 0 500 0\n", 4096) == 250 * 4096
    with pytest.raises(ValueError, match="statm"):
        parse_statm("12", 4096)


def test_rss_follows_an_allocation(tmp_path: Path) -> None:
    before = settled_rss()
    block = bytearray(32 << 20)  # zero pages are not resident until written
    for offset in range(0, len(block), 4096):
        block[offset] = 1
    after = rss_bytes()
    assert after - before >= 24 << 20
    del block
    assert rss_bytes(tmp_path / "missing") == 0


def test_growth_is_never_negative_and_gpu_only_when_both_read() -> None:
    assert grown(Reading(100, None), Reading(350, None)) == Footprint(250, 0)
    assert grown(Reading(500, 10), Reading(300, 60)) == Footprint(0, 50)
    assert grown(Reading(0, None), Reading(10, 60)) == Footprint(10, 0)


def test_probe_reads_the_gpu_first_so_its_setup_is_not_charged_to_a_model() -> None:
    calls: list[str] = []

    def host() -> int:
        calls.append("host")
        return 7

    def gpu() -> int | None:
        calls.append("gpu")
        return 9

    assert MemoryProbe(host=host, gpu=gpu).read() == Reading(7, 9)
    assert calls == ["gpu", "host"]
    assert MemoryProbe(host=host).read() == Reading(7, None)


def test_gpu_reader_without_cuda_reads_nothing() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        used = torch_gpu_used()
        assert used is not None and used > 0
    else:
        assert torch_gpu_used() is None


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_rss_is_positive() -> None:
    assert rss_bytes() > 0
