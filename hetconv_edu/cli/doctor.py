"""``doctor``: check the setup and say how to fix what is wrong (:mod:`hetconv_edu.doctor`)."""

from __future__ import annotations

import argparse

__all__ = ["add_doctor"]


def _doctor(args: argparse.Namespace) -> int:
    from hetconv_edu.doctor import diagnose

    report = diagnose(args.data_root)
    print(report.text())
    return report.exit_code


def add_doctor(subparsers: argparse._SubParsersAction) -> None:
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
