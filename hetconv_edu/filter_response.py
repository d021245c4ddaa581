"""What one HetConv filter does to a real image: its K×K path, its 1×1 path and their sum.

The linked explorer (notebook 01) shows filter n of a HetConv layer (M input channels, N filters,
kernel K, part P, the paper's shifted arrangement) applied to a test image. Everything comes from
:meth:`hetconv_edu.layers.HetConv2d.forward_parts`, the code the layer's ``forward`` runs, so the
picture is the layer's real arithmetic:

* ``inputs`` (M, H, W): the layer's input. A HetConv layer never sees the photo itself (the
  paper keeps the first convolution standard), so the input is the image after a first standard
  3×3 layer: a trained network's own first layers (with its trained weights), else a seeded
  standard 3×3 convolution + ReLU (:func:`stem_weight`).
* ``kxk`` and ``one`` (H, W): filter n's K×K path (its M/P K×K kernels) and 1×1 path (its
  M − M/P 1×1 kernels, plus the bias); ``output = one + kxk`` is the layer's output channel n.
* ``standard`` (H, W): a standard K×K filter with the same K×K kernels and the same centre taps,
  whose other taps are kept too; ``standard − output`` is what the 1×1 kernels give up.

Weights. *Random* (:class:`RandomWeights`): filter n is a dense K×K filter drawn like
``nn.Conv2d``'s default initialisation of a standard layer (uniform ±1/√(M·K²)), seeded by
(seed, M, K, n); HetConv keeps its kernels at K×K positions and its centre taps at 1×1 positions
(:meth:`~hetconv_edu.layers.HetConv2d.load_dense_weight_`). Moving P therefore keeps every
kernel the filter still has, and the standard filter is that dense filter itself.
*Trained* (:class:`TrainedWeights`): the first HetConv layer of a run of notebook 03 (its
checkpoint), fed by that network's own first layers; its standard filter draws the missing
off-centre taps at the scale of the trained K×K kernels (seeded).

Cost. Only filter n is needed, and the shifted layer's filters n0 … n0 + P − 1 (n0 = P·⌊n/P⌋)
hold one filter of each of its P patterns in pattern order, so they form a HetConv2d(M, P, K, p=P)
of their own that computes exactly what the whole layer computes for them (a test checks it):
:class:`FilterResponder` runs that block (P filters instead of N) and keeps its result, so moving
filter n inside the block costs nothing and moving P at M = N = 512 costs one small layer.
"""

from __future__ import annotations

import contextlib
import functools
import json
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hetconv_edu.checks import check_int, check_positive_int
from hetconv_edu.data.batches import normalize
from hetconv_edu.data.samples import SampleImages
from hetconv_edu.layers import HetConv2d
from hetconv_edu.models import build_model
from hetconv_edu.pattern import Kernel, check_part, hetconv_pattern, shifted_to_grouped_permutation
from hetconv_edu.train import CHECKPOINT, TrainConfig, read_checkpoint

__all__ = [
    "MAX_RANDOM_FILTERS",
    "STEM_KERNEL",
    "FilterResponder",
    "FilterResponse",
    "RandomWeights",
    "TrainedRun",
    "TrainedWeights",
    "block_layer",
    "find_trained_runs",
    "seeded_filters",
    "stem_weight",
]

STEM_KERNEL = 3
"""Kernel size of the first (standard) layer that turns the image into the layer's input."""


@dataclass(frozen=True)
class FilterResponse:
    """Filter ``filter_index`` of a HetConv layer on one image (float32 numpy arrays).

    ``image`` is the test image (C, H, W) uint8; ``inputs`` (M, H, W) the layer's input;
    ``kxk``, ``one``, ``output``, ``standard`` (H_o, W_o) as the module says; ``input_note`` says
    in a few words what the input is, ``weights_note`` which weights the layer has.
    """

    filter_index: int
    image: np.ndarray
    image_name: str
    inputs: np.ndarray
    kxk: np.ndarray
    one: np.ndarray
    output: np.ndarray
    standard: np.ndarray
    input_note: str
    weights_note: str

    @property
    def given_up(self) -> np.ndarray:
        """``standard − output``: what the taps of a full K×K kernel at the 1×1 positions add."""
        return self.standard - self.output


