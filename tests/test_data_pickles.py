"""The restricted unpickler (:mod:`hetconv_edu.data.pickles`) through ``load_cifar10``: tampered
pickles are refused and run nothing; every pickle protocol of Python 2 and 3, numpy 1 and 2,
loads."""

from __future__ import annotations

import builtins
import codecs
import functools
import io
import os
import pickle
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from hetconv_edu import data
from hetconv_edu.data import DataIntegrityError, ImageDataset, cifar10, load_cifar10
from tests.datasets import python2_pickle, write_fake_cifar10


class _Call:
    """Pickles as a call of ``function(*arguments)``: what a malicious pickle does."""

    def __init__(self, function: Any, *arguments: Any) -> None:
        self.function, self.arguments = function, arguments

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.function, self.arguments


def touch(path: str) -> None:
    """An arbitrary callable of this module, as a pickle could name any."""
    Path(path).touch()


GADGETS = {
    "os.system": lambda marker: _Call(os.system, f"touch {marker}"),
    "builtins.eval": lambda marker: _Call(builtins.eval, f"open({str(marker)!r}, 'w')"),
    "builtins.exec": lambda marker: _Call(builtins.exec, f"open({str(marker)!r}, 'w').close()"),
    "subprocess.Popen": lambda marker: _Call(subprocess.Popen, ["touch", str(marker)]),
    "numpy.load": lambda marker: _Call(np.load, str(marker), None, True),
    "numpy.save": lambda marker: _Call(np.save, str(marker), 0),
    "any callable": lambda marker: _Call(touch, str(marker)),
}


@pytest.mark.parametrize("protocol", ["python 2", 0, 2, 4, 5])
@pytest.mark.parametrize("gadget", GADGETS)
def test_a_tampered_pickle_is_refused_runs_nothing_and_names_the_cause(
    gadget: str, protocol: Any, tmp_path: Path
) -> None:
    folder = write_fake_cifar10(tmp_path, n_train=50, n_test=20)
    marker = tmp_path / "pwned.npy"
    np.save(marker, np.zeros(1))  # what numpy.load would read
    marker_before = marker.read_bytes()
    call = GADGETS[gadget](marker)
    tampered = {b"data": call, b"labels": [0]}
    pickled = (
        python2_pickle(tampered) if protocol == "python 2" else pickle.dumps(tampered, protocol)
    )
    (folder / "data_batch_1").write_bytes(pickled)
    function = call.function
    full_name = f"{function.__module__}.{function.__qualname__}"
    with pytest.raises(DataIntegrityError, match="refused") as raised:
        load_cifar10(tmp_path, download=False)
    message = str(raised.value)
    assert f"{folder / 'data_batch_1'} asks for the Python object " in message
    assert f"{full_name}," in message or f"Python 3's {full_name})," in message
    assert marker.read_bytes() == marker_before
    assert sorted(path.name for path in tmp_path.iterdir()) == [data.CIFAR10_FOLDER, "pwned.npy"]


@pytest.mark.parametrize(
    ("call", "complaint"),
    [
        (_Call(codecs.encode, "import os", "rot13"), "only allowed to rebuild bytes from latin-1"),
        (_Call(codecs.encode, b"x", "base64"), "only allowed to rebuild bytes from latin-1"),
        (_Call(bytes, 1 << 40), "bytes is only allowed without arguments"),
    ],
    ids=["rot13", "base64", "bytes(1 TiB)"],
)
def test_the_allowed_bytes_helpers_do_nothing_else(
    call: Any, complaint: str, tmp_path: Path
) -> None:
    folder = write_fake_cifar10(tmp_path, n_train=50, n_test=20)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": call}, protocol=2))
    with pytest.raises(DataIntegrityError, match=complaint):
        load_cifar10(tmp_path, download=False)


def repickle(folder: Path, dumps: Any) -> None:
    """Rewrite every pickle of a (trusted, fake) ``cifar-10-batches-py/`` with ``dumps``."""
    for name in cifar10._CIFAR10_FILES:
        with (folder / name).open("rb") as handle:
            content = pickle.load(handle, encoding="bytes")
        (folder / name).write_bytes(dumps(content))


class _RenamingPickler(pickle._Pickler):
    """Names numpy's array and scalar functions under numpy 1's module ``numpy.core``, as
    batches pickled with numpy 1 do."""

    def save_global(self, obj: Any, name: str | None = None) -> None:
        module = getattr(obj, "__module__", "")
        if module.startswith("numpy._core."):
            self.save(module.replace("numpy._core.", "numpy.core."))
            self.save(obj.__name__)
            self.write(pickle.STACK_GLOBAL)
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def numpy1_dumps(obj: Any) -> bytes:
    buffer = io.BytesIO()
    _RenamingPickler(buffer, protocol=5).dump(obj)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "dumps",
    [
        *(functools.partial(pickle.dumps, protocol=p) for p in range(pickle.HIGHEST_PROTOCOL + 1)),
        numpy1_dumps,
    ],
    ids=[*(f"protocol {p}" for p in range(pickle.HIGHEST_PROTOCOL + 1)), "numpy 1 protocol 5"],
)
def test_batches_pickled_by_python_3_with_any_protocol_load(
    dumps: Any, cifar: ImageDataset, tmp_path: Path
) -> None:
    folder = write_fake_cifar10(tmp_path)
    repickle(folder, dumps)
    dataset = load_cifar10(tmp_path, download=False)
    assert torch.equal(dataset.train_images, cifar.train_images)
    assert torch.equal(dataset.test_labels, cifar.test_labels)
    assert dataset.classes == cifar.classes


def test_labels_stored_as_numpy_integers_load(cifar: ImageDataset, tmp_path: Path) -> None:
    folder = write_fake_cifar10(tmp_path)
    with (folder / "test_batch").open("rb") as handle:
        batch = pickle.load(handle, encoding="bytes")
    batch[b"labels"] = list(np.asarray(batch[b"labels"], dtype=np.int64))  # numpy scalars
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=4))
    assert torch.equal(load_cifar10(tmp_path, download=False).test_labels, cifar.test_labels)
