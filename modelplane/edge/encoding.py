"""Content codings (gzip, deflate): bounded request inflation, response encoding choice."""

from __future__ import annotations

import zlib

from modelplane.edge.errors import BadEncoding, BodyTooLarge, UnsupportedEncoding

_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
# The request codings taken, as a 415 answer's Accept-Encoding says them.
ACCEPTED = ", ".join(_WBITS)
ACCEPT_ENCODING = (b"accept-encoding", ACCEPTED.encode())


def decode_body(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body with its Content-Encoding removed, refusing to inflate past `limit` bytes."""
    name = (encoding or "identity").strip().lower()
    if name == "identity":
        return body
    wbits = _WBITS.get(name)
    if wbits is None:
        raise UnsupportedEncoding(
            f"Content-Encoding: {encoding!r} is not supported (it takes {ACCEPTED})"
        )
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadEncoding(f"Content-Encoding: body is not valid {name}: {exc}") from None
    if len(out) > limit:
        raise BodyTooLarge(f"decompressed request body exceeds the limit of {limit} bytes")
    if not inflater.eof:
        raise BadEncoding(f"Content-Encoding: {name} body is truncated")
    return out


def choose_encoding(accept: str | None) -> str | None:
    """gzip or deflate when Accept-Encoding allows it (q > 0), gzip first; else None."""
    if not accept:
        return None
    allowed: dict[str, float] = {}
    for part in accept.split(","):
        token, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        allowed[token.strip().lower()] = quality
    for name in ("gzip", "deflate"):
        if allowed.get(name, 0.0) > 0:
            return name
    return None


def encode_body(body: bytes, encoding: str) -> bytes:
    """`body` compressed as gzip or deflate (zlib stream), fast level."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, _WBITS[encoding])
    return compressor.compress(body) + compressor.flush()
