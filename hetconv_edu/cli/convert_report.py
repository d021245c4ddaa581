"""``convert-report``: a network converted to HetConv and what that changes
(:mod:`hetconv_edu.conversion_report`)."""

from __future__ import annotations

import argparse

from hetconv_edu.cli.common import positive_int

__all__ = ["add_convert_report"]


def _convert_report(args: argparse.Namespace) -> int:
    from hetconv_edu.conversion_report import conversion_report
    from hetconv_edu.networks import build_network, default_input_shape

    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    model = build_network(args.network)
    channels = default_input_shape(args.network)[1]
    size = args.size or default_input_shape(args.network)[2]
    report = conversion_report(
        model,
        args.p,
        input_shape=(args.batch, channels, size, size),
        arrangement=args.arrangement,
        name=args.network,
        timing=not args.no_timing,
        rounds=args.rounds,
    )
    print(report.text())
    return 0


def add_convert_report(subparsers: argparse._SubParsersAction) -> None:
    import hetconv_edu.conversion_report  # noqa: F401  (first: without torch, unavailable)

    parser = subparsers.add_parser(
        "convert-report",
        help="convert a network to HetConv and print what changes (MACs, params, time)",
        description="Convert every eligible 3×3 (K×K) convolution of a network to HetConv with "
        "part P and print, per layer, MACs and parameters before and after (per image), then "
        "the whole network's measured forward and forward+backward time before and after on "
        "this machine. NETWORK is one of the package's models (small_vgg, small_resnet, vgg16) "
        "or a torchvision classification model (resnet18, vgg11, ...; needs torchvision, built "
        "without weights: nothing is downloaded).",
    )
    parser.add_argument("network", metavar="NETWORK", help="e.g. resnet18 or small_vgg")
    parser.add_argument("--p", type=positive_int, default=4, help="the part P (default 4)")
    from hetconv_edu.layers import ARRANGEMENTS

    parser.add_argument(
        "--arrangement",
        default="shifted",
        choices=ARRANGEMENTS,
        help="HetConv channel arrangement (default shifted: keeps the network's channel order)",
    )
    parser.add_argument(
        "--size",
        type=positive_int,
        default=None,
        help="input height and width (default 224 for torchvision models, 32 for the package's)",
    )
    parser.add_argument(
        "--batch", type=positive_int, default=1, help="batch size timed (default 1)"
    )
    parser.add_argument("--rounds", type=positive_int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--no-timing", action="store_true", help="costs only, no time measurement")
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads")
    parser.set_defaults(handler=_convert_report)
