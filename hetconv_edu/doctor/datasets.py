"""Can the data sets be read from the data folder? Checked with the loaders themselves, never
downloading (and not at all while torch cannot be imported)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hetconv_edu.doctor.report import Finding
from hetconv_edu.doctor.torch_setup import TORCH_FIX, torch_import_error

__all__ = ["check_datasets"]


def check_datasets(
    root: str | Path | None = None, names: Sequence[str] | None = None
) -> list[Finding]:
    """Whether each data set can be read from the data folder, without downloading anything.

    Uses :func:`hetconv_edu.data.load_dataset` (``download=False``), so the lookup, the
    checksums and the message saying where to put a missing file are the loaders' own.

    Args:
        root: the data folder (default ``$HETCONV_EDU_DATA`` or the project's ``data/``).
        names: the data sets to look for (of :data:`hetconv_edu.data.DATASET_NAMES`; default
            all of them).

    Returns:
        Per data set: ``ok`` (found; the loader's notes, e.g. "not the official files", are
        part of its message), ``warn`` (not found, with where to put it) or ``error``
        (damaged); plus an ``error`` when none was found, as notebook 3 needs one. When torch
        cannot be imported the loaders cannot run: one ``warn`` saying so.

    Raises:
        ValueError: a name that is not a data set of the package.
    """
    broken = torch_import_error()
    if broken is not None:
        return [
            Finding(
                "warn",
                "data",
                "The data sets cannot be checked while torch cannot be imported (see [torch]).",
                TORCH_FIX,
            )
        ]
    from hetconv_edu.data import (
        DATASET_LABELS,
        DATASET_NAMES,
        DataIntegrityError,
        DatasetNotFoundError,
        default_data_dir,
        load_dataset_with_notes,
    )

    names = DATASET_NAMES if names is None else names
    unknown = [n for n in names if n not in DATASET_NAMES]
    if unknown or not names:
        raise ValueError(f"names must be some of {DATASET_NAMES}, got {list(names)}")
    folder = default_data_dir() if root is None else Path(root).expanduser()
    findings, found = [], []
    for name in names:
        label = DATASET_LABELS[name]
        try:
            data, notes = load_dataset_with_notes(name, folder, download=False)
        except DatasetNotFoundError as error:
            message = f"{label} was not found (data folder {folder})."
            findings.append(Finding("warn", "data", message, str(error)))
        except DataIntegrityError as error:
            message = f"{label} was found but cannot be read (data folder {folder})."
            findings.append(Finding("error", "data", message, str(error)))
        else:
            found.append(name)
            message = (
                f"{label} found and checked: {len(data.train_labels):,} training and "
                f"{len(data.test_labels):,} test images."
            )
            findings.append(Finding("ok", "data", " ".join([message, *notes])))
    if not found:
        labels = " or ".join(DATASET_LABELS[n] for n in names)
        findings.append(
            Finding(
                "error",
                "data",
                f"Notebook 3 trains on {labels}, and none was found. Notebooks 1 and 2 work "
                f"without data.",
                "Put one of them in place as described above (the lesson uses CIFAR-10).",
            )
        )
    return findings
