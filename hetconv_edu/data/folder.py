"""The data folder: where data sets are read from and downloaded to.

``$HETCONV_EDU_DATA`` if set, else the project's ``data/`` folder; every loader also takes
``root=``.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "HETCONV_EDU_DATA"
"""Environment variable naming the data folder (default: the project's ``data/``)."""


def default_data_dir() -> Path:
    """The folder data sets are read from and downloaded to.

    ``$HETCONV_EDU_DATA`` if set (and not empty), else the project's ``data/`` folder.
    """
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path(__file__).resolve().parents[2] / "data"


def resolve_root(root: str | Path | None) -> Path:
    """``root`` as a path (``~`` expanded), or :func:`default_data_dir` when it is None."""
    return default_data_dir() if root is None else Path(root).expanduser()
