"""A restricted unpickler for CIFAR-10's batch pickles.

It builds numpy arrays, numpy scalars, bytes, numbers, lists and dicts and nothing else: a
pickle naming any other Python object (``os.system``, ``builtins.eval``, ...) is refused before
anything in it runs. Reads pickle protocols 0 to 5 written by Python 2 or 3 with numpy 1 or 2.
"""

from __future__ import annotations

import _compat_pickle
import io
import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from hetconv_edu.data.errors import DataIntegrityError

_NUMPY_CORES = ("core", "_core")


def _latin1_bytes(text: object, encoding: object) -> bytes:
    """What Python 3's pickle protocols 0-2 call to rebuild a bytes object
    (``_codecs.encode(text, "latin1")``), and nothing else ``codecs.encode`` can do."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(
            f"_codecs.encode is only allowed to rebuild bytes from latin-1 text, got "
            f"{type(text).__name__} and encoding {encoding!r}"
        )
    return text.encode("latin-1")


def _empty_bytes(*arguments: object) -> bytes:
    """What Python 3's pickle protocols 0-2 call to rebuild ``b""`` (``bytes()``)."""
    if arguments:
        raise pickle.UnpicklingError(
            "builtins.bytes is only allowed without arguments (to rebuild b'')"
        )
    return b""


_NUMPY_RECONSTRUCT = np.ndarray.__reduce__(np.empty(0))[0]
_NUMPY_FROMBUFFER = np.empty(1).__reduce_ex__(5)[0]
_NUMPY_SCALAR = np.int64(0).__reduce__()[0]
_CIFAR_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    **{(f"numpy.{core}.multiarray", "_reconstruct"): _NUMPY_RECONSTRUCT for core in _NUMPY_CORES},
    **{(f"numpy.{core}.numeric", "_frombuffer"): _NUMPY_FROMBUFFER for core in _NUMPY_CORES},
    **{(f"numpy.{core}.multiarray", "scalar"): _NUMPY_SCALAR for core in _NUMPY_CORES},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_bytes,
    ("builtins", "bytes"): _empty_bytes,
    ("__builtin__", "bytes"): _empty_bytes,
}
"""Every global a pickle of numpy arrays, numpy scalars and bytes names, in pickle protocols 0 to
5 written by Python 2 or 3 with numpy 1 (``numpy.core``) or 2 (``numpy._core``): the functions
that rebuild data, none that can run code. ``_codecs.encode`` and ``bytes`` are narrowed to
the one use pickle makes of them."""


class _CifarUnpickler(pickle.Unpickler):
    """Reads CIFAR-10 batch pickles, building numpy arrays, bytes and numbers and nothing else.

    Lists, dicts, bytes and ints come from pickle opcodes; every other object must be looked up
    through :meth:`find_class`, which knows only :data:`_CIFAR_SAFE_GLOBALS`. A pickle that
    names anything else (``os.system``, ``builtins.eval``, ...) is refused before it runs.
    """

    def __init__(self, file: BinaryIO, source: Path, official_url: str) -> None:
        super().__init__(file, encoding="bytes")
        self._source = source
        self._official_url = official_url

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _CIFAR_SAFE_GLOBALS:
            return _CIFAR_SAFE_GLOBALS[(module, name)]
        named = f"{module}.{name}"
        module3, name3 = _compat_pickle.NAME_MAPPING.get(
            (module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name)
        )
        if f"{module3}.{name3}" != named:
            named += f" (Python 3's {module3}.{name3})"
        raise DataIntegrityError(
            f"{self._source} asks for the Python object {named}, which is not needed to "
            f"rebuild numpy arrays, lists, bytes or numbers and could run code; refused to load "
            f"it (nothing in it was run). If you wrote this file, store the batch as a dict of "
            f"numpy arrays, lists of ints and bytes (any pickle protocol works); otherwise it "
            f"is damaged or was tampered with: replace {self._source.parent} with the folder "
            f"extracted from the official archive ({self._official_url})."
        )


def unpickle(data: bytes, path: Path, official_url: str) -> dict:
    """One CIFAR-10 pickle (the bytes of ``path``) as a dict, read with :class:`_CifarUnpickler`.

    ``official_url`` is the official archive's address, named in the message that refuses a
    pickle asking for anything but data.

    Raises:
        DataIntegrityError: the pickle names a forbidden global, is truncated or damaged, or
            does not hold a dict.
    """
    try:
        content = _CifarUnpickler(io.BytesIO(data), path, official_url).load()
    except DataIntegrityError:
        raise
    except Exception as error:
        raise DataIntegrityError(
            f"{path} could not be read as a CIFAR-10 pickle ({type(error).__name__}: {error}); "
            f"it is truncated or damaged. Replace {path.parent} with the folder extracted from "
            f"the official archive (move it away and the loader extracts or downloads it again)."
        ) from error
    if not isinstance(content, dict):
        raise DataIntegrityError(
            f"{path} holds a {type(content).__name__}, not the dict of a CIFAR-10 batch; "
            f"move the folder {path.parent} away or replace it with a good copy"
        )
    return content
