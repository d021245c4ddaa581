"""Student copies of the notebooks: the same lessons without the worked solutions.

Exercise solutions live in cells tagged ``solution`` (the cell metadata's ``tags`` list).
:func:`write_student_notebooks` (``python -m hetconv_edu student-notebooks OUT``) writes a copy
of every notebook of a folder without those cells, with outputs, execution counts and saved
widget state cleared, so that nothing a solution printed survives either. The answer-checking
widgets keep working: they compute their expected answers with the package, never with code
from a solution cell.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from hetconv_edu.fileio import atomic_writer

__all__ = [
    "DEFAULT_NOTEBOOKS_DIR",
    "SOLUTION_TAG",
    "StudentCopy",
    "is_solution",
    "student_copy",
    "write_student_notebooks",
]

SOLUTION_TAG = "solution"
"""The cell tag that marks a worked solution."""

DEFAULT_NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
"""The project's notebooks folder."""


@dataclass(frozen=True)
class StudentCopy:
    """One written copy: the original, the copy, and how many solution cells were left out."""

    source: Path
    path: Path
    removed: int


def is_solution(cell: NotebookNode) -> bool:
    """Whether a cell is tagged :data:`SOLUTION_TAG`."""
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def student_copy(notebook: NotebookNode) -> NotebookNode:
    """A copy of ``notebook`` without its solution cells, with outputs, execution counts,
    execution timings and saved widget state cleared; the other cells stay in order."""
    result = copy.deepcopy(notebook)
    result.cells = [cell for cell in result.cells if not is_solution(cell)]
    for cell in result.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    result.metadata.pop("widgets", None)
    return result


def _read_notebook(path: Path) -> NotebookNode:
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} could not be read: {error}") from error
    except (ValueError, KeyError, nbformat.ValidationError) as error:
        reason = str(error).splitlines()[0]
        raise ValueError(
            f"{path} is not a Jupyter notebook ({reason}); move it out of {path.parent} or "
            f"replace it with a valid .ipynb file"
        ) from error
    return notebook


def write_student_notebooks(
    out: str | Path, notebooks: str | Path | None = None
) -> list[StudentCopy]:
    """Write a student copy (:func:`student_copy`) of every ``*.ipynb`` in ``notebooks`` to
    ``out``, under the same file names.

    Every notebook is read and checked before anything is written. Copies already in ``out``
    are replaced, each atomically (:func:`hetconv_edu.fileio.atomic_writer`): a failure while
    writing one (a full disk) leaves its previous copy as it was.

    Args:
        out: the folder to write to (created if needed); never the source folder.
        notebooks: the folder of the original notebooks (default the project's
            ``notebooks/``).

    Raises:
        FileNotFoundError: the notebooks folder does not exist.
        ValueError: ``notebooks`` is not a folder or holds no notebook, ``out`` is the source
            folder or a file, or a ``.ipynb`` file is not a valid notebook.
        OSError: ``out`` cannot be written (read-only, disk full).
    """
    source = DEFAULT_NOTEBOOKS_DIR if notebooks is None else Path(notebooks).expanduser()
    target = Path(out).expanduser()
    if not source.exists():
        raise FileNotFoundError(
            f"the notebooks folder {source} does not exist; give the folder holding the "
            f"original notebooks with --notebooks DIR"
        )
    if not source.is_dir():
        raise ValueError(f"{source} is a file, not a folder; give the folder of the notebooks")
    if target.resolve() == source.resolve():
        raise ValueError(
            f"the output folder {target} is the notebooks folder itself: the copies would "
            f"overwrite the originals and their solutions; choose another folder"
        )
    if target.exists() and not target.is_dir():
        raise ValueError(f"the output {target} is a file; give a folder for the copies")
    originals = sorted(source.glob("*.ipynb"))
    if not originals:
        raise ValueError(f"{source} holds no notebook (*.ipynb); nothing to copy")
    notebooks_read = [(path, _read_notebook(path)) for path in originals]
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for path, notebook in notebooks_read:
        result = student_copy(notebook)
        nbformat.validate(result)
        destination = target / path.name
        with atomic_writer(destination, "w") as handle:
            nbformat.write(result, handle)
        written.append(StudentCopy(path, destination, len(notebook.cells) - len(result.cells)))
    return written
