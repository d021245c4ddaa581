"""The small HetConv net really learns: a few thousand real Fashion-MNIST images, a couple of
epochs, evaluated on 2,000 real test images.

Needs Debian's ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``; CI installs it)
or the four files in ``$HETCONV_EDU_DATA/fashion-mnist``; fails with a message otherwise.

Measured (small_vgg 16-32-64, HetConv P=4, 4,000 training images, 3 epochs, batch 64, lr 0.1,
2 CPU cores, 12-24 s): test accuracy 79.4 %, 78.9 %, 78.9 % for seeds 0, 1, 2 (chance: 10 %).
The threshold of 70 % leaves a margin of about 9 points under the lowest.
"""

from __future__ import annotations

import time

import pytest

from hetconv_edu.data import DatasetNotFoundError, load_dataset
from hetconv_edu.train import TrainConfig, Trainer

THRESHOLD = 0.70


def test_hetconv_learns_real_fashion_mnist(tmp_path):
    try:
        dataset = load_dataset(
            "fashion-mnist", subset=4000, test_subset=2000, seed=0, download=False
        )
    except DatasetNotFoundError as error:
        pytest.fail(f"real Fashion-MNIST is needed (apt install dataset-fashion-mnist): {error}")
    config = TrainConfig(
        model="small_vgg",
        conv="hetconv:4",
        model_kwargs={"widths": [16, 32, 64]},
        dataset="fashion-mnist",
        epochs=3,
        batch_size=64,
        lr=0.1,
        seed=0,
        device="cpu",
        run_dir=str(tmp_path),
    )
    start = time.perf_counter()
    history = Trainer(config, dataset).run(progress=False)
    seconds = time.perf_counter() - start
    accuracy = history.epochs[-1].test_acc
    assert accuracy >= THRESHOLD, f"test accuracy {accuracy:.1%} after {seconds:.0f} s"
