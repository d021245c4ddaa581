"""One network that holds every per-layer choice of P: nested masks over shared dense weights.

When P divides P′, the K×K positions of P′ are a subset of those of P: (m − n) mod P′ = 0 implies
(m − n) mod P = 0 (and, in the grouped arrangement, a block of P′ lies inside a block of P). So a
layer can keep one dense K×K weight and a mask per choice of a divisor chain (1, 2, 4, 8, ...);
the mask of a larger P keeps fewer weights, all of them shared with the smaller ones. This is
the superkernel idea of Single-Path NAS (Stamoulis et al., 2019), applied to P instead of the
kernel size.

:class:`SuperNet` wraps a model of :mod:`hetconv_edu.models` with a :class:`NestedHetConv2d` in
every switchable slot. :class:`SuperNetTrainer` trains it with the training engine, each step
averaging the loss of the largest network (every layer at its smallest P), the smallest (every
layer at its largest P) and one random configuration: the "sandwich rule" of Once-for-All (Cai
et al., 2020). Afterwards any configuration is evaluated without retraining, once the batch-norm
statistics are re-estimated for it (:func:`recalibrate_batchnorm`), and :meth:`SuperNet.export`
turns it into an ordinary network of :class:`~hetconv_edu.layers.HetConv2d` layers computing the
same outputs.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hetconv_edu.checks import check_choice
from hetconv_edu.data import ImageDataset
from hetconv_edu.layers import (
    Arrangement,
    HetConv2d,
    MaskedHetConv2d,
    Padding,
    hetconv_mask,
)
from hetconv_edu.models import build_model, conv_slots, slot_module_names
from hetconv_edu.pattern import arrangements_coincide
from hetconv_edu.study.search import check_divisor_chain
from hetconv_edu.train import Callback, TrainConfig, Trainer

__all__ = [
    "NestedHetConv2d",
    "SuperNet",
    "SuperNetTrainer",
    "power_of_two_choices",
    "recalibrate_batchnorm",
]

Config = tuple[int, ...]


class NestedHetConv2d(MaskedHetConv2d):
    """A HetConv layer whose P can be switched among ``choices`` (a divisor chain), all sharing
    one dense (N, M, K, K) ``weight``: the forward pass is the masked dense convolution of
    :class:`~hetconv_edu.layers.MaskedHetConv2d` with the mask of the active P (:attr:`p`,
    changed with :meth:`set_p`). It does standard-convolution work whatever P is.
    """

    family = "hetconv"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        choices: Sequence[int],
        stride: int | tuple[int, int] = 1,
        padding: Padding = None,
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
        arrangement: Arrangement = "grouped",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        chain = check_divisor_chain(
            in_channels, out_channels, choices, name=f"layer {in_channels}→{out_channels}"
        )
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            p=chain[0],
            stride=stride,
            padding=padding,
            dilation=dilation,
            bias=bias,
            device=device,
            dtype=dtype,
        )
        self.choices = chain
        self.arrangement = arrangement
        shape = (self.in_channels, self.out_channels, self.kernel_size)
        # All choices' (N, M, K, K) masks stacked along the filters: 4-D, so memory formats apply.
        masks = torch.cat([torch.from_numpy(hetconv_mask(*shape, q, arrangement)) for q in chain])
        self.register_buffer("masks", masks.to(device=device, dtype=dtype), persistent=False)
        self.set_p(chain[0])

    def function_settings(self) -> dict[str, str | int]:
        """``{"layer": "NestedHetConv2d", "arrangement": ...}``, recorded in the state dict:
        the arrangement decides every choice's mask; the active P is not a setting."""
        return {"layer": "NestedHetConv2d", "arrangement": self.arrangement}

    def _unrecorded_is_ambiguous(self) -> bool:
        m, n = self.in_channels, self.out_channels
        return not all(arrangements_coincide(m, n, q) for q in self.choices)

    def set_p(self, p: int) -> None:
        """Make ``p`` (one of :attr:`choices`) the active P."""
        p = _check_p(f"layer {self.in_channels}→{self.out_channels}", p, self.choices)
        self.p = p
        n = self.out_channels
        i = self.choices.index(p)
        self.mask = self.masks[i * n : (i + 1) * n]

    def _apply(self, fn, recurse=True):  # keep ``mask`` a view of ``masks`` after .to()/.cuda()
        super()._apply(fn, recurse)
        self.set_p(self.p)
        return self

    def to_hetconv(self, p: int | None = None) -> HetConv2d:
        """An ordinary :class:`~hetconv_edu.layers.HetConv2d` (same arrangement) with this
        layer's effective weights at ``p`` (default the active P): same outputs."""
        where = f"layer {self.in_channels}→{self.out_channels}"
        p = self.p if p is None else _check_p(where, p, self.choices)
        layer = HetConv2d(
            self.in_channels,
            self.out_channels,
            self.kernel_size,
            p=p,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            bias=self.bias is not None,
            arrangement=self.arrangement,
            device=self.weight.device,
            dtype=self.weight.dtype,
        )
        layer.load_dense_weight_(self.weight)
        if self.bias is not None:
            with torch.no_grad():
                layer.bias.copy_(self.bias)
        return layer

    def extra_repr(self) -> str:
        return (
            f"{self._settings_repr()}, choices={list(self.choices)}, p={self.p}, "
            f"arrangement={self.arrangement!r}, weight-sharing"
        )


