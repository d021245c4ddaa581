"""The data folder: ``$HETCONV_EDU_DATA`` or the project's ``data/``, and an import that touches
nothing (:mod:`hetconv_edu.data.folder`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hetconv_edu import data
from hetconv_edu.data import load_cifar10
from tests.datasets import write_fake_cifar10

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# The data folder
# --------------------------------------------------------------------------------------------


def test_default_data_dir_is_the_project_data_folder_unless_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    assert data.default_data_dir() == REPO / "data"
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    assert data.default_data_dir() == tmp_path


def test_loaders_read_the_configured_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_fake_cifar10(tmp_path, n_train=50, n_test=20)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    assert len(load_cifar10(download=False).train_labels) == 50


def test_importing_the_module_touches_nothing(tmp_path: Path) -> None:
    target = tmp_path / "data-folder"
    environment = {**os.environ, data.DATA_DIR_ENV: str(target), "PYTHONPATH": str(REPO)}
    subprocess.run(
        [sys.executable, "-c", "import hetconv_edu.data"],
        check=True,
        cwd=tmp_path,
        env=environment,
        timeout=120,
    )
    assert not target.exists()
