"""CIFAR-10 networks with a convolution-family switch: the paper's VGG-16 and two small nets.

One ``conv`` argument chooses the family of every 3×3 convolution after the first (which stays
standard, as in the paper, since its 3 input channels admit little else): a single family for
all (``"hetconv:4"``), or a list with one entry per such layer (per-layer P, e.g.
``["hetconv:2", "hetconv:4", ...]``). HetConv layers use the ``"grouped"`` arrangement by
default: the paper's layer with each layer's channels listed group by group, which needs no
channel shuffles between layers and is the fastest (:class:`~hetconv_edu.layers.HetConv2d`).
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from hetconv_edu.layers import Arrangement, ConvSpec, make_conv, parse_conv_spec

__all__ = [
    "MODELS",
    "VGG",
    "ConvChoice",
    "ConvSlot",
    "ResNet",
    "build_model",
    "conv_slots",
    "slot_module_names",
    "small_resnet",
    "small_vgg",
    "vgg16",
]

ConvChoice = str | ConvSpec | Sequence[str | ConvSpec]

VGG16_WIDTHS: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)  # fmt: skip
"""The paper's VGG-16 for CIFAR-10 (``"M"`` is a 2×2 max-pool)."""


@dataclass(frozen=True)
class ConvSlot:
    """A 3×3 convolution whose family the ``conv`` switch chooses: its place and channels."""

    index: int
    in_channels: int
    out_channels: int
    stride: int = 1


def _resolve(conv: ConvChoice, slots: Sequence[ConvSlot], model: str) -> list[ConvSpec]:
    if isinstance(conv, str | ConvSpec):
        specs = [parse_conv_spec(conv)] * len(slots)
    else:
        specs = [parse_conv_spec(c) for c in conv]
        if len(specs) != len(slots):
            raise ValueError(
                f"{model} has {len(slots)} configurable convolutions, got a list of "
                f"{len(specs)} families; give one family for all or exactly {len(slots)}"
            )
    return specs


def _conv_block(
    spec: ConvSpec, slot: ConvSlot, arrangement: Arrangement, relu: bool = True
) -> list[nn.Module]:
    try:
        conv = make_conv(
            spec, slot.in_channels, slot.out_channels, 3, stride=slot.stride,
            arrangement=arrangement,
        )  # fmt: skip
    except ValueError as err:
        raise ValueError(
            f"convolution {slot.index} ({slot.in_channels}→{slot.out_channels} channels): {err}"
        ) from None
    layers = [conv, nn.BatchNorm2d(slot.out_channels)]
    return [*layers, nn.ReLU(inplace=True)] if relu else layers


class VGG(nn.Module):
    """VGG-style network: 3×3 conv + batch norm + ReLU blocks with max-pools, a global average
    pool (identity when the map is already 1×1) and a classifier.

    Args:
        widths: output channels of each conv, ``"M"`` for a 2×2 max-pool.
        conv: family of every conv after the first (see module docstring).
        num_classes, in_channels: data set shape (10 and 3 for CIFAR-10).
        hidden: width of a hidden linear layer in the classifier, or None for one linear layer.
        arrangement: HetConv channel arrangement, ``"grouped"`` (fast) or ``"shifted"``.
    """

    def __init__(
        self,
        widths: Sequence[int | str],
        conv: ConvChoice = "standard",
        *,
        num_classes: int = 10,
        in_channels: int = 3,
        hidden: int | None = None,
        arrangement: Arrangement = "grouped",
    ) -> None:
        super().__init__()
        convs = [w for w in widths if w != "M"]
        if not convs or any(not isinstance(w, int) or w < 1 for w in convs):
            raise ValueError(f"widths must be positive ints and 'M', got {widths!r}")
        self.slots = tuple(ConvSlot(i, a, b) for i, (a, b) in enumerate(itertools.pairwise(convs)))
        specs = _resolve(conv, self.slots, type(self).__name__)
        self.specs = tuple(specs)
        layers: list[nn.Module] = []
        current, seen_first = in_channels, False
        slot_iter = iter(zip(self.slots, specs, strict=True))
        for w in widths:
            if w == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            if not seen_first:
                first = make_conv("standard", current, w, 3)
                layers += [first, nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
                seen_first = True
            else:
                slot, spec = next(slot_iter)
                layers += _conv_block(spec, slot, arrangement)
            current = w
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        if hidden is None:
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(current, num_classes))
        else:
            self.classifier = nn.Sequential(
                nn.Flatten(),
                nn.Linear(current, hidden),
                nn.ReLU(inplace=True),
                nn.Linear(hidden, num_classes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))