# ----------------------------------------------------------------------------- weights


def _seed(*numbers: int) -> int:
    return zlib.crc32(",".join(map(str, numbers)).encode())


MAX_RANDOM_FILTERS = 512
"""Filters the random weights are drawn for (the explorer's largest N)."""


@functools.lru_cache(maxsize=2)
def _filter_stream(seed: int, in_channels: int, kernel_size: int) -> torch.Tensor:
    m, k = in_channels, kernel_size
    generator = torch.Generator().manual_seed(_seed(seed, m, k))
    bound = 1.0 / float(np.sqrt(m * k * k))
    stream = (torch.rand(MAX_RANDOM_FILTERS, m, k, k, generator=generator) * 2 - 1) * bound
    return stream.requires_grad_(False)


def seeded_filters(seed: int, in_channels: int, kernel_size: int, first: int, count: int):
    """Dense K×K weights (count, M, K, K) of filters first … first + count − 1, uniform
    ±1/√(M·K²) like ``nn.Conv2d``'s default initialisation, drawn once per (seed, M, K) for
    :data:`MAX_RANDOM_FILTERS` filters: filter n's weights are the same for every N and P.

    Raises:
        ValueError: a filter beyond :data:`MAX_RANDOM_FILTERS`.
    """
    m = check_positive_int("in_channels", in_channels)
    k = check_positive_int("kernel_size", kernel_size)
    first = check_int("first", first, minimum=0)
    count = check_positive_int("count", count)
    if first + count > MAX_RANDOM_FILTERS:
        raise ValueError(
            f"random weights are drawn for filters 0 … {MAX_RANDOM_FILTERS - 1}, "
            f"asked for up to filter {first + count - 1}"
        )
    return _filter_stream(check_int("seed", seed, minimum=0), m, k)[first : first + count]


@functools.lru_cache(maxsize=16)
def stem_weight(seed: int, image_channels: int, in_channels: int) -> torch.Tensor:
    """The seeded first layer (M, C, 3, 3) that turns a C-channel image into M input channels
    (uniform ±1/√(C·9), like ``nn.Conv2d``'s default initialisation). Read-only (cached)."""
    generator = torch.Generator().manual_seed(_seed(seed, image_channels, in_channels, -1))
    bound = 1.0 / float(np.sqrt(image_channels * STEM_KERNEL**2))
    shape = (in_channels, image_channels, STEM_KERNEL, STEM_KERNEL)
    return ((torch.rand(shape, generator=generator) * 2 - 1) * bound).requires_grad_(False)


def block_layer(dense: torch.Tensor, bias: torch.Tensor | None, p: int) -> HetConv2d:
    """The HetConv2d(M, P, K, p=P) (shifted) holding P consecutive filters n0 … n0 + P − 1
    (n0 a multiple of P) of a shifted HetConv layer, given their dense weight (P, M, K, K)
    (:meth:`~hetconv_edu.layers.HetConv2d.dense_weight`) and bias (P,) or None.

    Filter n0 + j of the whole layer has its K×K kernels where (m − n0 − j) mod P = 0, i.e.
    where (m − j) mod P = 0: where filter j of this block layer has them. So the block layer
    computes exactly those P output channels of the whole layer.

    Raises:
        ValueError: ``dense`` is not (P, M, K, K) with P dividing M, or ``bias`` not (P,).
    """
    if dense.dim() != 4 or dense.shape[0] != p or dense.shape[2] != dense.shape[3]:
        raise ValueError(f"dense must be (P={p}, M, K, K), got shape {tuple(dense.shape)}")
    m, k = dense.shape[1], dense.shape[2]
    check_part(m, p, p)
    layer = HetConv2d(m, p, k, p=p, bias=bias is not None, dtype=dense.dtype)
    with torch.no_grad():
        layer.load_dense_weight_(dense)
        if bias is not None:
            if tuple(bias.shape) != (p,):
                raise ValueError(f"bias must be ({p},), got shape {tuple(bias.shape)}")
            layer.bias.copy_(bias)
    return layer.requires_grad_(False)


