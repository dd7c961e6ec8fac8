"""A minimal DNS A-record client over UDP, to ask the test node's CoreDNS directly."""

from __future__ import annotations

import secrets
import socket
import struct


def _query(name: str, ident: int) -> bytes:
    header = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0)  # recursion desired, 1 question
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.rstrip(".").split("."))
    return header + labels + b"\x00" + struct.pack(">HH", 1, 1)  # type A, class IN


def _skip_name(data: bytes, offset: int) -> int:
    while True:
        length = data[offset]
        if length & 0xC0 == 0xC0:  # compression pointer ends the name
            return offset + 2
        if length == 0:
            return offset + 1
        offset += 1 + length


def resolve_a(server: str, name: str, timeout: float = 1.0) -> list[str]:
    """The A records `server` returns for `name` (empty on NXDOMAIN, no answer or timeout)."""
    ident = secrets.randbelow(65536)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(_query(name, ident), (server, 53))
            data, _ = sock.recvfrom(4096)
        except OSError:
            return []
    got_id, flags, questions, answers = struct.unpack(">HHHH", data[:8])
    if got_id != ident or flags & 0x000F:  # another reply, or an error rcode
        return []
    offset = 12
    for _ in range(questions):
        offset = _skip_name(data, offset) + 4
    addresses = []
    for _ in range(answers):
        offset = _skip_name(data, offset)
        rtype, _class, _ttl, length = struct.unpack(">HHIH", data[offset : offset + 10])
        offset += 10
        if rtype == 1 and length == 4:
            addresses.append(socket.inet_ntoa(data[offset : offset + 4]))
        offset += length
    return addresses
