"""Batches for training: augmentation, normalisation and the seeded, sharded :class:`Batches`.

Everything runs in torch on the batches' device; an epoch's order is a function of the seed and
the epoch only, so every model trained with the same seed sees the same data in the same order.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from hetconv_edu.checks import check_bool, check_choice, check_int, check_positive_int
from hetconv_edu.data.dataset import ImageDataset

_ORDER_STREAM = 0
_AUGMENT_STREAM = 1


def augment(
    images: torch.Tensor, generator: torch.Generator | None = None, padding: int = 4
) -> torch.Tensor:
    """Random crop with zero padding and random horizontal flip of each image of a batch.

    Every image is padded by ``padding`` zero pixels on each side, a window of its original size
    is cut at a random offset (each of the ``(2 * padding + 1) ** 2`` equally likely), and the
    window is mirrored left-right with probability 1/2. Vectorised over the batch; works on any
    device and dtype (uint8 or float), returning the input's dtype.

    Args:
        images: (N, C, H, W).
        generator: source of the random offsets and flips (on the CPU or the images' device);
            None uses torch's global generator.
        padding: pixels of zero padding on each side; 0 leaves only the flips.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    padding = check_int("padding", padding, minimum=0)
    count, channels, height, width = images.shape
    device = images.device
    draw_on = device if generator is None else generator.device
    offsets = torch.randint(0, 2 * padding + 1, (2, count), generator=generator, device=draw_on)
    flips = torch.randint(0, 2, (count,), generator=generator, device=draw_on).bool()
    offsets, flips = offsets.to(device), flips.to(device)
    padded = F.pad(images, (padding, padding, padding, padding))
    rows = offsets[0, :, None] + torch.arange(height, device=device)
    columns = torch.arange(width, device=device).expand(count, width)
    columns = torch.where(flips[:, None], width - 1 - columns, columns) + offsets[1, :, None]
    return padded[
        torch.arange(count, device=device)[:, None, None, None],
        torch.arange(channels, device=device)[None, :, None, None],
        rows[:, None, :, None],
        columns[:, None, None, :],
    ]


def normalize(
    images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]
) -> torch.Tensor:
    """``(images / 255 - mean) / std`` per channel, as float32 on the images' device.

    ``images`` is (N, C, H, W), uint8 in 0..255, or floating point already in [0, 1] units;
    ``mean`` and ``std`` have one value per channel, in [0, 1] units.
    """
    if images.ndim != 4 or len(mean) != images.shape[1] or len(std) != images.shape[1]:
        raise ValueError(
            f"images must be (N, C, H, W) with one mean and std per channel, got shape "
            f"{tuple(images.shape)}, {len(mean)} means and {len(std)} stds"
        )
    if images.dtype == torch.uint8:
        scaled = images.float() / 255
    elif images.is_floating_point():
        scaled = images.float()
    else:
        raise TypeError(f"images must be uint8 (0..255) or floating point, got {images.dtype}")
    mean_t = torch.tensor(mean, dtype=torch.float32, device=images.device)[:, None, None]
    std_t = torch.tensor(std, dtype=torch.float32, device=images.device)[:, None, None]
    return (scaled - mean_t) / std_t


def _mixed_seed(*numbers: int) -> int:
    """A well-mixed 64-bit seed from several non-negative ints (e.g. seed and epoch)."""
    return int(np.random.SeedSequence(list(numbers)).generate_state(1, dtype=np.uint64)[0])


class Batches:
    """Iterable over ``(images, labels)`` batches of one split of an :class:`ImageDataset`.

    ``images`` are float32 (B, C, H, W), normalised with the data set's mean and std; ``labels``
    are int64 (B,); both on ``device``. Each batch is moved to ``device`` as uint8 and augmented
    and normalised there.

    The order of an epoch is a function of ``(seed, epoch)`` only, so models trained with the
    same seed see the same data in the same order; call :meth:`set_epoch` before each epoch, as
    with torch's ``DistributedSampler``. The augmentation's randomness is a function of
    ``(seed, epoch, rank)``.

    With ``world_size`` > 1, rank ``r`` gets every ``world_size``-th item of the epoch's
    permutation starting at ``r``: the shards are disjoint and equal in size. When the split's
    size is not a multiple of ``world_size``, the last ``size % world_size`` items of each epoch's
    permutation are left out (different ones each shuffled epoch).

    Args:
        dataset: the data set.
        split: ``"train"`` or ``"test"``.
        batch_size: images per batch (the last batch may be smaller unless ``drop_last``).
        shuffle: shuffle each epoch (a bool); default: for the training split only.
        augment: random crop and flip (:func:`augment`, a bool); default: for the training
            split only.
        seed: seed of the order and the augmentation (>= 0).
        device: where batches are delivered.
        rank: this process's rank, in ``range(world_size)``.
        world_size: number of distributed processes sharing each epoch.
        drop_last: leave out a last batch smaller than ``batch_size``.
    """

    def __init__(
        self,
        dataset: ImageDataset,
        split: str = "train",
        batch_size: int = 128,
        *,
        shuffle: bool | None = None,
        augment: bool | None = None,
        seed: int = 0,
        device: str | torch.device = "cpu",
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
    ) -> None:
        split = check_choice("split", split, ("train", "test"))
        seed = check_int("seed", seed, minimum=0)
        self.world_size = check_positive_int("world_size", world_size)
        rank = check_int("rank", rank, minimum=0)
        if rank >= self.world_size:
            raise ValueError(
                f"rank must be an integer in 0..{self.world_size - 1} (one per process of "
                f"world_size={self.world_size}), got {rank}"
            )
        self.dataset = dataset
        self.split = split
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.shuffle = split == "train" if shuffle is None else check_bool("shuffle", shuffle)
        self.augment = split == "train" if augment is None else check_bool("augment", augment)
        self.seed = seed
        self.device = torch.device(device)
        self.rank = rank
        self.drop_last = check_bool("drop_last", drop_last)
        self.epoch = 0
        self._images: torch.Tensor = getattr(dataset, f"{split}_images")
        self._labels: torch.Tensor = getattr(dataset, f"{split}_labels")

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order (and augmentation) the next iteration delivers."""
        self.epoch = check_int("epoch", epoch, minimum=0)

    @property
    def num_examples(self) -> int:
        """Images this rank delivers per epoch (before ``drop_last``)."""
        return len(self._labels) // self.world_size

    def indices(self) -> torch.Tensor:
        """This rank's indices into the split, in the current epoch's order."""
        count = len(self._labels)
        if self.shuffle:
            generator = torch.Generator().manual_seed(
                _mixed_seed(self.seed, self.epoch, _ORDER_STREAM)
            )
            order = torch.randperm(count, generator=generator)
        else:
            order = torch.arange(count)
        return order[self.rank : self.num_examples * self.world_size : self.world_size]

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_examples // self.batch_size
        return -(-self.num_examples // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self.indices()
        generator = torch.Generator().manual_seed(
            _mixed_seed(self.seed, self.epoch, _AUGMENT_STREAM, self.rank)
        )
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            chosen = order[start : start + self.batch_size]
            images = self._images[chosen].to(self.device)
            labels = self._labels[chosen].to(self.device)
            if self.augment:
                images = augment(images, generator)
            yield normalize(images, self.dataset.mean, self.dataset.std), labels
