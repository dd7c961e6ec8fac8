"""Router settings: flags over MODELPLANE_* environment over defaults; header patterns."""

from __future__ import annotations

import pytest

from modelplane.router.cli import parse_args
from modelplane.router.headers import DEFAULT_PROPAGATE, REQUEST_ID, HeaderPolicy


def test_flags_win_over_environment_which_wins_over_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELPLANE_GRAPH", "/env/graph.yaml")
    monkeypatch.setenv("MODELPLANE_RETRIES", "5")
    monkeypatch.setenv("MODELPLANE_STEP_TIMEOUT", "3.5")
    settings = parse_args(["--retries", "1", "--port", "9000"])
    assert settings.graph == "/env/graph.yaml"
    assert settings.retries == 1 and settings.step_timeout == 3.5 and settings.port == 9000
    assert settings.propagate_headers == list(DEFAULT_PROPAGATE)


def test_propagate_header_flags_replace_the_defaults() -> None:
    settings = parse_args(
        ["--graph", "g.yaml", "--propagate-header", "x-tenant", "--propagate-header", "x-b3-*"]
    )
    assert settings.propagate_headers == ["x-tenant", "x-b3-*"]


def test_graph_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELPLANE_GRAPH", raising=False)
    with pytest.raises(SystemExit):
        parse_args([])


def test_header_policy_forwards_named_and_globbed_headers_only() -> None:
    policy = HeaderPolicy(["X-Tenant", "x-b3-*"])
    out = policy.forward(
        [
            (b"X-Tenant", b"acme"),
            (b"x-b3-traceid", b"t1"),
            (b"X-B3-SpanId", b"s1"),
            (b"cookie", b"secret"),
            (b"x-tenant", b"second"),
        ]
    )
    assert out["x-tenant"] == "acme, second"
    assert out["x-b3-traceid"] == "t1" and out["x-b3-spanid"] == "s1"
    assert "cookie" not in out
    assert len(out[REQUEST_ID]) == 32 and out["content-type"] == "application/json"