class RandomWeights:
    """Seeded random weights for any layer setting, fed by a seeded first layer (see module).

    ``seed`` chooses the weights; every (M, N, K, P) has weights, so the explorer's controls
    are free.
    """

    trained = False

    def __init__(self, seed: int = 0) -> None:
        self.seed = check_int("seed", seed, minimum=0)

    @property
    def label(self) -> str:
        """What the weights are, for a selector: ``"random weights (seed 0)"``."""
        return f"random weights (seed {self.seed})"

    @property
    def input_note(self) -> str:
        """What the layer's input is, in a few words."""
        return f"image → 3×3 conv + ReLU (seed {self.seed})"

    def layer_input(self, images: SampleImages, index: int, in_channels: int) -> torch.Tensor:
        """The layer's input (M, H, W) for image ``index``: normalised, the seeded first layer,
        ReLU."""
        image = normalize(images.images[index : index + 1], images.mean, images.std)
        stem = stem_weight(self.seed, image.shape[1], in_channels)
        return F.relu(F.conv2d(image, stem, padding=STEM_KERNEL // 2))[0]

    def block(
        self, in_channels: int, kernel_size: int, p: int, n0: int
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """``(dense, bias, standard)`` of filters n0 … n0 + P − 1: the HetConv dense weight
        (P, M, K, K), no bias, and the standard filters (the seeded dense filters)."""
        standard = seeded_filters(self.seed, in_channels, kernel_size, n0, p)
        return standard, None, standard


@dataclass(frozen=True)
class TrainedRun:
    """A run of notebook 03 with a HetConv layer: its folder, name and training data set."""

    path: Path
    name: str
    dataset: str
    conv: str

    @property
    def label(self) -> str:
        return f"trained: {self.name}"


def find_trained_runs(run_dir: str | Path) -> list[TrainedRun]:
    """The runs in ``run_dir`` (notebook 03's ``runs/``) that hold a checkpoint and a HetConv
    layer, newest first, read from their ``history.json`` (the checkpoints are not opened).
    A missing folder or an unreadable history is skipped, never an error."""
    root = Path(run_dir)
    found: list[tuple[float, TrainedRun]] = []
    try:
        folders = [f for f in root.iterdir() if f.is_dir()]
    except OSError:
        return []
    for folder in folders:
        checkpoint = folder / CHECKPOINT
        try:
            config = json.loads((folder / "history.json").read_text())["config"]
            conv = config["conv"]
            convs = conv if isinstance(conv, list) else [conv]
            if not checkpoint.is_file() or not any(str(c).startswith("hetconv") for c in convs):
                continue
            run = TrainedRun(folder, folder.name, str(config["dataset"]), str(conv))
            found.append((checkpoint.stat().st_mtime, run))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return [run for _, run in sorted(found, key=lambda item: -item[0])]


class TrainedWeights:
    """The first HetConv layer of a trained run and the network layers that feed it.

    Loaded from the run's checkpoint (:func:`hetconv_edu.train.read_checkpoint`, checked). The
    models train in the ``"grouped"`` arrangement, the paper's shifted layer with its channels
    relabelled (:func:`~hetconv_edu.pattern.shifted_to_grouped_permutation`); this class
    relabels them back, the input channels (what feeds the layer) and the filters alike, so
    filter n here is the trained layer's filter at shifted position n: the same function, the
    explorer's map. ``in_channels``, ``out_channels``, ``kernel_size``, ``p``: the layer's.

    Raises:
        ValueError: the run has no HetConv layer, or its weights do not fit its config.
        hetconv_edu.train.CheckpointError: the checkpoint is damaged.
    """

    trained = True

    def __init__(self, run: TrainedRun, seed: int = 0) -> None:
        state = read_checkpoint(run.path / CHECKPOINT)
        config = TrainConfig.from_dict(state["config"])
        weights = state["model"]
        matrices = [v for k, v in weights.items() if k.endswith("weight") and v.dim() == 2]
        convs = [v for k, v in weights.items() if k.endswith("weight") and v.dim() == 4]
        if not matrices or not convs:
            raise ValueError(f"the run {run.name} holds no convolution and classifier weights")
        model = build_model(
            config.model,
            config.conv,
            seed=None,
            num_classes=int(matrices[-1].shape[0]),
            in_channels=int(convs[0].shape[1]),
            arrangement=config.arrangement,
            **config.model_kwargs,
        )
        model.load_state_dict(weights)
        model.eval().requires_grad_(False)
        layer = next((m for m in model.modules() if isinstance(m, HetConv2d)), None)
        if layer is None:
            raise ValueError(f"the run {run.name} has no HetConv layer")
        self.run = run
        self.seed = check_int("seed", seed, minimum=0)
        self.model = model
        self.layer = layer
        self.in_channels, self.out_channels = layer.in_channels, layer.out_channels
        self.kernel_size, self.p = layer.kernel_size, layer.p
        m, n, p = self.in_channels, self.out_channels, self.p
        # grouped channel j is shifted channel perm[j]
        self._perm_in = torch.from_numpy(
            shifted_to_grouped_permutation(m, p) if layer.arrangement == "grouped" else np.arange(m)
        )
        perm_out = (
            shifted_to_grouped_permutation(n, p) if layer.arrangement == "grouped" else np.arange(n)
        )
        self._perm_out = torch.from_numpy(perm_out)
        dense = layer.dense_weight().detach()
        shifted = torch.empty_like(dense)
        shifted[self._perm_out[:, None], self._perm_in[None, :]] = dense
        self.dense = shifted
        self.bias = None
        if layer.bias is not None:
            self.bias = torch.empty_like(layer.bias)
            self.bias[self._perm_out] = layer.bias.detach()
        k = self.kernel_size
        full = torch.from_numpy(hetconv_pattern(m, n, p) == Kernel.FULL)
        off_centre = torch.ones(k, k, dtype=torch.bool)
        off_centre[k // 2, k // 2] = False
        taps = self.dense[full][:, off_centre]
        self._tap_scale = float(taps.std()) if taps.numel() > 1 else 0.0

    @property
    def label(self) -> str:
        return self.run.label

    @property
    def input_note(self) -> str:
        """What the layer's input is, in a few words."""
        return f"image → the first layers of {self.run.name} (trained)"

    def fits(self, in_channels: int, out_channels: int, kernel_size: int, p: int) -> bool:
        """Whether the explorer's setting is this layer's."""
        mine = (self.in_channels, self.out_channels, self.kernel_size, self.p)
        return (in_channels, out_channels, kernel_size, p) == mine

    def layer_input(self, images: SampleImages, index: int, in_channels: int) -> torch.Tensor:
        """What the trained layer receives for image ``index`` (its network run up to it, in
        eval mode), its channels relabelled to the shifted arrangement: (M, H', W')."""
        if images.dataset != self.run.dataset:
            raise ValueError(
                f"{self.run.name} was trained on {self.run.dataset}; the images are "
                f"{images.title}: choose random weights"
            )
        captured: dict[str, torch.Tensor] = {}

        def grab(_module: nn.Module, args: tuple[Any, ...]) -> None:
            captured["x"] = args[0].detach()
            raise _Captured

        handle = self.layer.register_forward_pre_hook(grab)
        try:
            image = normalize(images.images[index : index + 1], images.mean, images.std)
            self.model(image)
        except _Captured:
            pass
        finally:
            handle.remove()
        grouped = captured["x"][0]
        shifted = torch.empty_like(grouped)
        shifted[self._perm_in] = grouped
        return shifted

    def block(
        self, in_channels: int, kernel_size: int, p: int, n0: int
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """``(dense, bias, standard)`` of filters n0 … n0 + P − 1 (shifted numbering): the
        trained dense weight and bias, and standard filters with the trained K×K kernels and
        centre taps and seeded off-centre taps at the 1×1 positions, at the scale of the trained
        K×K kernels' off-centre taps."""
        dense = self.dense[n0 : n0 + p]
        k = self.kernel_size
        generator = torch.Generator().manual_seed(_seed(self.seed, in_channels, k, n0, -2))
        # uniform with the standard deviation of the trained off-centre taps
        extra = (torch.rand(dense.shape, generator=generator) * 2 - 1) * self._tap_scale * 3**0.5
        extra[torch.from_numpy(hetconv_pattern(in_channels, p, p) == Kernel.FULL)] = 0
        extra[:, :, k // 2, k // 2] = 0  # K×K kernels and centre taps stay as trained
        return dense, None if self.bias is None else self.bias[n0 : n0 + p], dense + extra


class _Captured(Exception):
    """Stops a network's forward pass once the layer's input is captured."""


Weights = RandomWeights | TrainedWeights


class FilterResponder:
    """Filter responses for the explorer: :meth:`response` of a setting, an image, a filter.

    Keeps the last few layer inputs (per weights, M and image) and block results (per weights,
    M, K, P, image and block of P filters), so moving filter n inside a block or back to a
    recent setting costs nothing.
    """

    def __init__(self, images: SampleImages, *, cache: int = 16) -> None:
        self.images = images
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._size = check_positive_int("cache", cache)

    def clear(self) -> None:
        """Forget the kept inputs and block results (the next response computes afresh)."""
        self._cache.clear()

    def _cached(self, key: tuple[Any, ...], make: Any) -> Any:
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        value = make()
        self._cache[key] = value
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return value

    def response(
        self,
        weights: Weights,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        p: int,
        filter_index: int,
        image_index: int,
    ) -> FilterResponse:
        """Filter ``filter_index`` of the HetConv layer (M, N, K, P, shifted) with ``weights``
        on image ``image_index``.

        Raises:
            ValueError: P does not divide M and N, the filter or image index is out of range,
                or trained weights do not fit the setting or the images.
        """
        m = check_positive_int("in_channels", in_channels)
        n = check_positive_int("out_channels", out_channels)
        k = check_positive_int("kernel_size", kernel_size)
        p = check_part(m, n, p)
        f = check_int("filter_index", filter_index, minimum=0)
        i = check_int("image_index", image_index, minimum=0)
        if f >= n:
            raise ValueError(f"filter_index must be in 0 … {n - 1}, got {f}")
        if i >= len(self.images.images):
            raise ValueError(f"image_index must be in 0 … {len(self.images.images) - 1}, got {i}")
        if isinstance(weights, TrainedWeights) and not weights.fits(m, n, k, p):
            raise ValueError(
                f"the trained layer is M={weights.in_channels}, N={weights.out_channels}, "
                f"K={weights.kernel_size}, P={weights.p}; this setting needs random weights"
            )
        with _one_thread(), torch.no_grad():
            x = self._cached(
                ("input", id(weights), m, i), lambda: weights.layer_input(self.images, i, m)
            )
            n0 = f - f % p
            kxk, one, dense, bias = self._cached(
                ("block", id(weights), m, k, p, i, n0),
                lambda: _block_maps(weights, x, m, k, p, n0),
            )
            j = f - n0
            b = None if bias is None else bias[j : j + 1]
            standard = F.conv2d(x[None], dense[j : j + 1], b, padding=k // 2)[0, 0].numpy()
        return FilterResponse(
            filter_index=f,
            image=self.images.images[i].numpy(),
            image_name=self.images.names[i],
            inputs=x.numpy(),
            kxk=kxk[j],
            one=one[j],
            output=one[j] + kxk[j],
            standard=standard,
            input_note=weights.input_note,
            weights_note=weights.label,
        )


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Torch on one CPU thread inside the block, then as before. A response is a few million
    MACs: one thread computes it fastest, and on a busy machine (a browser and other kernels
    beside this one) it never waits for a second core (measured: 60 ms instead of 360 ms per
    update at M = N = 512, load average 10 on 2 cores, ``benchmarks/explorer_update.py``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _block_maps(
    weights: Weights, x: torch.Tensor, m: int, k: int, p: int, n0: int
) -> tuple[np.ndarray, np.ndarray, torch.Tensor, torch.Tensor | None]:
    """K×K path and 1×1 path (P, H, W) of filters n0 … n0 + P − 1, and their standard
    filters (P, M, K, K) and bias."""
    dense, bias, standard = weights.block(m, k, p, n0)
    kxk, one = block_layer(dense, bias, p).forward_parts(x)
    return kxk.numpy(), one.numpy(), standard, bias
