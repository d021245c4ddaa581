"""``student-notebooks``: copies of the notebooks without their solutions
(:mod:`hetconv_edu.student`)."""

from __future__ import annotations

import argparse

__all__ = ["add_student_notebooks"]


def _student_notebooks(args: argparse.Namespace) -> int:
    from hetconv_edu.student import write_student_notebooks

    copies = write_student_notebooks(args.out, args.notebooks)
    for copy in copies:
        print(f"{copy.path}: {copy.removed} solution cell(s) left out")
    print(f"wrote {len(copies)} student notebook(s) to {args.out}")
    return 0


def add_student_notebooks(subparsers: argparse._SubParsersAction) -> None:
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
