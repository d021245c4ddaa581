"""Every check of the setup doctor on the real environment, into one report."""

from __future__ import annotations

from pathlib import Path

from hetconv_edu.doctor.datasets import check_datasets
from hetconv_edu.doctor.report import Report
from hetconv_edu.doctor.server import check_server_restart
from hetconv_edu.doctor.torch_setup import check_torch
from hetconv_edu.doctor.versions import check_versions

__all__ = ["diagnose"]


def diagnose(data_root: str | Path | None = None) -> Report:
    """Run every check on the real environment (data from ``data_root``, default
    ``$HETCONV_EDU_DATA`` or the project's ``data/``)."""
    return Report(
        (
            *check_versions(),
            *check_server_restart(),
            *check_datasets(data_root),
            *check_torch(),
        )
    )
