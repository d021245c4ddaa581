"""``train`` (one network) and ``compare`` (several conv families on the same data)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from hetconv_edu.cli.common import CommandError, is_main_rank
from hetconv_edu.cli.train_options import add_training_options, check_resume_options, config_of

__all__ = ["add_compare", "add_train"]


def _train(args: argparse.Namespace) -> int:
    from hetconv_edu.train import (
        CHECKPOINT,
        MACHINE_FIELDS,
        RunResult,
        Trainer,
        format_table,
        read_checkpoint,
    )

    convs = args.conv or ["hetconv:4"]
    conv = convs[0] if len(convs) == 1 else list(convs)
    config = config_of(args, conv, args.name)
    if args.resume and args.overwrite:
        raise CommandError("--resume continues a run and --overwrite replaces it: choose one")
    if args.resume:
        path = Path(config.run_dir) / config.run_name / CHECKPOINT
        check_resume_options(args, config, read_checkpoint(path)["config"])
        # The run's own config comes from its checkpoint; only machine settings may change.
        overrides = {
            k: getattr(config, k)
            for k in MACHINE_FIELDS
            if k not in ("run_dir", "name") and getattr(config, k) is not None
        }
        trainer = Trainer.resume(path, **overrides)
        config = trainer.config
    else:
        trainer = Trainer(config, overwrite=args.overwrite)
    try:
        if is_main_rank():
            state = f"resuming at epoch {trainer.epoch + 1}" if args.resume else "training"
            print(
                f"{state} {config.model} ({config.label}) on {config.dataset}: "
                f"{trainer.params:,} parameters, {trainer.macs / 1e6:.2f}M MACs/image, "
                f"device {trainer.device}"
                + (f" × {trainer.world_size} processes" if trainer.world_size > 1 else "")
                + f", run folder {trainer.run_path}"
            )
        history = trainer.run(progress=not args.no_progress)
    finally:
        trainer.close()
    if is_main_rank() and history.epochs:
        print(format_table([RunResult.from_trainer(trainer)]))
    return 130 if trainer.stopped else 0


def _compare(args: argparse.Namespace) -> int:
    from hetconv_edu.train import compare, format_table

    configs = [config_of(args, conv, None) for conv in args.conv]
    results = compare(configs, progress=not args.no_progress, overwrite=args.overwrite)
    if is_main_rank():
        print(format_table(results))
    return 130 if any(r.stopped for r in results) else 0


def add_train(subparsers: argparse._SubParsersAction) -> None:
    import hetconv_edu.train  # noqa: F401  (first: without torch the command is unavailable)

    parser = subparsers.add_parser(
        "train",
        help="train one network",
        description="Train one network on CIFAR-10 or Fashion-MNIST; writes runs/<name>/.",
    )
    from hetconv_edu.layers import CONV_FAMILIES
    from hetconv_edu.train import TrainConfig
    from hetconv_edu.train.config import describe

    parser.add_argument(
        "--conv",
        nargs="+",
        default=None,
        help=f"family of every switchable conv ({CONV_FAMILIES}), or one per layer "
        f"(default {TrainConfig.conv})",
    )
    name = next(f for f in dataclasses.fields(TrainConfig) if f.name == "name")
    parser.add_argument("--name", default=None, help=describe(name))
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in run-dir/name/ (default name from --model and --conv) from its "
        "checkpoint, with the settings saved there (other training options are refused)",
    )
    add_training_options(parser)
    parser.set_defaults(handler=_train)


def add_compare(subparsers: argparse._SubParsersAction) -> None:
    import hetconv_edu.train  # noqa: F401  (first: without torch the command is unavailable)

    parser = subparsers.add_parser(
        "compare",
        help="train several conv families and tabulate accuracy, cost and speed",
        description="Train one network per conv family (same seed, data and order) and print "
        "test accuracy, parameters, MACs per image, seconds per epoch and images per second.",
    )
    parser.add_argument(
        "--conv",
        nargs="+",
        default=["standard", "hetconv:4", "hetconv:8"],
        help="the families to compare (default: standard hetconv:4 hetconv:8)",
    )
    add_training_options(parser)
    parser.set_defaults(handler=_compare)
