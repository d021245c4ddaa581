"""What the training engine adds to a training step: :meth:`Trainer.step` against a bare SGD step.

Times batches of ``small_vgg`` HetConv P=4 on random CIFAR-10-shaped images, once through
:meth:`hetconv_edu.train.Trainer.step` (augmented batches from ``Batches``, the all-or-nothing
step with its snapshot, the finiteness check, the history and the engine's callbacks) and once
as a bare forward, backward and SGD update of an equal model on one fixed batch, interleaved in
one call of :func:`hetconv_edu.timing.time_candidates` (median over rounds). No epoch ends
during the timing (no evaluation, no files). Prints milliseconds per batch and the ratio.

    python benchmarks/trainer_step.py            # batch 64, widths 32-64-128, 7 rounds
    python benchmarks/trainer_step.py --quick    # 3 rounds
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hetconv_edu.data import ImageDataset
from hetconv_edu.models import build_model
from hetconv_edu.timing import time_candidates
from hetconv_edu.train import TrainConfig, Trainer, physical_cores, set_cpu_threads


def random_dataset(images: int, seed: int = 0) -> ImageDataset:
    """Random uint8 CIFAR-10-shaped images with random labels."""
    g = torch.Generator().manual_seed(seed)
    return ImageDataset.from_tensors(
        "random",
        torch.randint(0, 256, (images, 3, 32, 32), generator=g, dtype=torch.uint8),
        torch.randint(0, 10, (images,), generator=g),
        torch.randint(0, 256, (64, 3, 32, 32), generator=g, dtype=torch.uint8),
        torch.randint(0, 10, (64,), generator=g),
        tuple(f"class {i}" for i in range(10)),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4, help="batches per timed call")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    warmup = 1
    threads = set_cpu_threads(args.threads)
    widths = [32, 64, 128]
    # enough batches that no epoch ends while timing
    batches = (rounds + warmup) * args.steps + 2
    dataset = random_dataset(batches * args.batch_size)
    with tempfile.TemporaryDirectory() as run_dir:
        config = TrainConfig(
            model_kwargs={"widths": widths},
            batch_size=args.batch_size,
            epochs=1,
            device="cpu",
            threads=threads,
            run_dir=run_dir,
        )
        trainer = Trainer(config, dataset)
        model = build_model("small_vgg", "hetconv:4", seed=0, widths=widths)
        model = model.to(memory_format=torch.channels_last).train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
        images = dataset.train_images[: args.batch_size].float().div(255)
        images = images.contiguous(memory_format=torch.channels_last)
        labels = dataset.train_labels[: args.batch_size]

        def bare() -> None:
            for _ in range(args.steps):
                optimizer.zero_grad(set_to_none=True)
                F.cross_entropy(model(images), labels).backward()
                optimizer.step()

        timings = time_candidates(
            {"Trainer.step": lambda: trainer.step(args.steps), "bare SGD step": bare},
            rounds=rounds,
            warmup=warmup,
        )
        assert not trainer.history.epochs, "an epoch ended while timing"
        trainer.close()
    print(
        f"torch {torch.__version__}, {threads} threads ({physical_cores()} physical cores), "
        f"small_vgg {'-'.join(map(str, widths))} HetConv P=4, batch {args.batch_size}, "
        f"{rounds} rounds × {args.steps} batches"
    )
    base = timings["bare SGD step"].median_s
    for label, timing in timings.items():
        ms = 1000 * timing.median_s / args.steps
        print(
            f"  {label:<16}{ms:>8.1f} ms/batch{timing.median_s / base:>7.2f}×{timing.spread:>6.0%}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
