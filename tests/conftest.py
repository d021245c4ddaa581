"""Fixtures shared by several test modules: a tiny generated CIFAR-10 in the official format.

``data_root`` is a folder holding it (256 training and 128 test images, seed 0) and ``dataset``
the same data loaded; a module that needs other sizes defines its own ``data_root``.
``cifar_archive`` and ``cifar`` are the data tests' fake archive (to serve or copy) and fake
CIFAR-10 (500 train, 100 test), one per test module.

Every test leaves torch's thread count as it found it (the command line's ``--threads`` and the
trainers set it for the whole process; a later test must not inherit 64 threads).

Run in parallel (``make test``: pytest-xdist's ``-n 2 --dist loadscope``), the browser tests
that share one JupyterLab (``lab_notebooks``, :class:`browser_harness.LabSession`: each
notebook is run there once per session, its page shared by the tests that read it) go to one
worker, one after the other, ordered by notebook (:data:`SHARED_LAB_ORDER`: the layout check
first, on the lesson's starting state; then the tests that move controls; a reload last).
Each drives a slowed Chromium with two CPU-bound processes beside its kernel (the slow-device
condition). The other worker takes the other test modules, a module at a time (its module
fixtures are made once); the browser files with servers of their own come last
(:data:`LATER_BROWSER_FILES`), to whichever worker is free.
"""

from __future__ import annotations

import gc
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

from hetconv_edu.data import ImageDataset, load_cifar10, load_dataset
from tests.datasets import write_fake_cifar10

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
layout check, one test per notebook) notebook; within a file, the file's order."""

SHARED_LAB_FILES = frozenset(module for module, _ in SHARED_LAB_ORDER)

LATER_BROWSER_FILES = (
    "test_browser_voila.py",
    "test_browser_voila_apps.py",
    "test_browser_best_p.py",
    "test_browser_site.py",
)
"""The browser test files with a server (or page) of their own, longest first: they run after
the other tests, each a scope of its own (each notebook of test_browser_voila_apps.py too)."""


def _scope(nodeid: str) -> str:
    """The xdist scope of a test: ``browser-lab`` for every test of the shared JupyterLab,
    each test of test_browser_voila_apps.py its own, else its module."""
    module = nodeid.split("::", 1)[0]
    name = Path(module).name
    if name in SHARED_LAB_FILES:
        return "browser-lab"
    return nodeid if name == "test_browser_voila_apps.py" else module


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """With ``--dist loadscope`` (``make test``): scopes by :func:`_scope`, handed out in the
    order of the collection (:func:`pytest_collection_modifyitems`), not by size. So one
    worker starts on the shared JupyterLab's tests (the longest chain, one after the other:
    they share one page per notebook), the other on the other modules, largest first, and the
    browser files with servers of their own come last, each to whichever worker is free. Two
    browsers run side by side only then. (pytest-xdist's ``loadgroup`` would group by marker,
    but it renames test ids in a way pytest 9 no longer reads.)"""
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BrowserScopes(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _scope(nodeid)

    config.option.loadscopereorder = False
    return BrowserScopes(config, log)


def _shared_lab_rank(item: pytest.Item) -> int:
    callspec = getattr(item, "callspec", None)
    notebook = callspec.params.get("notebook") if callspec else None
    for rank, (module, wanted) in enumerate(SHARED_LAB_ORDER):
        if item.path.name == module and wanted in (None, notebook):
            return rank
    return len(SHARED_LAB_ORDER)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The order of the run: the shared JupyterLab's tests (:data:`SHARED_LAB_ORDER`: one
    notebook open at a time), the other modules by their number of tests, largest first (what
    xdist's loadscope did), then :data:`LATER_BROWSER_FILES`."""
    modules = [item.nodeid.split("::", 1)[0] for item in items]
    sizes = Counter(modules)
    first = {module: modules.index(module) for module in sizes}

    def order(item: pytest.Item) -> tuple[int, int, int]:
        module, name = item.nodeid.split("::", 1)[0], item.path.name
        if name in SHARED_LAB_FILES:
            return (0, _shared_lab_rank(item), 0)
        if not name.startswith("test_browser_"):
            return (1, -sizes[module], first[module])
        later = LATER_BROWSER_FILES.index(name) if name in LATER_BROWSER_FILES else 99
        return (2, later, first[module])

    items.sort(key=order)  # stable: a file's own order is kept


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
