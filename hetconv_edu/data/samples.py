"""A few real test images for figures: one per class, from the first data set found offline.

:func:`sample_images` looks, without downloading anything, for

1. CIFAR-10 (its test split) in the data folder,
2. else Fashion-MNIST (its test split: the data folder, else Debian's ``dataset-fashion-mnist``),
3. else draws a test pattern (no data set found; the note says how to get one).

No photograph ships with the package's dependencies (Pillow, plotly, torch and numpy carry no
sample pictures; scipy's and scikit-image's are downloads or not installed), so a data set it
is. The images are the data set's first test image of each class, in class order, with the data
set's per-channel mean and std for normalising them as the networks of notebook 03 see them.
Loading a data set takes a few seconds; the result is kept per data folder.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import torch

from hetconv_edu.data.catalog import load_dataset_with_notes
from hetconv_edu.data.dataset import ImageDataset
from hetconv_edu.data.errors import DataIntegrityError, DatasetNotFoundError
from hetconv_edu.data.folder import resolve_root

__all__ = ["SAMPLE_SOURCES", "SampleImages", "drawn_pattern", "sample_images", "samples_of"]

SAMPLE_SOURCES = ("cifar10", "fashion-mnist")
"""The data sets :func:`sample_images` tries, in order."""

_DATASET_TITLES = {"cifar10": "CIFAR-10", "fashion-mnist": "Fashion-MNIST", "pattern": "drawn"}


@dataclass(frozen=True)
class SampleImages:
    """Test images for figures and where they come from.

    ``images`` is uint8 (S, C, H, W); ``names[i]`` names image i (its class and test index);
    ``mean``/``std`` are the data set's per-channel values in [0, 1] units (for
    :func:`hetconv_edu.data.normalize`); ``dataset`` is ``"cifar10"``, ``"fashion-mnist"`` or
    ``"pattern"``; ``note`` says in one line where the images come from.
    """

    dataset: str
    images: torch.Tensor
    names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    note: str

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or not len(self.images):
            raise ValueError(
                f"images must be a non-empty uint8 tensor (S, C, H, W), got {self.images.dtype} "
                f"with shape {tuple(self.images.shape)}"
            )
        if len(self.names) != len(self.images):
            raise ValueError(f"need one name per image ({len(self.images)}), got {len(self.names)}")
        channels = self.images.shape[1]
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(f"mean and std need one value per channel ({channels})")

    @property
    def title(self) -> str:
        """The data set's display name: ``"CIFAR-10"``, ``"Fashion-MNIST"`` or ``"drawn"``."""
        return _DATASET_TITLES.get(self.dataset, self.dataset)


def samples_of(data: ImageDataset, note: str = "") -> SampleImages:
    """The first test image of each class of ``data`` (classes without a test image skipped)."""
    images, names = [], []
    labels = data.test_labels
    for c, name in enumerate(data.classes):
        found = torch.nonzero(labels == c).flatten()
        if found.numel():
            i = int(found[0])
            images.append(data.test_images[i])
            names.append(f"{name} (test image {i})")
    if not images:
        raise ValueError(f"{data.name} has no test images")
    title = _DATASET_TITLES.get(data.name, data.name)
    text = f"{title} test images, one per class"
    return SampleImages(
        data.name,
        torch.stack(images),
        tuple(names),
        tuple(data.mean),
        tuple(data.std),
        f"{text}; {note}" if note else text,
    )


def drawn_pattern(size: int = 32) -> SampleImages:
    """A drawn RGB test image (a disc, stripes and a gradient), for when no data set is found."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    disc = ((yy - size * 0.4) ** 2 + (xx - size * 0.35) ** 2) < (size * 0.22) ** 2
    stripes = ((xx + yy) // max(1, size // 8)) % 2 == 0
    red = torch.where(disc, 230, 40 + 150 * xx // size)
    green = torch.where(stripes & (yy > size // 2), 200, 60)
    blue = 255 * yy // size
    image = torch.stack([red, green, blue]).to(torch.uint8)[None]
    scaled = image.float() / 255
    return SampleImages(
        "pattern",
        image,
        ("drawn test pattern",),
        tuple(scaled.mean(dim=(0, 2, 3)).tolist()),
        tuple(scaled.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist()),
        "no data set found (neither CIFAR-10 nor Fashion-MNIST): a drawn test pattern. "
        "'python -m hetconv_edu doctor' says how to get CIFAR-10 or Fashion-MNIST.",
    )


def sample_images(root: str | Path | None = None) -> SampleImages:
    """One test image per class of the first data set of :data:`SAMPLE_SOURCES` found in the
    data folder ``root`` (default ``$HETCONV_EDU_DATA`` or the project's ``data/``) without
    downloading, else :func:`drawn_pattern`. Kept per folder: a second call costs nothing."""
    return _cached_samples(str(resolve_root(root).resolve()))


@functools.lru_cache(maxsize=4)
def _cached_samples(root: str) -> SampleImages:
    for name in SAMPLE_SOURCES:
        try:
            data, notes = load_dataset_with_notes(name, root, download=False)
        except (DatasetNotFoundError, DataIntegrityError):
            continue  # the next data set, else the drawn pattern
        return samples_of(data, " ".join(notes))
    return drawn_pattern()
