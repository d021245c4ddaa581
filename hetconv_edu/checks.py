"""Argument checks shared by the whole package: one home for "is this a positive integer", "is
this a finite number", "is this one of the allowed values".

Pure Python (no numpy, no torch), so every layer of the package can use it. Each check returns
the value as a plain Python type (numpy scalars and 0-d arrays or tensors become ``int``,
``float`` or ``bool``) and raises ``ValueError`` naming the argument, the value given and what
is allowed, as ``torch.nn.Conv2d`` does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any

__all__ = [
    "check_bool",
    "check_choice",
    "check_int",
    "check_number",
    "check_positive_int",
    "input_refused",
    "is_out_of_memory",
    "plain",
]


def plain(value: Any) -> Any:
    """``value`` as a plain Python scalar when it is a numpy scalar, a 0-d numpy array or a
    0-d tensor (anything with ``ndim == 0`` and ``.item()``); everything else unchanged."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    return value


def check_int(name: str, value: object, minimum: int | None = None) -> int:
    """``value`` as an ``int``, or ``ValueError`` if it is not an integer ``>= minimum``.

    Booleans and floats (even ``2.0``) are refused: they compare equal to integers but are
    not counts.
    """
    value = plain(value)
    if isinstance(value, bool) or not isinstance(value, Integral):
        what = "an integer" if minimum is None else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_positive_int(name: str, value: object) -> int:
    """``value`` as an ``int``, or ``ValueError`` naming it if it is not a positive integer."""
    value = plain(value)
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_number(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    exclusive_maximum: bool = False,
) -> float:
    """``value`` as a finite ``float`` in ``[minimum, maximum]`` (``(minimum, ...`` with
    ``exclusive_minimum``, ``..., maximum)`` with ``exclusive_maximum``), or ``ValueError``
    naming it and the allowed range."""
    value = plain(value)
    low = "" if minimum is None else f"{minimum} {'<' if exclusive_minimum else '<='} "
    high = "" if maximum is None else f" {'<' if exclusive_maximum else '<='} {maximum}"
    allowed = f"a finite number{' ' if low or high else ''}{low}{name if low or high else ''}{high}"
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    if maximum is not None and (value >= maximum if exclusive_maximum else value > maximum):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return float(value)


def check_bool(name: str, value: object) -> bool:
    """``value`` as a ``bool``, or ``ValueError``: strings such as ``"no"`` are refused (they
    would read as True)."""
    value = plain(value)
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def check_choice(name: str, value: object, allowed: Iterable[Any]) -> Any:
    """``value`` if it is one of ``allowed``, else ``ValueError`` listing the allowed values.

    A bool is refused unless a bool is allowed, and a float (``2.0``) unless a non-integer is
    allowed: they compare equal to integers but are not those values.
    """
    options = list(allowed)
    value = plain(value)
    if isinstance(value, bool) and not any(isinstance(a, bool) for a in options):
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    integers = all(isinstance(a, Integral) and not isinstance(a, bool) for a in options)
    if integers and options and not isinstance(value, Integral):
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def input_refused(network: str, input_shape: Iterable[int], error: BaseException) -> ValueError:
    """The ``ValueError`` to raise when running ``network`` (a name, e.g. a class name) on an
    input of ``input_shape`` failed with ``error`` (torch's ``RuntimeError``: a map shrunk
    below a kernel, the wrong number of channels, memory that cannot be allocated). One line
    naming the network, the shape, torch's reason and what to change.
    """
    reason = " ".join(str(error).split()) or type(error).__name__
    advice = (
        "use a smaller batch or input size"
        if is_out_of_memory(error)
        else "give an input the network accepts (its channels; a height and width that its "
        "kernels and poolings do not shrink to nothing)"
    )
    return ValueError(
        f"{network} cannot run on an input of shape {tuple(input_shape)}: {reason}; {advice}"
    )


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` says memory could not be allocated: a ``MemoryError`` (numpy's
    included), torch's ``OutOfMemoryError`` (CUDA) or a ``RuntimeError`` of torch's CPU
    allocator ("can't allocate memory")."""
    text = str(error).lower()
    return isinstance(error, MemoryError) or "out of memory" in text or "allocate" in text
