"""Running a notebook top to bottom the way CI does; shared by the notebook tests.

:func:`execute_notebook` runs a notebook with nbclient in a fresh ``python3`` kernel whose cwd
is the notebook's folder, with ``HETCONV_EDU_CI=1`` (notebooks use it to pick small, fast
settings), a small generated CIFAR-10 in ``HETCONV_EDU_DATA`` and run files in
``HETCONV_EDU_RUNS`` (both under a temporary folder), at most :data:`NOTEBOOK_TIMEOUT` seconds,
and fails on any error output or traceback.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode

from tests.datasets import write_fake_cifar10

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
NOTEBOOK_TIMEOUT = 300
"""Seconds one notebook may take (also the limit of any single cell)."""


def execute_notebook(
    nb: NotebookNode,
    name: str,
    folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> NotebookNode:
    """Execute ``nb`` (named ``name`` in messages) in place, as if opened from ``folder``.

    Raises ``CellExecutionError`` (with the cell and traceback) when a cell fails, and an
    ``AssertionError`` when it takes too long or an output holds an error or a traceback.
    Returns ``nb`` with its outputs.
    """
    monkeypatch.setenv("HETCONV_EDU_CI", "1")
    # A small data set in the official CIFAR-10 format, and run files out of the repository.
    write_fake_cifar10(tmp_path / "data", n_train=400, n_test=100)
    monkeypatch.setenv("HETCONV_EDU_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HETCONV_EDU_RUNS", str(tmp_path / "runs"))
    monkeypatch.chdir(folder)
    client = NotebookClient(
        nb,
        timeout=NOTEBOOK_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},  # the kernel's cwd
    )  # the kernel inherits this process's environment, HETCONV_EDU_CI included
    start = time.monotonic()
    client.execute()  # raises CellExecutionError with the cell and traceback on failure
    elapsed = time.monotonic() - start
    assert elapsed < NOTEBOOK_TIMEOUT, f"{name} took {elapsed:.0f} s"
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", (name, out.get("ename"))
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = out.get("text", "")
                assert "Traceback" not in text, (name, text)
    return nb
