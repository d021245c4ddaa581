"""How a page's data is stored: plotly figures as plain JSON, shared parts once, gzip + base64.

Three steps, each undone exactly by the page's script (``site.js``) and by :func:`unpack`:

1. :func:`figure_json` — a figure (a :class:`~hetconv_edu.viz.explorer.FigureData` or a
   ``go.Figure``) as ``{"data": [...], "layout": {...}}`` with plain JSON values: a numeric
   numpy array becomes plotly.js's typed-array form ``{"dtype": "i2", "bdata": base64}``
   (what plotly.py itself sends), a named template (``"plotly_white"``) its full definition.
2. :class:`Pool` — every list, object or long string that occurs more than once (a template,
   the kernel map's cell arrays shared by K = 3 and K = 5, an HTML style block) is stored once
   in a list, the *pool*, and replaced by ``{"$ref": index}``. Expanding every reference gives
   the value back (:func:`resolve`).
3. :func:`encode_payload` — the JSON text, gzip-compressed and base64-encoded, so that it fits
   in a ``.js`` file (a page opened from ``file://`` may load scripts, not fetch files). The
   browser inflates it with its built-in ``DecompressionStream``.

Nothing here computes anything about convolutions: it only moves numbers.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from hetconv_edu.viz.explorer import FigureData

__all__ = [
    "REF",
    "Pool",
    "decode_payload",
    "encode_payload",
    "figure_json",
    "resolve",
    "template_json",
    "typed_array",
    "typed_array_spec",
    "unpack",
]

REF = "$ref"
"""The key of a pool reference: ``{"$ref": index}`` (no plotly property is named so)."""

MIN_SHARED_CHARS = 48
"""Lists and objects whose JSON is at least this long go to the pool (shorter ones are cheaper
written out than referenced)."""

MIN_SHARED_STRING = 256
"""Strings at least this long go to the pool (an HTML table, a style block)."""

_TYPED = {
    "int8": "i1",
    "uint8": "u1",
    "int16": "i2",
    "uint16": "u2",
    "int32": "i4",
    "uint32": "u4",
    "float32": "f4",
    "float64": "f8",
}
"""numpy dtype → plotly.js typed-array code."""

_FROM_TYPED = {code: np.dtype(name).newbyteorder("<") for name, code in _TYPED.items()}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# ------------------------------------------------------------------------------ figures


def typed_array_spec(array: np.ndarray) -> Any:
    """A 1-D numeric array as plotly.js's ``{"dtype", "bdata"}`` (little-endian, base64);
    int64 narrowed as plotly.py does; anything else (text, empty, beyond int32) as a list."""
    if array.size == 0 or array.ndim != 1:
        return [_plain(v) for v in array.tolist()]
    if array.dtype.kind in "iu" and array.dtype.itemsize == 8:
        for narrow in (np.int8, np.int16, np.int32):
            info = np.iinfo(narrow)
            if info.min <= array.min() and array.max() <= info.max:
                array = array.astype(narrow)
                break
    code = _TYPED.get(str(array.dtype))
    if code is None:
        return [_plain(v) for v in array.tolist()]
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return {"dtype": code, "bdata": base64.b64encode(data.tobytes()).decode("ascii")}


def _plain(value: Any) -> Any:
    """``value`` with numpy arrays as typed-array specs, numpy scalars as Python ones and
    properties set to None left out (plotly's "not set", which plotly.py does not send)."""
    if isinstance(value, np.ndarray):
        return typed_array_spec(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


_TEMPLATES: dict[str, dict[str, Any]] = {}


def template_json(name: str) -> dict[str, Any]:
    """The full definition of plotly's template ``name`` (as ``go.Figure`` would send it).

    Raises:
        ValueError: no template has that name.
    """
    if name not in _TEMPLATES:
        if name not in pio.templates:
            raise ValueError(f"unknown plotly template {name!r}; known: {list(pio.templates)}")
        _TEMPLATES[name] = _plain(pio.templates[name].to_plotly_json())
    return _TEMPLATES[name]


def figure_json(
    figure: FigureData | go.Figure, template: Callable[[dict[str, Any]], Any] | None = None
) -> dict[str, Any]:
    """``figure`` as ``{"data": [...], "layout": {...}}`` of plain JSON values.

    Numeric arrays become typed-array specs (:data:`_TYPED` codes, little-endian, base64), a
    template name its definition (:func:`template_json`). ``template``, if given, maps the
    template's definition to what is stored instead (:meth:`Pool.constant`: one copy per pool).

    Raises:
        TypeError: ``figure`` is neither a ``FigureData`` nor a ``go.Figure``.
    """
    if isinstance(figure, FigureData):
        data = _plain(list(figure.traces))
        layout = _plain(dict(figure.layout))
    elif isinstance(figure, go.Figure):
        whole = figure.to_plotly_json()
        data, layout = _plain(whole["data"]), _plain(whole["layout"])
    else:
        raise TypeError(f"expected a FigureData or a go.Figure, got {type(figure).__name__}")
    if isinstance(layout.get("template"), str):
        layout["template"] = template_json(layout["template"])
    if template is not None and "template" in layout:
        layout["template"] = template(layout["template"])
    return {"data": data, "layout": layout}


def typed_array(value: Any) -> np.ndarray:
    """The numpy array of a typed-array spec (or of a plain list): the inverse of
    :func:`figure_json`'s encoding, for checks."""
    if isinstance(value, dict) and "bdata" in value:
        dtype = _FROM_TYPED[value["dtype"]]
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=dtype).astype(dtype.str[1:])
    return np.asarray(value)


# --------------------------------------------------------------------------------- pool


class Pool:
    """Values stored once: :meth:`intern` replaces every repeated part of a value by a
    reference into :attr:`entries`.

    Interning works bottom-up: a list or object is interned after its items, so an entry may
    itself refer to earlier entries (never to later ones).
    """

    def __init__(self) -> None:
        self.entries: list[Any] = []
        self._index: dict[str, int] = {}
        self._constants: dict[str, Any] = {}

    def _store(self, value: Any, text: str) -> dict[str, int]:
        index = self._index.get(text)
        if index is None:
            index = self._index[text] = len(self.entries)
            self.entries.append(value)
        return {REF: index}

    def intern(self, value: Any) -> Any:
        """``value`` (plain JSON: dicts, lists, str, numbers, bools, None) with every list or
        object of at least :data:`MIN_SHARED_CHARS` characters of JSON, and every string of at
        least :data:`MIN_SHARED_STRING`, replaced by a reference to its one copy."""
        if isinstance(value, dict):
            if set(value) == {REF}:
                return value  # already a reference
            value = {k: self.intern(v) for k, v in value.items()}
        elif isinstance(value, list):
            value = [self.intern(v) for v in value]
        elif isinstance(value, str):
            if len(value) < MIN_SHARED_STRING:
                return value
            return self._store(value, _canonical(value))
        else:
            return value
        text = _canonical(value)
        if len(text) < MIN_SHARED_CHARS:
            return value
        return self._store(value, text)

    def constant(self, value: Any) -> Any:
        """:meth:`intern` for a large value repeated as a whole (a template): recognised by
        its JSON text without walking it again."""
        text = _canonical(value)
        if text not in self._constants:
            self._constants[text] = self.intern(value)
        return self._constants[text]


def resolve(value: Any, entries: list[Any]) -> Any:
    """``value`` with every reference into ``entries`` expanded (new lists and dicts)."""
    if isinstance(value, dict):
        if set(value) == {REF}:
            return resolve(entries[value[REF]], entries)
        return {k: resolve(v, entries) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, entries) for v in value]
    return value


# ------------------------------------------------------------------------------ payload


def encode_payload(value: Any) -> str:
    """``value`` as compact JSON, gzip-compressed (a fixed timestamp: the same value gives the
    same text), base64-encoded."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return base64.b64encode(gzip.compress(text.encode("utf-8"), 9, mtime=0)).decode("ascii")


def decode_payload(text: str) -> Any:
    """The value :func:`encode_payload` encoded.

    Raises:
        ValueError: ``text`` is not such a payload.
    """
    try:
        return json.loads(gzip.decompress(base64.b64decode(text, validate=True)))
    except (OSError, EOFError, ValueError) as error:
        raise ValueError(f"not a page data payload: {error}") from None


def unpack(chunk: dict[str, Any]) -> dict[str, Any]:
    """A decoded chunk (``{"pool": [...], ...}``) with every reference expanded and the pool
    left out: what the page draws."""
    entries = chunk["pool"]
    return {k: resolve(v, entries) for k, v in chunk.items() if k != "pool"}
