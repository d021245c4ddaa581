"""Fixtures shared by several test modules: a tiny generated CIFAR-10 in the official format.

``data_root`` is a folder holding it (256 training and 128 test images, seed 0) and ``dataset``
the same data loaded; a module that needs other sizes defines its own ``data_root``.
``cifar_archive`` and ``cifar`` are the data tests' fake archive (to serve or copy) and fake
CIFAR-10 (500 train, 100 test), one per test module.

Every test leaves torch's thread count as it found it (the command line's ``--threads`` and the
trainers set it for the whole process; a later test must not inherit 64 threads).

Run in parallel (``make test``: pytest-xdist's ``-n 2 --dist loadscope``), every browser test
goes to one worker, one after the other: each drives a slowed Chromium with two CPU-bound
processes beside its kernel (the slow-device condition), and two at once would measure each
other. The other worker takes the rest, a test module at a time (its module fixtures are made
once).

``lab_notebooks`` is the browser tests' one JupyterLab (:class:`browser_harness.LabSession`):
each notebook is run there once per session and its page shared by the tests that read it
(the browser tests all run on one worker, so they share it). The browser tests are ordered by
notebook (:data:`SHARED_LAB_ORDER`): the layout check first, on the lesson's starting state;
then the tests that move controls; a reload last.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest
import torch

from hetconv_edu.data import ImageDataset, load_cifar10, load_dataset
from tests.datasets import write_fake_cifar10


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """With ``--dist loadscope``: every browser test file (``test_browser_*.py``) in one scope,
    each other test module a scope of its own. (pytest-xdist's ``loadgroup`` would do this by
    marker, but it renames test ids in a way pytest 9 no longer reads.)"""
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BrowserTestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "browser" if Path(module).name.startswith("test_browser_") else module

    return BrowserTestsTogether(config, log)


SHARED_LAB_ORDER: tuple[tuple[str, str | None], ...] = (
    ("test_browser_layout.py", "01_kernel_explorer.ipynb"),
    ("test_browser_linked_explorer.py", None),
    ("test_browser_explorer.py", None),  # its last test reloads the page
    ("test_browser_layout.py", "02_flops_lab.ipynb"),
    ("test_browser_flops_lab.py", None),
    ("test_browser_layout.py", "03_train_cifar10.ipynb"),
    ("test_browser_training.py", None),
    ("test_browser_layout.py", "04_best_p.ipynb"),
)
"""The order of the browser tests that use ``lab_notebooks``, by test file and (for the
layout check, one test per notebook) notebook; within a file, the file's order. The other
browser tests follow in their usual order."""


def _shared_lab_rank(item: pytest.Item) -> int:
    callspec = getattr(item, "callspec", None)
    notebook = callspec.params.get("notebook") if callspec else None
    for rank, (module, wanted) in enumerate(SHARED_LAB_ORDER):
        if item.path.name == module and wanted in (None, notebook):
            return rank
    return len(SHARED_LAB_ORDER)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests in :data:`SHARED_LAB_ORDER` (one notebook open at a time in the shared
    JupyterLab); every other test keeps its place."""
    slots = [i for i, item in enumerate(items) if item.path.name.startswith("test_browser_")]
    ordered = sorted((items[i] for i in slots), key=_shared_lab_rank)  # stable: file order kept
    for slot, item in zip(slots, ordered, strict=True):
        items[slot] = item


@pytest.fixture(scope="session")
def lab_notebooks(tmp_path_factory: pytest.TempPathFactory):
    """The browser tests' shared JupyterLab (:class:`browser_harness.LabSession`) on a fake
    CIFAR-10 (2,000 training and 200 test images: notebook 03's test trains on 2,000), with a
    runs folder of its own, in CI mode (``HETCONV_EDU_CI=1``: tiny automatic runs)."""
    from browser_harness import lab_session

    root = tmp_path_factory.mktemp("lab-session")
    write_fake_cifar10(root / "data", n_train=2000, n_test=200, seed=0)
    env = {
        "HETCONV_EDU_CI": "1",
        "HETCONV_EDU_DATA": str(root / "data"),
        "HETCONV_EDU_RUNS": str(root / "runs"),
    }
    with lab_session(env=env) as session:
        yield session


@pytest.fixture(scope="module", autouse=True)
def _widgets_closed():
    """Close every ipywidget a test module left open, at its end, and collect them.

    ipywidgets holds every widget until it is closed, and the projector style restyles every
    live figure of the process on a switch (:func:`hetconv_edu.viz.style.set_projector`), so
    each module's switches restyled the apps of all the modules before it on that worker:
    the apps and viz tests took 314 s in one process, 64 s with this (test_viz_style.py: 9 s
    alone, 450 s after all the other modules)."""
    yield
    module = sys.modules.get("ipywidgets")
    if module is not None:
        module.Widget.close_all()
        gc.collect()


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    threads = torch.get_num_threads()
    yield
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fake-cifar")
    write_fake_cifar10(root, n_train=256, n_test=128, seed=0)
    return root


@pytest.fixture(scope="session")
def dataset(data_root: Path) -> ImageDataset:
    return load_dataset("cifar10", data_root, download=False)


@pytest.fixture(scope="module")
def cifar_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fake ``cifar-10-python.tar.gz`` in a folder of its own (to serve or copy)."""
    return write_fake_cifar10(tmp_path_factory.mktemp("served"), as_archive=True)


@pytest.fixture(scope="module")
def cifar(tmp_path_factory: pytest.TempPathFactory) -> ImageDataset:
    """The fake CIFAR-10 (500 train, 100 test), loaded from an extracted folder."""
    root = tmp_path_factory.mktemp("cifar")
    write_fake_cifar10(root)
    return load_cifar10(root, download=False)
