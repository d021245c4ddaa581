"""Fixtures shared by several test modules: a tiny generated CIFAR-10 in the official format.

``data_root`` is a folder holding it (256 training and 128 test images, seed 0) and ``dataset``
the same data loaded; a module that needs other sizes defines its own ``data_root``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hetconv_edu.data import ImageDataset, load_dataset
from tests.datasets import write_fake_cifar10


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fake-cifar")
    write_fake_cifar10(root, n_train=256, n_test=128, seed=0)
    return root


@pytest.fixture(scope="session")
def dataset(data_root: Path) -> ImageDataset:
    return load_dataset("cifar10", data_root, download=False)
