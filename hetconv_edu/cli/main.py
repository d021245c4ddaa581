"""The command line's parser and its one entry point, :func:`main`: every command of
:data:`COMMANDS`, a command that cannot be imported here (torch missing or broken) registered as
unavailable with the reason, and every failure said on one line with its exit status."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Callable, Sequence

from hetconv_edu.cli.common import CommandError, CommandUnavailable
from hetconv_edu.cli.convert_report import add_convert_report
from hetconv_edu.cli.doctor import add_doctor
from hetconv_edu.cli.export_site import add_export_site
from hetconv_edu.cli.student import add_student_notebooks
from hetconv_edu.cli.train import add_compare, add_train

__all__ = ["COMMANDS", "NEEDS", "build_parser", "main"]


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
    add_train,
    add_compare,
    add_doctor,
    add_student_notebooks,
    add_convert_report,
    add_export_site,
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
    """Register command ``add_NAME``'s name with a handler that says why it cannot run (its
    module could not be imported), so the other commands, the doctor first, still work."""
    name = register.removeprefix("add_").replace("_", "-")
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
