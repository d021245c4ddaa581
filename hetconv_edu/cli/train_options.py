"""The training options of ``train`` and ``compare``, one per
:class:`~hetconv_edu.train.TrainConfig` field, made from the field (its type, default and
description), and the config they give.

torch is imported with :mod:`hetconv_edu.train` inside each function, when a command is
registered or run, so the command line still starts (and the doctor runs) without it.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable

from hetconv_edu.cli.common import CommandError, auto_on_off, integer, positive_int

__all__ = ["add_training_options", "check_resume_options", "config_of", "option_flag"]

_PARSERS: dict[str, Callable[[str], object]] = {"int": integer, "float": float, "str": str}

_OWN_OPTIONS = ("conv", "model_kwargs", "name")
"""TrainConfig fields whose options a command adds itself (``--conv``, ``--widths``,
``--name``)."""


def option_flag(field_name: str) -> str:
    """The option of a TrainConfig field: ``--batch-size``; ``--no-augment`` for a setting that
    is on by default; ``--widths`` for ``model_kwargs``."""
    from hetconv_edu.train import TrainConfig

    if field_name == "model_kwargs":
        return "--widths"
    dashed = field_name.replace("_", "-")
    return f"--no-{dashed}" if getattr(TrainConfig, field_name, None) is True else f"--{dashed}"


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field, made from the field: its type, its default and its
    description (``metadata["help"]``); given or not, TrainConfig checks the values."""
    from hetconv_edu.train import TrainConfig
    from hetconv_edu.train.config import describe

    trains = parser.add_argument_group("what the run trains")
    trains.add_argument(
        "--widths",
        type=positive_int,
        nargs="+",
        default=None,
        help="channel widths of the model (small_vgg/small_resnet: three numbers)",
    )
    machine = parser.add_argument_group("where it runs and writes")
    for setting in dataclasses.fields(TrainConfig):
        if setting.name in _OWN_OPTIONS:
            continue
        group = machine if setting.metadata["machine"] else trains
        flag, kind = option_flag(setting.name), str(setting.type).split(" | ")[0]
        if setting.type == "bool":
            group.add_argument(
                flag, dest=setting.name, action="store_const", const=not setting.default,
                help=f"{'without' if setting.default else 'with'} {setting.metadata['help']}",
            )  # fmt: skip
        elif kind == "bool":  # on, off or automatic (None)
            group.add_argument(
                flag, dest=setting.name, type=auto_on_off, metavar="{auto,on,off}",
                help=setting.metadata["help"],
            )  # fmt: skip
        else:
            group.add_argument(flag, dest=setting.name, type=_PARSERS[kind], help=describe(setting))
    machine.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in the run folder (without it a run is never replaced)",
    )
    machine.add_argument("--no-progress", action="store_true", help="no progress bars")


def _given(args: argparse.Namespace) -> dict[str, object]:
    """The TrainConfig fields given on the command line, with their values."""
    from hetconv_edu.train import TrainConfig

    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if f.name not in _OWN_OPTIONS and getattr(args, f.name) is not None
    }
    if args.widths:
        given["model_kwargs"] = {"widths": list(args.widths)}
    return given


def config_of(args: argparse.Namespace, conv: str | list[str], name: str | None):
    """The TrainConfig of the options given (the others take TrainConfig's defaults)."""
    from hetconv_edu.train import TrainConfig

    return TrainConfig(**_given(args), conv=conv, name=name)


def check_resume_options(args: argparse.Namespace, config, saved: dict) -> None:
    """Refuse training options given with ``--resume`` that differ from the run's settings
    (naming both values): a resumed run keeps its settings; only machine settings
    (:data:`hetconv_edu.train.MACHINE_FIELDS`) may change."""
    from hetconv_edu.train import MACHINE_FIELDS

    mine = config.to_dict()
    given = [key for key in _given(args) if key not in MACHINE_FIELDS]
    if args.conv is not None:
        given.append("conv")
    differ = [
        f"{option_flag(key)} {mine[key]!r} (the run has {saved.get(key)!r})"
        for key in given
        if mine[key] != saved.get(key)
    ]
    if differ:
        raise CommandError(
            f"cannot resume {config.run_dir}/{config.run_name} with other settings: "
            f"{', '.join(differ)}. A resumed run continues with its saved settings: leave "
            "these options out to continue it, or train a new run with them (--name NEW, or "
            "--overwrite to replace this one)"
        )
