"""Where the relay may put its GOAWAY: HTTP/2 frame boundaries in bytes fed in any split."""

from __future__ import annotations

import pytest

from modelplane.operator.relay import GOAWAY, Frames


def frame(kind: int, payload: bytes, stream: int = 0, flags: int = 0) -> bytes:
    return (
        len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload
    )


SETTINGS = frame(4, bytes(6))
SETTINGS_ACK = frame(4, b"", flags=1)
HEADERS = frame(1, b"h" * 40, stream=1, flags=4)
DATA = frame(0, b"d" * 1000, stream=1)
STREAM = SETTINGS + SETTINGS_ACK + HEADERS + DATA + frame(1, b"t" * 10, stream=1, flags=5)
ENDS = {len(SETTINGS), len(SETTINGS + SETTINGS_ACK), len(SETTINGS + SETTINGS_ACK + HEADERS),
        len(STREAM) - len(frame(1, b"t" * 10)), len(STREAM)}  # fmt: skip


@pytest.mark.parametrize("size", [1, 2, 5, 9, 10, 17, 64, 1000, len(STREAM)])
def test_a_boundary_is_reported_exactly_where_a_frame_ends(size: int) -> None:
    frames = Frames()
    fed = 0
    for at in range(0, len(STREAM), size):
        chunk = STREAM[at : at + size]
        fed += len(chunk)
        assert frames.feed(chunk) == (fed in ENDS), fed
    assert frames.count == 5


def test_the_goaway_is_one_whole_graceful_frame() -> None:
    frames = Frames()
    assert frames.feed(GOAWAY) and frames.count == 1
    assert GOAWAY[3] == 7 and int.from_bytes(GOAWAY[5:9], "big") == 0  # GOAWAY, stream 0
    assert int.from_bytes(GOAWAY[:3], "big") == 8 == len(GOAWAY) - 9
    assert int.from_bytes(GOAWAY[9:13], "big") == 2**31 - 1  # no stream refused
    assert int.from_bytes(GOAWAY[13:17], "big") == 0  # NO_ERROR
