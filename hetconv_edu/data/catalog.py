"""The data sets by name: :data:`DATASET_NAMES` (:data:`DATASET_LABELS` for people) and
:func:`load_dataset`."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hetconv_edu.data.cifar10 import load_cifar10
from hetconv_edu.data.dataset import ImageDataset
from hetconv_edu.data.fashion_mnist import load_fashion_mnist

_LOADERS: dict[str, Callable[..., ImageDataset]] = {
    "cifar10": load_cifar10,
    "fashion-mnist": load_fashion_mnist,
}
DATASET_NAMES = tuple(_LOADERS)
"""The names :func:`load_dataset` knows."""

DATASET_LABELS: dict[str, str] = {"cifar10": "CIFAR-10", "fashion-mnist": "Fashion-MNIST"}
"""How each of :data:`DATASET_NAMES` is written for people (menus, messages)."""


def load_dataset(name: str, root: str | Path | None = None, **kwargs: Any) -> ImageDataset:
    """Load a data set by name: ``"cifar10"`` or ``"fashion-mnist"``.

    The keyword arguments go to :func:`load_cifar10` or :func:`load_fashion_mnist`.
    """
    if name not in _LOADERS:
        raise ValueError(
            f"unknown data set {name!r}; the data sets are {', '.join(map(repr, DATASET_NAMES))}"
        )
    return _LOADERS[name](root, **kwargs)


def load_dataset_with_notes(
    name: str, root: str | Path | None = None, **kwargs: Any
) -> tuple[ImageDataset, list[str]]:
    """:func:`load_dataset`, with the loaders' warnings (e.g. "not the official CIFAR-10
    files", "read in memory: the data folder cannot be written") returned as one-line notes
    for an app's message area instead of printed on the kernel's stderr.

    Raises:
        What :func:`load_dataset` raises.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_dataset(name, root, **kwargs)
    return data, [" ".join(str(w.message).split()) for w in caught]
