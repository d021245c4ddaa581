"""Every notebook in notebooks/ runs top to bottom without an error, and is committed clean.

Parametrized over ``notebooks/*.ipynb``, so new notebooks are picked up automatically. Each
runs as :func:`tests.notebook_runner.execute_notebook` describes: nbclient, a fresh kernel, cwd
``notebooks/``, env ``HETCONV_EDU_CI=1`` and a small generated data set, at most
``NOTEBOOK_TIMEOUT`` seconds.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests.notebook_runner import NOTEBOOK_TIMEOUT, NOTEBOOKS, NOTEBOOKS_DIR, execute_notebook

ids = [p.name for p in NOTEBOOKS]


@pytest.mark.notebook
@pytest.mark.timeout(NOTEBOOK_TIMEOUT + 60)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    execute_notebook(nb, path.name, NOTEBOOKS_DIR, tmp_path, monkeypatch)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_is_commit_clean(path: Path) -> None:
    """Outputs cleared, execution counts null, kernelspec python3: what the repo stores."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", path.name
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {i} has outputs"
            assert cell.execution_count is None, f"{path.name}: cell {i} has an execution count"
