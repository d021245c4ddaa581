"""Every notebook in notebooks/ runs top to bottom without an error, and is committed clean.

Parametrized over ``notebooks/*.ipynb``, so new notebooks are picked up automatically. Each
runs with nbclient in a fresh kernel, cwd ``notebooks/``, env ``HETCONV_EDU_CI=1`` (notebooks
use it to pick small, fast settings), at most ``NOTEBOOK_TIMEOUT`` seconds.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.datasets import write_fake_cifar10

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
NOTEBOOK_TIMEOUT = 300
"""Seconds one notebook may take (also the limit of any single cell)."""

ids = [p.name for p in NOTEBOOKS]


@pytest.mark.notebook
@pytest.mark.timeout(NOTEBOOK_TIMEOUT + 60)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HETCONV_EDU_CI", "1")
    # A small data set in the official CIFAR-10 format, and run files out of the repository.
    write_fake_cifar10(tmp_path / "data", n_train=400, n_test=100)
    monkeypatch.setenv("HETCONV_EDU_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HETCONV_EDU_RUNS", str(tmp_path / "runs"))
    monkeypatch.chdir(NOTEBOOKS_DIR)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=NOTEBOOK_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},  # the kernel's cwd
    )  # the kernel inherits this process's environment, HETCONV_EDU_CI included
    start = time.monotonic()
    client.execute()  # raises CellExecutionError with the cell and traceback on failure
    elapsed = time.monotonic() - start
    assert elapsed < NOTEBOOK_TIMEOUT, f"{path.name} took {elapsed:.0f} s"
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", (path.name, out.get("ename"))
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = out.get("text", "")
                assert "Traceback" not in text, (path.name, text)


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
