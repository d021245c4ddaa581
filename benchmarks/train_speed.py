"""Training speed of HetConv networks against standard convolution, in images per second.

Times full training steps (forward, backward, SGD update) of ``small_vgg`` (64-128-256) and
``small_resnet`` (32-64-128) on random CIFAR-10-shaped batches, with every switchable 3×3 conv
standard or HetConv P = 2, 4, 8 (grouped arrangement, the models' default), plus HetConv P=4 in
the paper's shifted arrangement and the naive public variant at P=4 for reference. Candidates of
one model are timed interleaved in one call of :func:`hetconv_edu.timing.time_candidates`
(median over rounds), so the ratios are fair on a noisy machine.

    python benchmarks/train_speed.py            # both models, 7 rounds of 4 steps
    python benchmarks/train_speed.py --quick    # small_vgg only, fewer rounds
    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 python benchmarks/train_speed.py

Goal (issue): HetConv P=4 ≥ 1.8× the images/s of standard for small_vgg 64-128-256, batch 128.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hetconv_edu.models import build_model
from hetconv_edu.timing import time_candidates
from hetconv_edu.train import physical_cores, set_cpu_threads

CANDIDATES = (
    ("standard", "standard", "grouped"),
    ("HetConv P=2", "hetconv:2", "grouped"),
    ("HetConv P=4", "hetconv:4", "grouped"),
    ("HetConv P=8", "hetconv:8", "grouped"),
    ("HetConv P=4 shifted", "hetconv:4", "shifted"),
    ("naive HetConv P=4", "naive_hetconv:4", "grouped"),
)
MODELS = {"small_vgg": {"widths": (64, 128, 256)}, "small_resnet": {"widths": (32, 64, 128)}}


def training_step(
    model_name: str,
    conv: str,
    arrangement: str,
    batch_size: int,
    steps: int,
    channels_last: bool,
    seed: int = 0,
):
    """A zero-argument callable doing ``steps`` SGD training steps on a fixed random batch."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = build_model(
        model_name, conv, seed=seed, arrangement=arrangement, **MODELS[model_name]
    ).to(memory_format=fmt)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(batch_size, 3, 32, 32, generator=generator).contiguous(memory_format=fmt)
    labels = torch.randint(0, 10, (batch_size,), generator=generator)

    def run() -> None:
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(images), labels).backward()
            optimizer.step()

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small_vgg only, 3 rounds")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=4, help="training steps per timed call")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--models", nargs="+", default=None, choices=sorted(MODELS))
    parser.add_argument(
        "--no-channels-last", action="store_true", help="NCHW instead of channels-last"
    )
    parser.add_argument(
        "--layout-check",
        action="store_true",
        help="also time standard and HetConv P=4 in NCHW against channels-last",
    )
    args = parser.parse_args(argv)
    threads = set_cpu_threads(args.threads)
    models = args.models or (["small_vgg"] if args.quick else list(MODELS))
    rounds = args.rounds or (3 if args.quick else 7)
    steps = 2 if args.quick and args.steps == 4 else args.steps
    channels_last = not args.no_channels_last
    preload = os.environ.get("LD_PRELOAD", "")
    print(
        f"torch {torch.__version__}, {threads} threads ({physical_cores()} physical cores), "
        f"batch {args.batch_size}, {'channels-last' if channels_last else 'NCHW'}, "
        f"{rounds} rounds × {steps} steps, allocator: "
        f"{'tcmalloc' if 'tcmalloc' in preload else 'default (glibc)'}"
    )
    for model_name in models:
        candidates = {
            label: training_step(
                model_name, conv, arrangement, args.batch_size, steps, channels_last
            )
            for label, conv, arrangement in CANDIDATES
        }
        if args.layout_check:
            for label, conv in (("standard", "standard"), ("HetConv P=4", "hetconv:4")):
                candidates[f"{label} [{'NCHW' if channels_last else 'NHWC'}]"] = training_step(
                    model_name, conv, "grouped", args.batch_size, steps, not channels_last
                )
        timings = time_candidates(candidates, rounds=rounds, warmup=1)
        base = args.batch_size * steps / timings["standard"].median_s
        widths = MODELS[model_name]["widths"]
        print(f"\n{model_name} {'-'.join(map(str, widths))}, training images/s (median):")
        print(f"  {'candidate':<26}{'images/s':>10}{'× standard':>12}{'spread':>9}")
        for label, timing in timings.items():
            speed = args.batch_size * steps / timing.median_s
            print(f"  {label:<26}{speed:>10.0f}{speed / base:>11.2f}×{timing.spread:>8.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
