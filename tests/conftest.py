"""Shared pytest setup: fixtures live in tests/support/ and are registered here."""

pytest_plugins: list[str] = [
    "tests.support.client_tools",
    "tests.support.cluster",
    "tests.support.real_cluster",
]
