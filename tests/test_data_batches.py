"""Augmentation, normalisation and :class:`~hetconv_edu.data.Batches`
(:mod:`hetconv_edu.data.batches`): seeded orders, disjoint shards, argument checks."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hetconv_edu.data import Batches, ImageDataset, augment, normalize

# --------------------------------------------------------------------------------------------
# augment() and normalize()
# --------------------------------------------------------------------------------------------


def random_images(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)


def test_augment_keeps_shape_and_dtype() -> None:
    images = random_images((6, 3, 32, 32), 0)
    assert augment(images).shape == images.shape
    assert augment(images).dtype == torch.uint8
    floats = images.float() / 255
    assert augment(floats, torch.Generator().manual_seed(0)).dtype == torch.float32


def test_augment_is_deterministic_given_the_generator() -> None:
    images = random_images((16, 3, 8, 8), 1)
    first = augment(images, torch.Generator().manual_seed(5))
    assert torch.equal(first, augment(images, torch.Generator().manual_seed(5)))
    assert not torch.equal(first, augment(images, torch.Generator().manual_seed(6)))


def test_augment_flips_really_flip() -> None:
    images = random_images((64, 3, 6, 6), 2)
    out = augment(images, torch.Generator().manual_seed(0), padding=0)
    same = (out == images).flatten(1).all(1)
    flipped = (out == images.flip(-1)).flatten(1).all(1)
    assert torch.all(same ^ flipped)  # each image is either kept or mirrored, never both
    assert 16 < int(flipped.sum()) < 48


def test_augment_uses_every_offset() -> None:
    images = torch.zeros(400, 1, 3, 3, dtype=torch.uint8)
    images[:, :, 1, 1] = 1  # a single lit pixel: the crop's offset is where it lands
    out = augment(images, torch.Generator().manual_seed(0), padding=1)
    landed = {tuple(torch.nonzero(image[0]).flatten().tolist()) for image in out}
    assert landed == {(row, column) for row in range(3) for column in range(3)}


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(1, 4),
    channels=st.integers(1, 3),
    height=st.integers(1, 6),
    width=st.integers(1, 6),
    padding=st.integers(0, 3),
    seed=st.integers(0, 2**31),
)
def test_augmented_images_are_windows_of_the_padded_possibly_flipped_input(
    count: int, channels: int, height: int, width: int, padding: int, seed: int
) -> None:
    images = random_images((count, channels, height, width), seed)
    out = augment(images, torch.Generator().manual_seed(seed), padding=padding)
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    for image, source in zip(out, padded, strict=True):
        windows = [
            candidate[:, top : top + height, left : left + width]
            for candidate in (source, source.flip(-1))
            for top in range(2 * padding + 1)
            for left in range(2 * padding + 1)
        ]
        assert any(torch.equal(image, window) for window in windows)


def test_normalize() -> None:
    images = torch.tensor([0, 51, 255], dtype=torch.uint8).reshape(1, 1, 1, 3)
    out = normalize(images, (0.2,), (0.5,))
    assert out.dtype == torch.float32
    assert out.flatten().tolist() == pytest.approx([-0.4, 0.0, 1.6])
    assert torch.allclose(normalize(images.float() / 255, (0.2,), (0.5,)), out)
    with pytest.raises(ValueError, match="one mean and std per channel"):
        normalize(images, (0.2, 0.3), (0.5, 0.5))


# --------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------


def epoch_order(batches: Batches, epoch: int) -> list[int]:
    batches.set_epoch(epoch)
    return batches.indices().tolist()


def test_same_seed_and_epoch_give_the_same_order(cifar: ImageDataset) -> None:
    one, two = Batches(cifar, seed=7), Batches(cifar, seed=7)
    assert epoch_order(one, 3) == epoch_order(two, 3)
    labels = [torch.cat([y for _, y in batches]) for batches in (one, two)]
    assert torch.equal(*labels)
    images = [next(iter(batches))[0] for batches in (one, two)]
    assert torch.equal(*images)  # the augmentation too


def test_other_epochs_and_seeds_give_other_orders(cifar: ImageDataset) -> None:
    batches = Batches(cifar, seed=7)
    orders = [epoch_order(batches, epoch) for epoch in range(3)]
    assert len({tuple(order) for order in orders}) == 3
    assert all(sorted(order) == list(range(500)) for order in orders)
    assert epoch_order(Batches(cifar, seed=8), 0) != orders[0]


@pytest.mark.parametrize(("size", "world_size"), [(500, 4), (500, 3), (100, 7)])
def test_ranks_get_disjoint_equal_shards_covering_the_epoch(
    cifar: ImageDataset, size: int, world_size: int
) -> None:
    split = "train" if size == 500 else "test"
    shards = [
        epoch_order(Batches(cifar, split, shuffle=True, rank=rank, world_size=world_size), 2)
        for rank in range(world_size)
    ]
    assert len({len(shard) for shard in shards}) == 1
    covered = [index for shard in shards for index in shard]
    assert len(set(covered)) == len(covered) == size - size % world_size
    whole = epoch_order(Batches(cifar, split, shuffle=True), 2)
    assert set(covered) == set(whole[: len(covered)])


def test_batch_count_and_shapes(cifar: ImageDataset) -> None:
    assert len(Batches(cifar, batch_size=128)) == 4
    assert len(Batches(cifar, batch_size=128, drop_last=True)) == 3
    assert len(Batches(cifar, batch_size=100, rank=1, world_size=2)) == 3
    sizes = [len(labels) for _, labels in Batches(cifar, batch_size=128)]
    assert sizes == [128, 128, 128, 116]
    images, labels = next(iter(Batches(cifar, "test", batch_size=32)))
    assert images.shape == (32, 3, 32, 32) and images.dtype == torch.float32
    assert labels.dtype == torch.int64


def test_test_batches_are_in_order_and_unaugmented(cifar: ImageDataset) -> None:
    batches = Batches(cifar, "test", batch_size=64)
    assert not batches.shuffle and not batches.augment
    images = torch.cat([x for x, _ in batches])
    labels = torch.cat([y for _, y in batches])
    assert torch.equal(labels, cifar.test_labels)
    assert torch.equal(images, normalize(cifar.test_images, cifar.mean, cifar.std))


def test_training_batches_are_augmented(cifar: ImageDataset) -> None:
    plain = Batches(cifar, batch_size=64, augment=False)
    augmented = Batches(cifar, batch_size=64)
    order = plain.indices()[:64]
    expected = normalize(cifar.train_images[order], cifar.mean, cifar.std)
    assert torch.equal(next(iter(plain))[0], expected)
    assert not torch.equal(next(iter(augmented))[0], expected)


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"split": "valid"}, r"split must be one of \['train', 'test'\], got 'valid'"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"rank": 2, "world_size": 2}, r"rank must be an integer in 0\.\.1 .*, got 2"),
        ({"rank": True}, "rank must be an integer >= 0, got True"),
        ({"seed": -1}, "seed must be an integer >= 0, got -1"),
        ({"seed": 1.0}, "seed must be an integer >= 0, got 1.0"),
        ({"shuffle": "no"}, "shuffle must be True or False, got 'no'"),
        ({"augment": 1}, "augment must be True or False, got 1"),
        ({"drop_last": "yes"}, "drop_last must be True or False, got 'yes'"),
    ],
)
def test_batches_reject_bad_arguments(
    cifar: ImageDataset, arguments: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        Batches(cifar, **arguments)