def power_of_two_choices(in_channels: int, out_channels: int, largest: int | None = None) -> Config:
    """1, 2, 4, ... up to the largest power of two that divides both channel counts (and is at
    most ``largest``): the longest divisor chain of powers of two this layer allows."""
    chain, p = [1], 2
    while in_channels % p == 0 and out_channels % p == 0 and (largest is None or p <= largest):
        chain.append(p)
        p *= 2
    return tuple(chain)


class SuperNet(nn.Module):
    """A model of :data:`hetconv_edu.models.MODELS` with a :class:`NestedHetConv2d` in every
    switchable slot.

    Args:
        model: the network's name (``"small_vgg"``, ...).
        choices: the P values every layer may take (a divisor chain, e.g. ``(1, 2, 4, 8)``), or
            one such sequence per slot. A layer that cannot take them raises ``ValueError``
            naming the values it allows. None: :func:`power_of_two_choices` of each layer.
        seed: initial weights: those of ``build_model(model, "standard", seed=seed)``, the
            nested layers starting from the standard convolutions' weights.
        num_classes, in_channels, arrangement, model_kwargs: as :func:`build_model`.
    """

    def __init__(
        self,
        model: str = "small_vgg",
        choices: Sequence[int] | Sequence[Sequence[int]] | None = None,
        *,
        seed: int | None = 0,
        num_classes: int = 10,
        in_channels: int = 3,
        arrangement: Arrangement = "grouped",
        **model_kwargs: object,
    ) -> None:
        super().__init__()
        self.name = model
        self.arrangement = arrangement
        self.build_kwargs = {"num_classes": num_classes, "in_channels": in_channels, **model_kwargs}
        self.model = build_model(
            model, "standard", seed=seed, arrangement=arrangement, **self.build_kwargs
        )
        self.slots = conv_slots(self.model)
        self.slot_names = slot_module_names(self.model)
        if choices is None:
            per_layer = [power_of_two_choices(s.in_channels, s.out_channels) for s in self.slots]
        elif all(isinstance(c, int) for c in choices):
            per_layer = [tuple(choices)] * len(self.slots)
        else:
            per_layer = [tuple(c) for c in choices]
            if len(per_layer) != len(self.slots):
                raise ValueError(
                    f"{model} has {len(self.slots)} switchable layers, got choices for "
                    f"{len(per_layer)}"
                )
        for slot, name, layer_choices in zip(self.slots, self.slot_names, per_layer, strict=True):
            standard = self.model.get_submodule(name)
            chain = check_divisor_chain(
                slot.in_channels,
                slot.out_channels,
                layer_choices,
                name=f"layer {slot.index + 1} of {model}",
            )
            nested = NestedHetConv2d(
                slot.in_channels,
                slot.out_channels,
                3,
                choices=chain,
                stride=slot.stride,
                bias=standard.bias is not None,
                arrangement=arrangement,
            )
            with torch.no_grad():
                nested.weight.copy_(standard.weight)
                if standard.bias is not None:
                    nested.bias.copy_(standard.bias)
            _replace_module(self.model, name, nested)

    @property
    def layers(self) -> tuple[NestedHetConv2d, ...]:
        """The nested layers, in slot order."""
        return tuple(self.model.get_submodule(name) for name in self.slot_names)

    @property
    def choices(self) -> tuple[Config, ...]:
        """Each layer's choices of P."""
        return tuple(layer.choices for layer in self.layers)

    @property
    def config(self) -> Config:
        """The active P of every layer."""
        return tuple(layer.p for layer in self.layers)

    def largest(self) -> Config:
        """Every layer at its smallest P: the most K×K kernels, the reference configuration."""
        return tuple(c[0] for c in self.choices)

    def smallest(self) -> Config:
        """Every layer at its largest P: the fewest K×K kernels."""
        return tuple(c[-1] for c in self.choices)

    def sample(self, rng: random.Random) -> Config:
        """A configuration drawn uniformly, each layer's P independently."""
        return tuple(rng.choice(c) for c in self.choices)

    def check_config(self, config: Sequence[int]) -> Config:
        """``config`` as a tuple, or ``ValueError`` saying which layer cannot take its value."""
        config = tuple(config)
        if len(config) != len(self.slots):
            raise ValueError(
                f"a configuration of {self.name} has one P per switchable layer "
                f"({len(self.slots)}), got {len(config)}: {list(config)}"
            )
        return tuple(
            _check_p(f"layer {i + 1} of {self.name}", p, choices)
            for i, (p, choices) in enumerate(zip(config, self.choices, strict=True))
        )

    def configure(self, config: Sequence[int]) -> None:
        """Make ``config`` (one P per switchable layer) the active configuration."""
        for layer, p in zip(self.layers, self.check_config(config), strict=True):
            layer.set_p(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def export(self, config: Sequence[int] | None = None) -> nn.Module:
        """An ordinary network of :func:`~hetconv_edu.models.build_model` with ``hetconv:P``
        layers (default: the active configuration), holding this network's effective weights
        and batch-norm statistics: in eval mode it gives the same outputs."""
        config = self.config if config is None else self.check_config(config)
        exported = build_model(
            self.name,
            [f"hetconv:{p}" for p in config],
            seed=None,
            arrangement=self.arrangement,
            **self.build_kwargs,
        )
        state = {
            key: value
            for key, value in self.model.state_dict().items()
            if key.rpartition(".")[0] not in self.slot_names
        }
        missing, unexpected = exported.load_state_dict(state, strict=False)
        slot_keys = {k for k in missing if k.rpartition(".")[0] in self.slot_names}
        if unexpected or set(missing) != slot_keys:
            raise RuntimeError(f"export mismatch: missing {missing}, unexpected {unexpected}")
        for name, layer, p in zip(self.slot_names, self.layers, config, strict=True):
            parent, _, attr = name.rpartition(".")
            setattr(
                exported.get_submodule(parent) if parent else exported, attr, layer.to_hetconv(p)
            )
        device = next(self.parameters()).device
        return exported.to(device).train(self.training)


def _check_p(where: str, p: object, choices: Sequence[int]) -> int:
    """``p`` as an int if it is one of ``choices`` (2.0 and True are not), else ``ValueError``
    saying which layer takes which values."""
    try:
        return int(check_choice("P", p, choices))
    except ValueError:
        raise ValueError(
            f"{where} takes P ∈ {{{', '.join(map(str, choices))}}}, got {p!r}"
        ) from None


def _replace_module(root: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, attr = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, attr, module)


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Re-estimate every batch norm's running mean and variance of ``model`` as the exact mean
    and (unbiased) variance of its inputs over all of ``batches`` (input tensors ready for the
    model; sizes may differ), then leave the model in eval mode. A weight-sharing network needs
    this for each configuration: the statistics gathered in training mix all the configurations
    trained. Returns the number of images seen."""
    norms = [
        m
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    ]
    momenta = [m.momentum for m in norms]
    # Per batch norm: [count, mean, sum of squared deviations] per channel, float64, merged
    # batch by batch (Chan et al.'s pairwise update), so every input counts the same.
    stats: dict[nn.Module, list] = {m: [0, 0.0, 0.0] for m in norms}

    def accumulate(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0].detach().double().transpose(0, 1).reshape(inputs[0].shape[1], -1)
        count, mean = x.shape[1], x.mean(1)
        squares = (x - mean[:, None]).square().sum(1)
        total = stats[module]
        seen = total[0] + count
        delta = mean - total[1]
        total[1] = total[1] + delta * (count / seen)
        total[2] = total[2] + squares + delta.square() * (total[0] * count / seen)
        total[0] = seen

    handles = [m.register_forward_pre_hook(accumulate) for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    seen = 0
    try:
        for x in batches:
            model(x)
            seen += len(x)
    finally:
        for handle in handles:
            handle.remove()
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.eval()
    if seen == 0:
        raise ValueError("recalibrate_batchnorm needs at least one batch")
    for m, (count, mean, squares) in stats.items():
        if count > 1:
            m.running_mean.copy_(mean)
            m.running_var.copy_(squares / (count - 1))
    return seen


class SuperNetTrainer(Trainer):
    """The training engine (:class:`~hetconv_edu.train.Trainer`) on a :class:`SuperNet`: same
    data, schedule, checkpoints, stop and resume. Each step averages the loss of the largest
    configuration, the smallest and ``random_configs`` random ones (the sandwich rule), so one
    step costs about 2 + ``random_configs`` forward and backward passes of the standard network.
    The random configurations depend only on the seed and the step (resume gives the same).

    The config's ``conv`` is ignored; ``choices`` are those of :class:`SuperNet`. Epoch test
    accuracy is that of the largest configuration with the shared batch-norm statistics.
    """

    def __init__(
        self,
        config: TrainConfig,
        dataset: ImageDataset | None = None,
        *,
        choices: Sequence[int] | Sequence[Sequence[int]] | None = None,
        random_configs: int = 1,
        resume: bool = False,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        if not isinstance(random_configs, int) or random_configs < 0:
            raise ValueError(f"random_configs must be an integer >= 0, got {random_configs!r}")
        self._choices = choices
        self.random_configs = random_configs
        super().__init__(config, dataset, resume=resume, callbacks=callbacks)

    def _build_model(self) -> SuperNet:
        c = self.config
        return SuperNet(
            c.model,
            self._choices,
            seed=c.seed,
            num_classes=self.dataset.num_classes,
            in_channels=self.dataset.in_channels,
            arrangement=c.arrangement,
            **c.model_kwargs,
        )

    def step_configs(self) -> list[Config]:
        """The configurations trained at the current step."""
        net: SuperNet = self.model
        rng = random.Random(self.config.seed * 1_000_003 + self.global_step)
        configs = [net.largest(), net.smallest()]
        configs += [net.sample(rng) for _ in range(self.random_configs)]
        return configs

    def _forward_loss(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        net: SuperNet = self.model
        losses, reference_logits = [], None
        for config in self.step_configs():
            net.configure(config)
            logits = self._train_model(images)
            losses.append(
                F.cross_entropy(logits.float(), labels, label_smoothing=self.config.label_smoothing)
            )
            if reference_logits is None:
                reference_logits = logits
        net.configure(net.largest())
        return torch.stack(losses).mean(), reference_logits

    def _costed_model(self) -> nn.Module:
        """Costs are those of the largest configuration, as an ordinary network."""
        return self.model.export(self.model.largest())
