"""Networks by name for the conversion report: the package's models and torchvision's.

``build_network("resnet18")`` builds torchvision's classification model with random weights
(``weights=None``: nothing is ever downloaded); ``build_network("small_vgg")`` the package's
standard model (:data:`hetconv_edu.models.MODELS`). Each comes with the input shape it is
meant for (:func:`default_input_shape`): 3×224×224 for torchvision's, 3×32×32 (CIFAR-10) for
the package's.

torchvision is optional (``pip install torchvision`` with the version made for the installed
torch, e.g. 0.28 for torch 2.13). :func:`import_torchvision` imports it, or raises
:class:`TorchvisionUnavailable` with what to install. It also copes with a known torchvision
bug: a torchvision whose compiled operators were built for another torch (typically the CUDA
build from PyPI next to a CPU-only torch) fails on import with "operator torchvision::nms does
not exist" (pytorch/vision#9085), although its model definitions are plain Python. Then the
two operator names its import registers are declared without a kernel, the import is retried,
and a warning says that torchvision's compiled operators (detection's NMS, RoI pooling,
deformable convolution) cannot run here; the classification models, which use none, can.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from types import ModuleType

import torch
from torch import nn

from hetconv_edu.models import MODELS, build_model

__all__ = [
    "TorchvisionUnavailable",
    "build_network",
    "default_input_shape",
    "import_torchvision",
    "torchvision_models",
]

TORCHVISION_FOR_TORCH = "0.28"
"""The torchvision release made for the torch of the lock file (2.13)."""


class TorchvisionUnavailable(RuntimeError):
    """torchvision is not installed, or cannot be imported here; the message says what to do."""


_NO_KERNEL_OPS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library: torch.library.Library | None = None


def _forget_torchvision() -> None:
    for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
        del sys.modules[name]


def import_torchvision() -> ModuleType:
    """``torchvision``, imported (see the module docstring for the operator-mismatch case).

    Raises:
        TorchvisionUnavailable: torchvision is not installed, or fails to import for another
            reason (an ``ImportError``, ``OSError`` or ``RuntimeError`` of a broken install);
            the message names the version to install.
    """
    global _library
    version = TORCHVISION_FOR_TORCH
    install = (
        f"install torchvision {version} (the release made for torch "
        f"{torch.__version__.split('+')[0]}), e.g. pip install torchvision=={version}.0"
    )
    try:
        return importlib.import_module("torchvision")
    except ModuleNotFoundError as error:
        if error.name != "torchvision":
            raise TorchvisionUnavailable(
                f"torchvision cannot be imported ({error}); {install}"
            ) from None
        raise TorchvisionUnavailable(f"torchvision is not installed; {install}") from None
    except (ImportError, OSError) as error:  # a broken install: missing symbol, bad library
        raise TorchvisionUnavailable(
            f"torchvision cannot be imported ({' '.join(str(error).split())}); {install}"
        ) from None
    except RuntimeError as error:
        if "torchvision::nms" not in str(error) or _library is not None:
            raise TorchvisionUnavailable(
                f"torchvision cannot be imported ({' '.join(str(error).split())}); {install}"
            ) from None
    _forget_torchvision()
    _library = torch.library.Library("torchvision", "DEF")
    for schema in _NO_KERNEL_OPS:
        _library.define(schema)
    module = importlib.import_module("torchvision")
    warnings.warn(
        f"torchvision {module.__version__}'s compiled operators were built for another torch "
        f"than this one ({torch.__version__}); its model definitions work, its detection "
        "operators (NMS, RoI pooling) cannot run here",
        stacklevel=2,
    )
    return module


def torchvision_models() -> list[str]:
    """The names of torchvision's image-classification models (``resnet18``, ``vgg11``, ...).

    Raises:
        TorchvisionUnavailable: as :func:`import_torchvision`.
    """
    tv = import_torchvision()
    return sorted(tv.models.list_models(module=tv.models))


def default_input_shape(name: str) -> tuple[int, int, int, int]:
    """The shape (1, C, H, W) of one input to network ``name``: (1, 3, 32, 32) for the
    package's CIFAR-10 models, (1, 3, 224, 224) for torchvision's."""
    return (1, 3, 32, 32) if name in MODELS else (1, 3, 224, 224)


def build_network(name: str) -> nn.Module:
    """Network ``name`` with random weights, standard convolutions, in eval mode: one of the
    package's models (``small_vgg``, ``small_resnet``, ``vgg16``; seed 0) or a torchvision
    classification model (``weights=None``; never downloads anything).

    Raises:
        ValueError: ``name`` is neither (the message lists the package's models and, when
            torchvision imports, says how to list its models).
        TorchvisionUnavailable: ``name`` is not a package model and torchvision cannot be
            imported.
    """
    if not isinstance(name, str):
        raise ValueError(f"name must be a network name such as 'resnet18', got {name!r}")
    if name in MODELS:
        return build_model(name, "standard").eval()
    ours = ", ".join(sorted(MODELS))
    try:
        available = torchvision_models()
    except TorchvisionUnavailable as error:
        raise TorchvisionUnavailable(
            f"{name!r} is not one of the package's models ({ours}), and torchvision models "
            f"need torchvision: {error}"
        ) from None
    if name not in available:
        raise ValueError(
            f"unknown network {name!r}: use one of the package's models ({ours}) or a "
            f"torchvision classification model such as resnet18, vgg11, mobilenet_v2 "
            f"({len(available)} in all: torchvision.models.list_models())"
        )
    return import_torchvision().models.get_model(name, weights=None).eval()
