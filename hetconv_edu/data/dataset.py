"""The in-memory data set: both splits of a labelled image data set as uint8 tensors.

:class:`ImageDataset` checks its tensors and computes the per-channel mean and std;
:func:`finish_dataset` takes the class-balanced subsets the loaders offer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from hetconv_edu.checks import check_positive_int

Split = tuple[torch.Tensor, torch.Tensor]
"""Images (N, C, H, W) uint8 and labels (N,) int64 of one split."""


@dataclass(frozen=True)
class ImageDataset:
    """A labelled image data set held in memory: both splits as uint8 tensors.

    Build one with :meth:`from_tensors` to have ``mean`` and ``std`` computed.
    """

    name: str
    train_images: torch.Tensor
    """uint8, (N, C, H, W)."""
    train_labels: torch.Tensor
    """int64, (N,), values in ``range(num_classes)``."""
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    """Per-channel mean of the training images, in [0, 1] units."""
    std: tuple[float, ...]
    """Per-channel standard deviation of the training images, in [0, 1] units."""

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            images = getattr(self, f"{split}_images")
            labels = getattr(self, f"{split}_labels")
            if images.dtype != torch.uint8 or images.ndim != 4:
                raise ValueError(
                    f"{self.name}: {split}_images must be a uint8 tensor (N, C, H, W), got "
                    f"{images.dtype} with shape {tuple(images.shape)}"
                )
            if labels.dtype != torch.int64 or labels.shape != images.shape[:1]:
                raise ValueError(
                    f"{self.name}: {split}_labels must be an int64 tensor ({len(images)},) like "
                    f"its images, got {labels.dtype} with shape {tuple(labels.shape)}"
                )
            if len(labels) and (labels.min() < 0 or labels.max() >= len(self.classes)):
                raise ValueError(
                    f"{self.name}: {split}_labels must lie in 0..{len(self.classes) - 1} "
                    f"(one per class), got values {int(labels.min())}..{int(labels.max())}"
                )
        if self.train_images.shape[1:] != self.test_images.shape[1:]:
            raise ValueError(
                f"{self.name}: train images are {tuple(self.train_images.shape[1:])} but test "
                f"images are {tuple(self.test_images.shape[1:])}; both splits need one shape"
            )
        height, width = self.train_images.shape[2:]
        if height != width:
            raise ValueError(f"{self.name}: images must be square, got {height}×{width}")
        if len(self.mean) != self.in_channels or len(self.std) != self.in_channels:
            raise ValueError(
                f"{self.name}: mean and std need one value per channel ({self.in_channels}), "
                f"got {len(self.mean)} and {len(self.std)}"
            )

    @classmethod
    def from_tensors(
        cls,
        name: str,
        train_images: torch.Tensor,
        train_labels: torch.Tensor,
        test_images: torch.Tensor,
        test_labels: torch.Tensor,
        classes: tuple[str, ...],
    ) -> ImageDataset:
        """A data set whose ``mean`` and ``std`` are computed from ``train_images``."""
        if train_images.dtype != torch.uint8 or train_images.ndim != 4 or not len(train_images):
            raise ValueError(
                f"{name}: train_images must be a non-empty uint8 tensor (N, C, H, W), got "
                f"{train_images.dtype} with shape {tuple(train_images.shape)}"
            )
        mean, std = _channel_mean_std(train_images)
        return cls(name, train_images, train_labels, test_images, test_labels, classes, mean, std)

    @property
    def in_channels(self) -> int:
        """Channels per image (3 for CIFAR-10, 1 for Fashion-MNIST)."""
        return self.train_images.shape[1]

    @property
    def image_size(self) -> int:
        """Side length of the square images in pixels."""
        return self.train_images.shape[2]

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)


def _channel_mean_std(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Exact per-channel mean and (population) std in [0, 1] units, from value histograms."""
    values = torch.arange(256, dtype=torch.float64)
    means, stds = [], []
    for channel in range(images.shape[1]):
        counts = torch.bincount(images[:, channel].reshape(-1), minlength=256).double()
        total = counts.sum()
        mean = (counts * values).sum() / total
        variance = (counts * (values - mean) ** 2).sum() / total
        means.append(float(mean) / 255)
        stds.append(math.sqrt(float(variance)) / 255)
    return tuple(means), tuple(stds)


def _balanced_indices(
    labels: torch.Tensor, count: int, num_classes: int, seed: int, what: str
) -> torch.Tensor:
    """Sorted indices of a random class-balanced subset of ``count`` labels.

    Every class gets ``count // num_classes`` items; the remainder goes to randomly chosen
    classes, one each. Deterministic given ``seed``.
    """
    count = check_positive_int(what, count)
    if count > len(labels):
        raise ValueError(f"{what}={count} is larger than the {len(labels)} images available")
    generator = torch.Generator().manual_seed(seed)
    quota = torch.full((num_classes,), count // num_classes)
    quota[torch.randperm(num_classes, generator=generator)[: count % num_classes]] += 1
    chosen = []
    for label in range(num_classes):
        members = torch.nonzero(labels == label).flatten()
        want = int(quota[label])
        if want > len(members):
            raise ValueError(
                f"{what}={count} needs {want} images of class {label} for a class-balanced "
                f"subset, but there are only {len(members)}; ask for at most "
                f"{num_classes * int(torch.bincount(labels, minlength=num_classes).min())}"
            )
        chosen.append(members[torch.randperm(len(members), generator=generator)[:want]])
    return torch.cat(chosen).sort().values


def finish_dataset(
    name: str,
    train: Split,
    test: Split,
    classes: tuple[str, ...],
    subset: int | None,
    test_subset: int | None,
    seed: int,
) -> ImageDataset:
    """Apply the requested subsets and build the :class:`ImageDataset`."""
    if subset is not None:
        keep = _balanced_indices(train[1], subset, len(classes), seed, "subset")
        train = (train[0][keep], train[1][keep])
    if test_subset is not None:
        keep = _balanced_indices(test[1], test_subset, len(classes), seed, "test_subset")
        test = (test[0][keep], test[1][keep])
    return ImageDataset.from_tensors(name, *train, *test, classes)
