"""The import-linter contracts in pyproject.toml hold, and they fail when a cycle is introduced."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over the `modelplane` package and the pyproject.toml found in root."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package and its contracts, free to break."""
    shutil.copytree(
        REPO / "modelplane",
        tmp_path / "modelplane",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(tree: Path, module: str, imported: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\nimport {imported}  # noqa: E402\n")


def test_contracts_are_kept_by_the_tree(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# (importer, imported, a contract that must break): each import closes a cycle.
CYCLES = [
    # two runners in one layer: only the cycle contract sees it
    (
        "modelplane.model_server.runners.base",
        "modelplane.model_server.runners.batching",
        "no import cycles between the modules of any package",
    ),
    # the cycle this contract was written after: server <-> workers
    (
        "modelplane.model_server.server",
        "modelplane.model_server.workers",
        "model server: edges over the data plane",
    ),
    (
        "modelplane.operator.render.meta",
        "modelplane.operator.render.isvc",
        "no import cycles between the modules of any package",
    ),
    (
        "modelplane.operator.status",
        "modelplane.operator.reconcile",
        "operator: handlers over the queue over reconcile",
    ),
    (
        "modelplane.router.graph",
        "modelplane.router.executor",
        "router: edge over the executor",
    ),
]


@pytest.mark.parametrize(("importer", "imported", "contract"), CYCLES)
def test_an_import_cycle_breaks_a_contract(
    tree: Path, importer: str, imported: str, contract: str
) -> None:
    add_import(tree, importer, imported)
    result = lint_imports(tree)
    assert result.returncode != 0, result.stdout
    broken = " ".join(result.stdout.split("Broken contracts", 1)[-1].split())  # unwrapped
    assert contract in broken, result.stdout
    # the report names the import that was added (so the copy, not the repo, was analysed)
    assert importer.rpartition(".")[2] in broken and imported.rpartition(".")[2] in broken
