"""How much faster is HetConv than a standard convolution on this machine? Layer by layer.

For each layer setting (batch, M = N, D_o, P) this times, interleaved in one run (medians of
rotated rounds, :mod:`hetconv_edu.timing`):

* ``conv``    nn.Conv2d, in its faster memory format on this machine (both are tried);
* ``grouped`` HetConv2d, grouped arrangement (what the models use);
* ``shifted`` HetConv2d, the paper's shifted arrangement (drop-in; two channel shuffles);
* ``naive``   the popular public version (groupwise + full 1×1, not the paper's layer);
* ``masked``  the masked dense reference (does the full standard work).

and prints the ideal speedup (the FLOPs ratio, 9P/(P + 8) for K = 3), the measured speedup of
each against ``conv`` and the efficiency = measured / ideal of the grouped layer.

    python benchmarks/layer_speed.py --quick        # a handful of rows, under a minute
    python benchmarks/layer_speed.py                # the whole grid (long)
    python benchmarks/layer_speed.py --batch 32 --channels 256 --size 16 --parts 4

Run under ``LD_PRELOAD=libtcmalloc_minimal.so.4`` (``make bench`` does) for stable figures:
glibc's allocator page-faults on every large activation.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform

import torch

import hetconv_edu
from hetconv_edu.flops import hetconv_ratio
from hetconv_edu.layers import HetConv2d, MaskedHetConv2d, NaiveHetConv2d, StandardConv2d
from hetconv_edu.timing import time_layers

QUICK = [(32, 256, 16, 4), (32, 512, 8, 8), (32, 64, 32, 4), (32, 128, 16, 2)]


def measure(batch: int, channels: int, size: int, p: int, backward: bool, rounds: int) -> dict:
    """Median seconds per call of every candidate for one layer setting."""
    m = channels
    modules = {
        "conv_cl": StandardConv2d(m, m, 3),
        "conv_nchw": StandardConv2d(m, m, 3),
        "grouped": HetConv2d(m, m, 3, p=p, arrangement="grouped"),
        "shifted": HetConv2d(m, m, 3, p=p, arrangement="shifted"),
        "naive": NaiveHetConv2d(m, m, 3, p=p),
        "masked": MaskedHetConv2d(m, m, 3, p=p),
    }
    timings = time_layers(
        modules,
        (batch, m, size, size),
        backward=backward,
        channels_last={"conv_nchw": False},
        rounds=rounds,
        warmup=1,
    )
    t = {name: timing.median_s for name, timing in timings.items()}
    t["conv"] = min(t.pop("conv_cl"), t.pop("conv_nchw"))
    return t


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few rows, under a minute")
    parser.add_argument("--batch", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--channels", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--size", type=int, nargs="+", default=[32, 16, 8])
    parser.add_argument("--parts", type=int, nargs="+", default=[2, 4, 8, 16])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    rows = (
        QUICK
        if args.quick
        else list(itertools.product(args.batch, args.channels, args.size, args.parts))
    )
    rounds = 5 if args.quick else args.rounds
    print(
        f"hetconv_edu {hetconv_edu.__version__}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
        f"LD_PRELOAD={os.environ.get('LD_PRELOAD', '') or '(none)'}"
    )
    print("speedup = nn.Conv2d time / layer time (medians of rotated rounds); K = 3")
    header = (
        f"{'batch':>5} {'M=N':>4} {'D_o':>3} {'P':>3} {'pass':>8} {'conv ms':>8} {'ideal':>6} "
        f"{'grouped':>8} {'shifted':>8} {'naive':>6} {'masked':>6} {'eff.':>5} {'sh/gr':>6}"
    )
    print(header)
    print("-" * len(header))
    for batch, channels, size, p in rows:
        if channels % p:
            continue
        ideal = 1 / hetconv_ratio(3, p)
        for backward in (False, True):
            t = measure(batch, channels, size, p, backward, rounds)
            speed = {k: t["conv"] / v for k, v in t.items()}
            print(
                f"{batch:>5} {channels:>4} {size:>3} {p:>3} {'fwd+bwd' if backward else 'fwd':>8} "
                f"{t['conv'] * 1e3:>8.2f} {ideal:>6.2f} {speed['grouped']:>7.2f}x "
                f"{speed['shifted']:>7.2f}x {speed['naive']:>5.2f}x {speed['masked']:>5.2f}x "
                f"{speed['grouped'] / ideal:>5.0%} {t['shifted'] / t['grouped']:>6.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
