"""The in-memory data set (:mod:`hetconv_edu.data.dataset`): mean and std, consistency checks,
class-balanced subsets, and loading by name (:mod:`hetconv_edu.data.catalog`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hetconv_edu.data import ImageDataset, load_cifar10, load_dataset
from tests.datasets import write_fake_cifar10

# --------------------------------------------------------------------------------------------
# The data set, subsets, load_dataset
# --------------------------------------------------------------------------------------------


def test_mean_and_std_are_those_of_the_training_images(cifar: ImageDataset) -> None:
    pixels = cifar.train_images.double() / 255
    assert cifar.mean == pytest.approx(pixels.mean(dim=(0, 2, 3)).tolist(), abs=1e-9)
    assert cifar.std == pytest.approx(pixels.std(dim=(0, 2, 3), correction=0).tolist(), abs=1e-9)


def test_image_dataset_rejects_inconsistent_tensors(cifar: ImageDataset) -> None:
    with pytest.raises(ValueError, match="train_labels must be an int64 tensor"):
        ImageDataset.from_tensors(
            "broken",
            cifar.train_images,
            cifar.train_labels[:-1],
            cifar.test_images,
            cifar.test_labels,
            cifar.classes,
        )
    with pytest.raises(ValueError, match="must be a non-empty uint8 tensor"):
        ImageDataset.from_tensors(
            "broken",
            cifar.train_images.float(),
            cifar.train_labels,
            cifar.test_images,
            cifar.test_labels,
            cifar.classes,
        )


def test_subset_is_class_balanced_and_deterministic(tmp_path: Path, cifar: ImageDataset) -> None:
    write_fake_cifar10(tmp_path)
    first = load_cifar10(tmp_path, download=False, subset=103, test_subset=40, seed=3)
    again = load_cifar10(tmp_path, download=False, subset=103, test_subset=40, seed=3)
    other = load_cifar10(tmp_path, download=False, subset=103, seed=4)
    counts = first.train_labels.bincount(minlength=10)
    assert counts.sum() == 103 and counts.max() - counts.min() <= 1
    assert torch.equal(first.test_labels.bincount(), torch.full((10,), 4))
    assert torch.equal(first.train_images, again.train_images)
    assert torch.equal(first.test_images, again.test_images)
    assert not torch.equal(first.train_images, other.train_images)
    assert len(other.test_labels) == len(cifar.test_labels)
    # the subset's images are images of the full set, with their labels
    full = {
        bytes(image.numpy()): int(label)
        for image, label in zip(cifar.train_images, cifar.train_labels, strict=True)
    }
    assert all(
        full[bytes(image.numpy())] == int(label)
        for image, label in zip(first.train_images, first.train_labels, strict=True)
    )


@pytest.mark.parametrize(("subset", "complaint"), [(501, "larger than the 500"), (0, "positive")])
def test_subset_out_of_range_is_a_clear_error(subset: int, complaint: str, tmp_path: Path) -> None:
    write_fake_cifar10(tmp_path)
    with pytest.raises(ValueError, match=complaint):
        load_cifar10(tmp_path, download=False, subset=subset)


def test_load_dataset_by_name(tmp_path: Path) -> None:
    write_fake_cifar10(tmp_path, n_train=50, n_test=20)
    assert load_dataset("cifar10", tmp_path, download=False).name == "cifar10"
    with pytest.raises(ValueError, match="'cifar10', 'fashion-mnist'"):
        load_dataset("mnist", tmp_path)
