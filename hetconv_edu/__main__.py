"""Command line of hetconv_edu: ``python -m hetconv_edu <command> ...`` (or ``hetconv-edu``).

Commands:

* ``train`` — train one network (:class:`hetconv_edu.train.Trainer`)::

      python -m hetconv_edu train --model small_vgg --conv hetconv:4 --epochs 3 \\
          --subset 5000 --data-root DIR
      python -m hetconv_edu train --conv hetconv:4 --resume      # continue runs/<name>/

* ``compare`` — train several convolution families on the same data and print a table of test
  accuracy, parameters, MACs per image, seconds per epoch and images per second::

      python -m hetconv_edu compare --conv standard hetconv:4 hetconv:8 --epochs 2 --subset 5000

* ``doctor`` — check the setup (package versions, a Jupyter server older than the widgets, data
  sets, torch) and say how to fix what is wrong; exit status 1 when something is an error::

      python -m hetconv_edu doctor [--data-root DIR]

* ``student-notebooks`` — copies of the notebooks without their ``solution`` cells (needs
  ``nbformat``, see :data:`NEEDS`)::

      python -m hetconv_edu student-notebooks OUT [--notebooks DIR]

* ``convert-report`` — convert a network's convolutions to HetConv and print per-layer MACs and
  parameters before and after, and the measured time of the whole network before and after
  (:mod:`hetconv_edu.conversion_report`); a torchvision model needs torchvision::

      python -m hetconv_edu convert-report resnet18 --p 4 [--size 224] [--batch 1]

* ``export-site`` — write the kernel explorer and the per-layer cost lab as a static page
  (HTML + plotly.js + data computed here, nothing fetched) that opens from ``file://`` or any
  static host (:mod:`hetconv_edu.site`)::

      python -m hetconv_edu export-site OUT [--overwrite] [--channels 4 8 16 ...]

``train`` and ``compare`` run under ``torchrun --nproc_per_node=K -m hetconv_edu train ...``
(DistributedDataParallel; only rank 0 prints and writes files).

Bad arguments end with a one-line error and exit status 2; missing or damaged data, a folder
that cannot be written (read-only, disk full) and a run that cannot go on (diverged, damaged
checkpoint, run folder in use) with a one-line error and exit status 1 (no traceback); warnings
(e.g. more threads than cores) are printed on one line.

Run folders are never overwritten: ``train`` refuses a folder that holds a run unless told
``--resume`` (continue it, with its saved settings: options that differ are refused) or
``--overwrite`` (replace it); ``--name`` picks another folder.
New commands: write ``_add_NAME(subparsers)`` that registers a parser with
``set_defaults(handler=...)`` and add it to :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from hetconv_edu.checks import check_positive_int

__all__ = ["COMMANDS", "NEEDS", "build_parser", "main"]


class CommandError(Exception):
    """A usage problem to report on one line, exit status 2."""


class CommandUnavailable(Exception):
    """A command whose modules cannot be imported here (torch missing or broken): exit 1."""


def _positive_int(text: str) -> int:
    try:
        return check_positive_int("the value", int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _auto_on_off(text: str) -> bool | None:
    if text not in _AUTO_ON_OFF:
        raise argparse.ArgumentTypeError(f"expected auto, on or off, got {text!r}")
    return _AUTO_ON_OFF[text]


_AUTO_ON_OFF = {"auto": None, "on": True, "off": False}
_PARSERS: dict[str, Callable[[str], object]] = {"int": _integer, "float": float, "str": str}
_OWN_OPTIONS = ("conv", "model_kwargs", "name")
"""TrainConfig fields whose options a command adds itself (``--conv``, ``--widths``,
``--name``)."""


def _flag(field_name: str) -> str:
    """The option of a TrainConfig field: ``--batch-size``; ``--no-augment`` for a setting that
    is on by default; ``--widths`` for ``model_kwargs``."""
    from hetconv_edu.train import TrainConfig

    if field_name == "model_kwargs":
        return "--widths"
    dashed = field_name.replace("_", "-")
    return f"--no-{dashed}" if getattr(TrainConfig, field_name, None) is True else f"--{dashed}"


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field, made from the field: its type, its default and its
    description (``metadata["help"]``); given or not, TrainConfig checks the values."""
    from hetconv_edu.train import TrainConfig
    from hetconv_edu.train.config import describe

    trains = parser.add_argument_group("what the run trains")
    trains.add_argument(
        "--widths",
        type=_positive_int,
        nargs="+",
        default=None,
        help="channel widths of the model (small_vgg/small_resnet: three numbers)",
    )
    machine = parser.add_argument_group("where it runs and writes")
    for setting in dataclasses.fields(TrainConfig):
        if setting.name in _OWN_OPTIONS:
            continue
        group = machine if setting.metadata["machine"] else trains
        flag, kind = _flag(setting.name), str(setting.type).split(" | ")[0]
        if setting.type == "bool":
            group.add_argument(
                flag, dest=setting.name, action="store_const", const=not setting.default,
                help=f"{'without' if setting.default else 'with'} {setting.metadata['help']}",
            )  # fmt: skip
        elif kind == "bool":  # on, off or automatic (None)
            group.add_argument(
                flag, dest=setting.name, type=_auto_on_off, metavar="{auto,on,off}",
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


def _config(args: argparse.Namespace, conv: str | list[str], name: str | None):
    """The TrainConfig of the options given (the others take TrainConfig's defaults)."""
    from hetconv_edu.train import TrainConfig

    return TrainConfig(**_given(args), conv=conv, name=name)


def _is_main_rank() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _check_resume_options(args: argparse.Namespace, config, saved: dict) -> None:
    """Refuse training options given with ``--resume`` that differ from the run's settings
    (naming both values): a resumed run keeps its settings; only machine settings
    (:data:`hetconv_edu.train.MACHINE_FIELDS`) may change."""
    from hetconv_edu.train import MACHINE_FIELDS

    mine = config.to_dict()
    given = [key for key in _given(args) if key not in MACHINE_FIELDS]
    if args.conv is not None:
        given.append("conv")
    differ = [
        f"{_flag(key)} {mine[key]!r} (the run has {saved.get(key)!r})"
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
    config = _config(args, conv, args.name)
    if args.resume and args.overwrite:
        raise CommandError("--resume continues a run and --overwrite replaces it: choose one")
    if args.resume:
        path = Path(config.run_dir) / config.run_name / CHECKPOINT
        _check_resume_options(args, config, read_checkpoint(path)["config"])
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
        if _is_main_rank():
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
    if _is_main_rank() and history.epochs:
        print(format_table([RunResult.from_trainer(trainer)]))
    return 130 if trainer.stopped else 0


def _compare(args: argparse.Namespace) -> int:
    from hetconv_edu.train import compare, format_table

    configs = [_config(args, conv, None) for conv in args.conv]
    results = compare(configs, progress=not args.no_progress, overwrite=args.overwrite)
    if _is_main_rank():
        print(format_table(results))
    return 130 if any(r.stopped for r in results) else 0


def _add_train(subparsers: argparse._SubParsersAction) -> None:
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
    _add_training_options(parser)
    parser.set_defaults(handler=_train)


def _add_compare(subparsers: argparse._SubParsersAction) -> None:
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
    _add_training_options(parser)
    parser.set_defaults(handler=_compare)


def _doctor(args: argparse.Namespace) -> int:
    from hetconv_edu.doctor import diagnose

    report = diagnose(args.data_root)
    print(report.text())
    return report.exit_code


def _add_doctor(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check the setup and say how to fix what is wrong",
        description="Check package versions, a Jupyter server started before the widgets were "
        "installed, the data sets, torch's device and threads; print what is wrong and how to "
        "fix it. Exit status 0 when nothing is an error, 1 otherwise.",
    )
    parser.add_argument(
        "--data-root",
        default=None,
        help="data folder to check (default $HETCONV_EDU_DATA or the project's data/)",
    )
    parser.set_defaults(handler=_doctor)


def _student_notebooks(args: argparse.Namespace) -> int:
    from hetconv_edu.student import write_student_notebooks

    copies = write_student_notebooks(args.out, args.notebooks)
    for copy in copies:
        print(f"{copy.path}: {copy.removed} solution cell(s) left out")
    print(f"wrote {len(copies)} student notebook(s) to {args.out}")
    return 0


def _add_student_notebooks(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "student-notebooks",
        help="write copies of the notebooks without their solutions",
        description="Write a copy of every notebook without the cells tagged 'solution', "
        "outputs cleared, into OUT (never the notebooks folder itself).",
    )
    parser.add_argument("out", metavar="OUT", help="folder to write the copies to")
    parser.add_argument(
        "--notebooks",
        metavar="DIR",
        default=None,
        help="folder of the original notebooks (default the project's notebooks/)",
    )
    parser.set_defaults(handler=_student_notebooks)


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


def _add_convert_report(subparsers: argparse._SubParsersAction) -> None:
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
    parser.add_argument("--p", type=_positive_int, default=4, help="the part P (default 4)")
    from hetconv_edu.layers import ARRANGEMENTS

    parser.add_argument(
        "--arrangement",
        default="shifted",
        choices=ARRANGEMENTS,
        help="HetConv channel arrangement (default shifted: keeps the network's channel order)",
    )
    parser.add_argument(
        "--size",
        type=_positive_int,
        default=None,
        help="input height and width (default 224 for torchvision models, 32 for the package's)",
    )
    parser.add_argument(
        "--batch", type=_positive_int, default=1, help="batch size timed (default 1)"
    )
    parser.add_argument("--rounds", type=_positive_int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--no-timing", action="store_true", help="costs only, no time measurement")
    parser.add_argument("--threads", type=_positive_int, default=None, help="CPU threads")
    parser.set_defaults(handler=_convert_report)


def _export_site(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from hetconv_edu.site import SiteGrid, export_site

    grid = SiteGrid(
        channels=tuple(args.channels),
        kernel_sizes=tuple(args.kernel_sizes),
        filters=args.filters,
        out_size=args.out_size,
    )
    with tqdm(
        total=grid.setting_count,
        desc="export-site",
        unit="setting",
        disable=not sys.stderr.isatty(),
    ) as bar:
        result = export_site(
            args.out, grid, overwrite=args.overwrite, progress=lambda done: bar.update(done - bar.n)
        )
    print(result.text())
    return 0


def _add_export_site(subparsers: argparse._SubParsersAction) -> None:
    from hetconv_edu.site import DEFAULT_GRID

    d = DEFAULT_GRID
    parser = subparsers.add_parser(
        "export-site",
        help="write the kernel explorer and cost lab as a page that needs no installation",
        description="Write a static page (HTML, plotly.js and data, nothing fetched from "
        "elsewhere) with the kernel explorer and the per-layer cost lab into OUT: open "
        "OUT/index.html from the disk or put OUT on any web host. Every number is computed "
        "here, for each setting of the grid below. OUT must be new, empty or an earlier "
        "export (unchanged); --overwrite replaces any other folder.",
    )
    parser.add_argument("out", metavar="OUT", help="folder to write the page to")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace OUT even if it holds other files"
    )
    parser.add_argument(
        "--channels",
        type=_positive_int,
        nargs="+",
        default=list(d.channels),
        help=f"values offered for M and N (default {' '.join(map(str, d.channels))})",
    )
    parser.add_argument(
        "--kernel-sizes",
        type=_positive_int,
        nargs="+",
        default=list(d.kernel_sizes),
        help=f"values offered for K (default {' '.join(map(str, d.kernel_sizes))})",
    )
    parser.add_argument(
        "--filters",
        type=_positive_int,
        default=d.filters,
        help=f"filters a student can select, from filter 0, at most P (default {d.filters})",
    )
    parser.add_argument(
        "--out-size",
        type=_positive_int,
        default=d.out_size,
        help=f"output map size D_o for the MAC counts (default {d.out_size})",
    )
    parser.set_defaults(handler=_export_site)


NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "student-notebooks": (("nbformat", "nbformat>=5.10"),),
}
"""What a command needs beyond the package's own dependencies: (module, pip requirement) pairs,
declared in ``pyproject.toml``'s ``lab`` extra (JupyterLab brings them). ``train`` and
``compare`` need torch, a dependency, whose absence or breakage the doctor explains."""


def _check_needs(command: str) -> None:
    """Refuse ``command`` with one line naming the missing package and the pip command."""
    for module, requirement in NEEDS.get(command, ()):
        try:
            importlib.import_module(module)
        except ImportError:
            raise CommandUnavailable(
                f"this command needs the package {module}, which is not installed here: "
                f"pip install '{requirement}' (JupyterLab brings it: make lab installs it)"
            ) from None


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_train,
    _add_compare,
    _add_doctor,
    _add_student_notebooks,
    _add_convert_report,
    _add_export_site,
]
"""Functions registering one subcommand each."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand of :data:`COMMANDS`."""
    parser = _Parser(
        prog="python -m hetconv_edu",
        description="HetConv teaching package: train and compare networks, check the setup, "
        "write student notebooks, convert a network to HetConv, export a page for students.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for register in COMMANDS:
        try:
            register(subparsers)
        except Exception as error:  # torch missing or broken (ImportError, OSError, ...)
            _add_unavailable(subparsers, register.__name__, error)
    return parser


def _add_unavailable(
    subparsers: argparse._SubParsersAction, register: str, error: Exception
) -> None:
    """Register command ``_add_NAME``'s name with a handler that says why it cannot run (its
    module could not be imported), so the other commands, the doctor first, still work."""
    name = register.removeprefix("_add_").replace("_", "-")
    reason = f"{type(error).__name__}: {' '.join(str(error).split())}"
    # no option prefix: every word after the command, options too, is taken and ignored
    parser = subparsers.add_parser(
        name, help=f"unavailable: {reason}", add_help=False, prefix_chars="\x00"
    )
    parser.add_argument("ignored", nargs=argparse.REMAINDER)

    def unavailable(_: argparse.Namespace) -> int:
        raise CommandUnavailable(
            f"this command cannot run here: {reason}. Run `python -m hetconv_edu doctor` "
            "to see what is wrong and how to fix it."
        )

    parser.set_defaults(handler=unavailable)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 a failure: missing or damaged data,
    a folder that cannot be written, a diverged training, a damaged checkpoint, a run folder in
    use, the doctor found an error; 2 bad input, 130 stopped by Ctrl-C with a checkpoint saved).
    Errors and warnings are printed as one line each."""
    parser = build_parser()
    args = parser.parse_args(argv)
    failures = _failures()
    where = f"{parser.prog} {args.command}"

    def one_line(message: Warning | str, *_: object, **__: object) -> None:
        print(f"{where}: warning: {' '.join(str(message).split())}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = one_line
        try:
            _check_needs(args.command)
            return int(args.handler(args))
        except failures as error:
            return _say(where, error, 1)
        except (CommandError, FileNotFoundError, ValueError) as error:
            return _say(where, error, 2)
        except OSError as error:  # a read-only folder, a full disk
            return _say(where, error, 1)
        except KeyboardInterrupt:
            print(f"{where}: interrupted", file=sys.stderr)
            return 130


def _failures() -> tuple[type[Exception], ...]:
    """The errors reported with exit status 1, of the modules that can be imported here."""
    try:
        from hetconv_edu.data import DataIntegrityError, DatasetNotFoundError
        from hetconv_edu.networks import TorchvisionUnavailable
        from hetconv_edu.train import TrainingError
    except Exception:  # torch missing or broken: the doctor still runs
        return (CommandUnavailable,)
    return (
        CommandUnavailable,
        DatasetNotFoundError,
        DataIntegrityError,
        TrainingError,
        TorchvisionUnavailable,
    )


def _say(where: str, error: BaseException, status: int) -> int:
    print(f"{where}: error: {' '.join(str(error).split())}", file=sys.stderr)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
