"""What every command of the command line shares: its two errors and the option types."""

from __future__ import annotations

import argparse
import os

from hetconv_edu.checks import check_positive_int

__all__ = [
    "CommandError",
    "CommandUnavailable",
    "auto_on_off",
    "integer",
    "is_main_rank",
    "positive_int",
]


class CommandError(Exception):
    """A usage problem to report on one line, exit status 2."""


class CommandUnavailable(Exception):
    """A command whose modules cannot be imported here (torch missing or broken): exit 1."""


def positive_int(text: str) -> int:
    try:
        return check_positive_int("the value", int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def auto_on_off(text: str) -> bool | None:
    if text not in _AUTO_ON_OFF:
        raise argparse.ArgumentTypeError(f"expected auto, on or off, got {text!r}")
    return _AUTO_ON_OFF[text]


_AUTO_ON_OFF = {"auto": None, "on": True, "off": False}


def is_main_rank() -> bool:
    return os.environ.get("RANK", "0") == "0"
