"""What one HetConv filter does to an image (hetconv_edu.filter_response) and the test images
(hetconv_edu.data.samples): every response map equals a per-kernel loop over the layer's input,
the two paths add to the layer's output exactly, and a trained run's layer gives what its
network computes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import hetconv_edu.data.fashion_mnist as fashion_mnist
from hetconv_edu.data import DatasetNotFoundError, ImageDataset, load_dataset, samples
from hetconv_edu.data.samples import drawn_pattern, sample_images, samples_of
from hetconv_edu.filter_response import (
    MAX_RANDOM_FILTERS,
    FilterResponder,
    RandomWeights,
    TrainedWeights,
    block_layer,
    find_trained_runs,
    seeded_filters,
    stem_weight,
)
from hetconv_edu.layers import HetConv2d
from hetconv_edu.pattern import Kernel, hetconv_pattern
from hetconv_edu.train import TrainConfig, Trainer

SETTINGS = [(4, 4, 3, 2), (6, 9, 3, 3), (8, 4, 5, 4), (4, 8, 1, 1), (3, 3, 3, 3)]


def loop_response(x: torch.Tensor, dense: torch.Tensor, n: int, p: int):
    """Filter n by a loop over its kernels: one single-channel convolution per K×K kernel, one
    multiplication per 1×1 kernel (its centre tap), and the full dense filter for standard."""
    m, k = dense.shape[1], dense.shape[2]
    c = k // 2
    kxk = torch.zeros(x.shape[1:], dtype=x.dtype)
    one = torch.zeros(x.shape[1:], dtype=x.dtype)
    standard = torch.zeros(x.shape[1:], dtype=x.dtype)
    for ch in range(m):
        conv = F.conv2d(x[None, ch : ch + 1], dense[n, ch][None, None], padding=c)[0, 0]
        standard += conv
        if (ch - n) % p == 0:
            kxk += conv
        else:
            one += dense[n, ch, c, c] * x[ch]
    return kxk.numpy(), one.numpy(), standard.numpy()


@pytest.mark.parametrize(("m", "n", "k", "p"), SETTINGS)
def test_random_responses_equal_a_loop_over_the_kernels(m, n, k, p):
    images = drawn_pattern(12)
    responder = FilterResponder(images)
    weights = RandomWeights(3)
    x = torch.from_numpy(responder.response(weights, m, n, k, p, 0, 0).inputs)
    dense = seeded_filters(3, m, k, 0, n)
    for f in range(n):
        r = responder.response(weights, m, n, k, p, f, 0)
        kxk, one, standard = loop_response(x, dense, f, p)
        np.testing.assert_allclose(r.kxk, kxk, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(r.one, one, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(r.standard, standard, rtol=1e-5, atol=1e-6)
        assert np.array_equal(r.output, r.one + r.kxk)
        np.testing.assert_allclose(r.given_up, standard - kxk - one, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("m", "n", "k", "p"), SETTINGS)
def test_the_block_of_p_filters_computes_what_the_whole_layer_computes(m, n, k, p):
    x = torch.randn(1, m, 7, 6, dtype=torch.float64)
    whole = HetConv2d(m, n, k, p=p, dtype=torch.float64)
    with torch.no_grad():
        kxk, one = whole.forward_parts(x)
        dense = whole.dense_weight()
        for n0 in range(0, n, p):
            block = block_layer(dense[n0 : n0 + p], whole.bias[n0 : n0 + p], p)
            assert np.array_equal(block.pattern(), hetconv_pattern(m, n, p)[n0 : n0 + p])
            b_kxk, b_one = block.forward_parts(x)
            torch.testing.assert_close(b_kxk, kxk[:, n0 : n0 + p], rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(b_one, one[:, n0 : n0 + p], rtol=1e-12, atol=1e-12)


def test_paths_add_to_the_layer_output_exactly():
    images = drawn_pattern(16)
    r = FilterResponder(images).response(RandomWeights(0), 8, 8, 3, 4, 5, 0)
    x = torch.from_numpy(r.inputs)
    layer = block_layer(seeded_filters(0, 8, 3, 4, 4), None, 4)
    with torch.no_grad():
        y = layer(x)
    assert np.array_equal(r.output, y[1].numpy())  # filter 5 is the block's filter 1


def test_random_input_is_the_seeded_first_layer_and_moving_p_keeps_the_kernels():
    images = drawn_pattern(10)
    responder = FilterResponder(images)
    weights = RandomWeights(1)
    r4 = responder.response(weights, 8, 8, 3, 4, 2, 0)
    image = (images.images.float() / 255 - torch.tensor(images.mean)[:, None, None]) / torch.tensor(
        images.std
    )[:, None, None]
    expected = F.relu(F.conv2d(image, stem_weight(1, 3, 8), padding=1))[0]
    np.testing.assert_allclose(r4.inputs, expected.numpy(), rtol=1e-6, atol=1e-6)
    assert (r4.inputs >= 0).all()
    # P = 1 is the standard filter; every P's standard comparison is that same filter
    r1 = responder.response(weights, 8, 8, 3, 1, 2, 0)
    r8 = responder.response(weights, 8, 8, 3, 8, 2, 0)
    np.testing.assert_allclose(r1.output, r4.standard, rtol=1e-5, atol=1e-6)
    assert np.array_equal(r4.standard, r8.standard)
    assert not np.allclose(r4.output, r8.output)
    assert "seed 1" in r4.input_note and r4.weights_note == "random weights (seed 1)"


def test_random_filters_are_the_same_whatever_the_block_and_stop_at_the_largest_n():
    whole = seeded_filters(5, 6, 3, 0, MAX_RANDOM_FILTERS)
    assert torch.equal(seeded_filters(5, 6, 3, 8, 4), whole[8:12])
    assert not torch.equal(seeded_filters(6, 6, 3, 8, 4), whole[8:12])  # another seed
    bound = 1 / (6 * 9) ** 0.5
    assert whole.abs().max() <= bound and whole.abs().max() > 0.9 * bound
    with pytest.raises(ValueError, match="filters 0 … 511, asked for up to filter 512"):
        seeded_filters(5, 6, 3, 510, 3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((8, 8, 3, 3, 0, 0), r"p=3 is not allowed .* allowed values: \[1, 2, 4, 8\]"),
        ((8, 8, 3, 2, 8, 0), "filter_index must be in 0 … 7"),
        ((8, 8, 3, 2, 0, 1), "image_index must be in 0 … 0"),
    ],
)
def test_impossible_requests_are_refused_naming_the_value(args, message):
    with pytest.raises(ValueError, match=message):
        FilterResponder(drawn_pattern(8)).response(RandomWeights(), *args)


# ------------------------------------------------------------------------------- trained


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, data_root: Path):
    run_dir = tmp_path_factory.mktemp("runs")
    config = TrainConfig(
        model="small_vgg", conv="hetconv:4", model_kwargs={"widths": [8, 16, 32]},
        data_root=str(data_root), download=False, epochs=1, subset=64, test_subset=32,
        batch_size=32, threads=1, run_dir=str(run_dir), device="cpu", name="tiny",
    )  # fmt: skip
    Trainer(config).run(progress=False)
    (run_dir / "no-checkpoint").mkdir()
    (run_dir / "no-checkpoint" / "history.json").write_text('{"config": {"conv": "hetconv:2"}}')
    return run_dir


def test_trained_runs_are_found_and_their_layer_is_what_the_network_computes(
    trained_run: Path, data_root: Path
):
    runs = find_trained_runs(trained_run)
    assert [(r.name, r.dataset, r.conv) for r in runs] == [("tiny", "cifar10", "hetconv:4")]
    assert find_trained_runs(trained_run / "missing") == []
    weights = TrainedWeights(runs[0])
    assert (weights.in_channels, weights.out_channels, weights.kernel_size, weights.p) == (
        8,
        16,
        3,
        4,
    )
    images = samples_of(load_dataset("cifar10", data_root, download=False))
    # the grouped layer's own output, captured while the whole network runs
    seen = {}
    handle = weights.layer.register_forward_hook(lambda _m, _a, out: seen.update(y=out))
    with torch.no_grad():
        x = (images.images[2:3].float() / 255 - torch.tensor(images.mean)[:, None, None]) / (
            torch.tensor(images.std)[:, None, None]
        )
        weights.model(x)
    handle.remove()
    grouped_out = seen["y"][0]
    perm = [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15]  # grouped j ↔ shifted perm[j]
    responder = FilterResponder(images)
    for j in (0, 1, 5, 15):
        r = responder.response(weights, 8, 16, 3, 4, perm[j], 2)
        np.testing.assert_allclose(r.output, grouped_out[j].numpy(), rtol=1e-4, atol=1e-5)
        # the standard filter keeps the trained K×K kernels and centre taps: its difference
        # from the HetConv output comes from the off-centre taps at the 1×1 positions only
        x_in = torch.from_numpy(r.inputs)
        dense = weights.dense
        kxk, one, _ = loop_response(x_in, dense, perm[j], 4)
        np.testing.assert_allclose(r.kxk, kxk, rtol=1e-4, atol=1e-5)
        bias = weights.bias[perm[j]].item() if weights.bias is not None else 0.0
        np.testing.assert_allclose(r.one, one + bias, rtol=1e-4, atol=1e-5)
        assert not np.allclose(r.standard, r.output)
    with pytest.raises(ValueError, match="needs random weights"):
        responder.response(weights, 8, 16, 3, 2, 0, 0)
    with pytest.raises(ValueError, match="trained on cifar10"):
        FilterResponder(drawn_pattern()).response(weights, 8, 16, 3, 4, 0, 0)


def test_trained_weights_relabel_the_grouped_layer_to_the_shifted_map(trained_run: Path):
    weights = TrainedWeights(find_trained_runs(trained_run)[0])
    pattern = hetconv_pattern(8, 16, 4)
    k = weights.kernel_size
    dense = weights.dense.numpy()
    off_centre = np.ones((k, k), bool)
    off_centre[k // 2, k // 2] = False
    # zero off-centre taps exactly where the shifted map has 1×1 kernels
    assert np.all(dense[pattern == Kernel.ONE][:, off_centre] == 0)
    assert np.any(dense[pattern == Kernel.FULL][:, off_centre] != 0)


# ------------------------------------------------------------------------------- images


def test_sample_images_take_cifar10_then_fashion_mnist_then_a_drawn_pattern(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    cifar = sample_images(data_root)
    assert cifar.dataset == "cifar10" and cifar.images.shape[1:] == (3, 32, 32)
    assert len(cifar.names) == len(cifar.images) == 10
    labels = load_dataset("cifar10", data_root, download=False).test_labels
    first = [int(torch.nonzero(labels == c)[0]) for c in range(10)]
    assert [name.split("test image ")[1].rstrip(")") for name in cifar.names] == list(
        map(str, first)
    )
    assert sample_images(data_root) is cifar  # kept per folder
    monkeypatch.setattr(fashion_mnist, "FASHION_MNIST_SYSTEM_DIRS", ())
    empty = tmp_path / "empty"
    empty.mkdir()
    drawn = sample_images(empty)
    assert drawn.dataset == "pattern" and "doctor" in drawn.note
    assert drawn.images.dtype == torch.uint8 and drawn.images.shape == (1, 3, 32, 32)
    assert len(set(drawn.images.flatten().tolist())) > 10  # a picture, not a flat field


def test_sample_images_fall_back_to_fashion_mnist_without_cifar10(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    fake = ImageDataset.from_tensors(
        "fashion-mnist",
        torch.zeros(4, 1, 28, 28, dtype=torch.uint8),
        torch.tensor([0, 1, 0, 1]),
        torch.arange(3 * 784, dtype=torch.int64).remainder(256).to(torch.uint8).view(3, 1, 28, 28),
        torch.tensor([1, 1, 0]),
        ("T-shirt/top", "Trouser"),
    )
    asked = []

    def loader(name, root, **kwargs):
        asked.append((name, kwargs))
        if name == "cifar10":
            raise DatasetNotFoundError("no CIFAR-10 here")
        return fake, ["a note"]

    monkeypatch.setattr(samples, "load_dataset_with_notes", loader)
    found = sample_images(tmp_path)
    assert asked == [("cifar10", {"download": False}), ("fashion-mnist", {"download": False})]
    assert found.dataset == "fashion-mnist" and found.title == "Fashion-MNIST"
    assert found.names == ("T-shirt/top (test image 2)", "Trouser (test image 0)")
    assert torch.equal(found.images, fake.test_images[[2, 0]])
    assert found.note.endswith("a note")


def test_a_response_leaves_torchs_thread_count_as_it_found_it():
    threads = torch.get_num_threads()
    responder = FilterResponder(drawn_pattern(8))
    responder.response(RandomWeights(), 8, 8, 3, 2, 1, 0)
    assert torch.get_num_threads() == threads

    class Broken(RandomWeights):
        def layer_input(self, images, index, in_channels):
            raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        responder.response(Broken(), 8, 8, 3, 2, 1, 0)
    assert torch.get_num_threads() == threads
