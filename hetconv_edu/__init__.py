"""hetconv_edu: an interactive teaching package about HetConv (Singh et al., CVPR 2019).

Modules: :mod:`~hetconv_edu.pattern` (which kernel is K×K, numpy only),
:mod:`~hetconv_edu.layers` (HetConv2d and the baseline families), :mod:`~hetconv_edu.flops`
(analytic and measured cost), :mod:`~hetconv_edu.timing` (the one timer). Importing the package
only imports: no downloads, no device probing, no files written. The names below are loaded on
first use, so ``python -m hetconv_edu doctor`` runs (and reports) where torch is missing or
broken.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "HetConv2d": "hetconv_edu.layers",
    "make_conv": "hetconv_edu.layers",
    "parse_conv_spec": "hetconv_edu.layers",
    "hetconv_pattern": "hetconv_edu.pattern",
    "valid_parts": "hetconv_edu.pattern",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hetconv_edu' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
