"""The end-to-end tier uses the same fixtures as tests/ (also when run alone: `make e2e`)."""

pytest_plugins: list[str] = [
    "tests.support.client_tools",
    "tests.support.cluster",
    "tests.support.real_cluster",
]