class _BasicBlock(nn.Module):
    def __init__(self, convs: Sequence[nn.Module], shortcut: nn.Module) -> None:
        super().__init__()
        self.body = nn.Sequential(*convs)
        self.shortcut = shortcut
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class ResNet(nn.Module):
    """A small ResNet for CIFAR-10: a standard 3×3 stem, then one basic block (two 3×3 convs
    and a shortcut) per stage, each stage after the first halving the map with stride 2, a
    global average pool and a linear classifier. Shortcuts that change shape are standard 1×1
    convolutions (not switched: they are already pointwise)."""

    def __init__(
        self,
        widths: Sequence[int] = (32, 64, 128),
        conv: ConvChoice = "standard",
        *,
        num_classes: int = 10,
        in_channels: int = 3,
        arrangement: Arrangement = "grouped",
    ) -> None:
        super().__init__()
        if not widths or any(not isinstance(w, int) or w < 1 for w in widths):
            raise ValueError(f"widths must be positive ints, got {widths!r}")
        slots = []
        prev = widths[0]
        for stage, w in enumerate(widths):
            slots.append(ConvSlot(len(slots), prev, w, 1 if stage == 0 else 2))
            slots.append(ConvSlot(len(slots), w, w))
            prev = w
        self.slots = tuple(slots)
        self.specs = tuple(_resolve(conv, self.slots, type(self).__name__))
        self.stem = nn.Sequential(
            make_conv("standard", in_channels, widths[0], 3),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        blocks = []
        for i in range(0, len(slots), 2):
            a, b = slots[i], slots[i + 1]
            body = [
                *_conv_block(self.specs[i], a, arrangement),
                *_conv_block(self.specs[i + 1], b, arrangement, relu=False),
            ]
            if a.stride == 1 and a.in_channels == b.out_channels:
                shortcut: nn.Module = nn.Identity()
            else:
                shortcut = nn.Sequential(
                    make_conv("standard", a.in_channels, b.out_channels, 1, stride=a.stride),
                    nn.BatchNorm2d(b.out_channels),
                )
            blocks.append(_BasicBlock(body, shortcut))
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(widths[-1], num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.blocks(self.stem(x))))


def vgg16(conv: ConvChoice = "standard", **kw: object) -> VGG:
    """The paper's VGG-16 for CIFAR-10 (batch norm; classifier Linear(512, 512) → ReLU →
    Linear(512, 10)); every 3×3 conv after the first takes the family ``conv``."""
    return VGG(VGG16_WIDTHS, conv, hidden=512, **kw)


def small_vgg(conv: ConvChoice = "standard", widths: Sequence[int] = (64, 128, 256), **kw) -> VGG:
    """A small VGG-style net for class: conv(w0), pool, 2×conv(w1), pool, 2×conv(w2), pool,
    global average pool, linear. Default widths 64-128-256 (≈1.1M parameters, standard)."""
    if isinstance(widths, str) or len(widths) != 3:
        raise ValueError(f"small_vgg needs three widths (w0, w1, w2), got {widths!r}")
    w0, w1, w2 = widths
    return VGG((w0, "M", w1, w1, "M", w2, w2, "M"), conv, **kw)


def small_resnet(conv: ConvChoice = "standard", widths: Sequence[int] = (32, 64, 128), **kw):
    """A small ResNet for class (≈0.3M parameters, standard); see :class:`ResNet`."""
    return ResNet(widths, conv, **kw)


MODELS: dict[str, Callable[..., nn.Module]] = {
    "small_vgg": small_vgg,
    "small_resnet": small_resnet,
    "vgg16": vgg16,
}
"""Every network by name: ``build_model(name, conv, ...)``."""


def conv_slots(model: nn.Module) -> tuple[ConvSlot, ...]:
    """The configurable convolutions of a model built here, in order (for per-layer P)."""
    return model.slots


def slot_module_names(model: nn.Module) -> tuple[str, ...]:
    """The qualified names (``model.get_submodule(name)``) of the convolutions of
    :func:`conv_slots`, in the same order: the 3×3 convolutions after the stem."""
    names = []
    for name, module in model.named_modules():
        parent = name.rpartition(".")[0]
        inside_conv = any(parent == n or parent.startswith(n + ".") for n in names)
        size = getattr(module, "kernel_size", None)
        if not inside_conv and size in (3, (3, 3)) and hasattr(module, "in_channels"):
            names.append(name)
    slots = conv_slots(model)
    names = names[1:]
    found = [
        (model.get_submodule(n).in_channels, model.get_submodule(n).out_channels) for n in names
    ]
    if found != [(s.in_channels, s.out_channels) for s in slots]:
        raise ValueError(f"{type(model).__name__}: the 3×3 convolutions do not match its slots")
    return tuple(names)


def build_model(
    name: str,
    conv: ConvChoice = "standard",
    *,
    seed: int | None = 0,
    num_classes: int = 10,
    in_channels: int = 3,
    arrangement: Arrangement = "grouped",
    **kw: object,
) -> nn.Module:
    """Build network ``name`` (see :data:`MODELS`) with family ``conv``.

    With a ``seed``, every submodule is initialised from its own generator seeded by the seed
    and the submodule's name, so models compared with the same seed start from the same weights
    wherever their shapes agree (stem, batch norms, classifier, and every layer whose family is
    the same), whatever the other layers are.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    model = MODELS[name](
        conv, num_classes=num_classes, in_channels=in_channels, arrangement=arrangement, **kw
    )
    if seed is not None:
        for sub_name, module in model.named_modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset) and any(True for _ in module.parameters(recurse=False)):
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed * 1_000_003 + zlib.crc32(sub_name.encode()))
                    reset()
    return model
