"""Student copies: no solution survives, everything else stays in order, and every copy runs top
to bottom with its answer checkers still grading."""

from __future__ import annotations

import errno
import inspect
import json
import re
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from hetconv_edu.__main__ import NEEDS, main
from hetconv_edu.student import is_solution, student_copy, write_student_notebooks
from tests.notebook_runner import NOTEBOOK_TIMEOUT, NOTEBOOKS, NOTEBOOKS_DIR, execute_notebook

ids = [p.name for p in NOTEBOOKS]
REPO = Path(__file__).resolve().parents[1]

CHECKERS_AT_WORK = """\
import gc as _gc
import json as _json

from hetconv_edu.apps.controls import AnswerChecker as _Checker

_results = []
# type(), not isinstance(): the garbage collector also holds weak proxies of dead objects.
for _checker in [o for o in _gc.get_objects() if type(o) is _Checker]:
    _expected = _checker.expected
    _wrong = _expected + _checker.tolerance + 1 + abs(_expected)
    _results.append([_checker.check(_expected), _checker.check(_wrong)])
print("CHECKERS", _json.dumps(_results))
"""
"""A cell the test appends to a copy: grades every answer checker alive in the kernel with its
right answer and with a wrong one, and prints the results."""


def solution_lines(notebook: nbformat.NotebookNode) -> set[str]:
    """The non-trivial source lines of the solution cells that no other cell also holds."""
    elsewhere = {
        line.strip()
        for cell in notebook.cells
        if not is_solution(cell)
        for line in cell.source.splitlines()
    }
    return {
        line.strip()
        for cell in notebook.cells
        if is_solution(cell)
        for line in cell.source.splitlines()
        if len(line.strip()) >= 12 and line.strip() not in elsewhere
    }


def all_text(path: Path) -> str:
    """The file's JSON text followed by every string in it, unescaped."""
    raw = path.read_text(encoding="utf-8")
    strings: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                strings.append(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(json.loads(raw))
    return raw + "\n" + "\n".join(strings) + "\n" + "".join(strings)


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("student")
    return {copy.path.name: copy.path for copy in write_student_notebooks(out, NOTEBOOKS_DIR)}


def test_a_copy_for_every_notebook(copies: dict[str, Path]) -> None:
    assert sorted(copies) == ids
    assert all(path.is_file() for path in copies.values())


def test_no_solution_text_survives(copies: dict[str, Path]) -> None:
    checked = 0
    for path in NOTEBOOKS:
        original = nbformat.read(path, as_version=4)
        lines = solution_lines(original)
        assert all(line in all_text(path) for line in lines)  # the search finds them there
        copy_text = all_text(copies[path.name])
        survivors = [line for line in lines if line in copy_text]
        assert not survivors, (path.name, survivors)
        assert '"solution"' not in copy_text, path.name
        checked += len(lines)
    assert checked >= 10  # the notebooks do have solutions to remove


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_other_cells_are_kept_in_order_and_cleared(path: Path, copies: dict[str, Path]) -> None:
    original = nbformat.read(path, as_version=4)
    copy = nbformat.read(copies[path.name], as_version=4)
    nbformat.validate(copy)
    kept = [cell for cell in original.cells if not is_solution(cell)]
    assert [(c.id, c.cell_type, c.source) for c in copy.cells] == [
        (c.id, c.cell_type, c.source) for c in kept
    ]
    assert copy.metadata.kernelspec == original.metadata.kernelspec
    for cell in copy.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_student_copy_clears_what_a_run_left_behind() -> None:
    shown = new_code_cell("print(42)", execution_count=3, outputs=[new_output("stream", text="42")])
    shown.metadata["execution"] = {"iopub.status.idle": "2024-01-01T00:00:00"}
    answer = new_code_cell("print('the answer is 42')", metadata={"tags": ["solution", "x"]})
    notebook = new_notebook(
        cells=[new_markdown_cell("# Lesson"), shown, answer, new_markdown_cell("End")],
        metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}},
    )
    copy = student_copy(notebook)
    assert [c.source for c in copy.cells] == ["# Lesson", "print(42)", "End"]
    assert copy.cells[1].outputs == [] and copy.cells[1].execution_count is None
    assert "execution" not in copy.cells[1].metadata and "widgets" not in copy.metadata
    assert len(notebook.cells) == 4 and notebook.cells[1].outputs  # the original is untouched


@pytest.mark.notebook
@pytest.mark.timeout(NOTEBOOK_TIMEOUT + 60)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_every_copy_runs_and_its_checkers_grade(
    path: Path, copies: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    copy = nbformat.read(copies[path.name], as_version=4)
    copy.cells.append(new_code_cell(CHECKERS_AT_WORK))
    execute_notebook(copy, f"student {path.name}", copies[path.name].parent, tmp_path, monkeypatch)
    printed = "".join(out.get("text", "") for out in copy.cells[-1].outputs)
    results = json.loads(re.search(r"CHECKERS (.*)", printed).group(1))
    made = sum(
        len(re.findall(r"\b(?:AnswerChecker|exercise)\(", cell.source))
        for cell in copy.cells[:-1]
        if cell.cell_type == "code"
    )
    assert len(results) >= made, (path.name, results)
    assert all(results) and all(right and not wrong for right, wrong in results), results


# --------------------------------------------------------------------------- command line


def test_command_writes_the_copies(tmp_path: Path, capsys) -> None:
    out = tmp_path / "for students"
    assert main(["student-notebooks", str(out), "--notebooks", str(NOTEBOOKS_DIR)]) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.ipynb")) == ids
    assert f"wrote {len(ids)} student notebook(s) to {out}" in printed
    assert "01_kernel_explorer.ipynb: 5 solution cell(s) left out" in printed


def test_command_refuses_the_source_folder(capsys) -> None:
    before = {p: p.read_bytes() for p in NOTEBOOKS}
    same = NOTEBOOKS_DIR / ".." / NOTEBOOKS_DIR.name
    assert main(["student-notebooks", str(same)]) == 2
    assert "is the notebooks folder itself" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in NOTEBOOKS} == before


def test_command_reports_a_missing_folder(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nowhere"
    assert main(["student-notebooks", str(tmp_path / "out"), "--notebooks", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"the notebooks folder {missing} does not exist" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("just some text", "is not a Jupyter notebook (Notebook does not appear to be JSON"),
        ("{}", "is not a Jupyter notebook"),
    ],
)
def test_command_reports_a_file_that_is_no_notebook(
    tmp_path: Path, capsys, content: str, message: str
) -> None:
    source = tmp_path / "lessons"
    source.mkdir()
    nbformat.write(new_notebook(cells=[new_markdown_cell("fine")]), source / "a.ipynb")
    (source / "b.ipynb").write_text(content)
    out = tmp_path / "out"
    assert main(["student-notebooks", str(out), "--notebooks", str(source)]) == 2
    err = capsys.readouterr().err
    assert str(source / "b.ipynb") in err and message in err
    assert err.count("\n") == 1
    assert not out.exists()  # nothing written: every notebook is checked first


def test_bad_folders_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no notebook"):
        write_student_notebooks(tmp_path / "out", empty)
    with pytest.raises(ValueError, match="is a file, not a folder"):
        write_student_notebooks(tmp_path / "out", NOTEBOOKS[0])
    blocker = tmp_path / "taken"
    blocker.write_text("")
    with pytest.raises(ValueError, match=r"the output .*taken is a file"):
        write_student_notebooks(blocker, NOTEBOOKS_DIR)


def test_a_failure_while_writing_a_copy_leaves_the_previous_copy_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "lessons"
    source.mkdir()
    nbformat.write(new_notebook(cells=[new_markdown_cell("first version")]), source / "a.ipynb")
    out = tmp_path / "out"
    write_student_notebooks(out, source)
    before = (out / "a.ipynb").read_bytes()
    nbformat.write(new_notebook(cells=[new_markdown_cell("second version")]), source / "a.ipynb")
    real_write = nbformat.write

    def write_half_then_fail(notebook: nbformat.NotebookNode, handle: Any, **kwargs: Any) -> None:
        handle.write(nbformat.writes(notebook)[:20])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(nbformat, "write", write_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        write_student_notebooks(out, source)
    assert (out / "a.ipynb").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["a.ipynb"]
    monkeypatch.setattr(nbformat, "write", real_write)
    write_student_notebooks(out, source)
    assert "second version" in (out / "a.ipynb").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["a.ipynb"]


def test_command_reports_a_folder_it_cannot_write(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "out"))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    assert (
        main(["student-notebooks", str(tmp_path / "out"), "--notebooks", str(NOTEBOOKS_DIR)]) == 1
    )
    err = capsys.readouterr().err
    assert "Permission denied" in err and str(tmp_path / "out") in err
    assert err.count("\n") == 1 and "Traceback" not in err


def answer_expressions() -> list[str]:
    """The expression of every exercise's answer (the body of its ``lambda``), as the package
    writes it: notebooks 01–03's module-level exercises and notebook 04's app exercises."""
    from hetconv_edu.apps import best_p, explorer, flops_lab, training

    exercises = [
        *explorer.EXERCISES,
        *flops_lab.EXERCISES,
        *training.EXERCISES,
        # the app's exercises only read its results when checked: no results needed here
        *best_p.BestPApp.exercises.fget(object.__new__(best_p.BestPApp)),
    ]
    found = []
    for ex in exercises:
        source = inspect.getsource(ex.answer)
        body = re.search(r"lambda:\s*(.+?),?\s*$", source.strip(), re.S)
        assert body, source
        found.append(" ".join(body.group(1).split()))
    return found


def test_no_answer_expression_survives(copies: dict[str, Path]) -> None:
    """The checkers compute their answers in the package: no cell of a student copy (nor of
    the projected notebook) shows the expression an answer comes from."""
    expressions = answer_expressions()
    assert len(expressions) == 13  # 5 + 3 + 2 + 3 exercises
    for path in NOTEBOOKS:
        for source in (path, copies[path.name]):
            notebook = nbformat.read(source, as_version=4)
            shown = [" ".join(c.source.split()) for c in notebook.cells if not is_solution(c)]
            assert not [e for e in expressions if any(e in text for text in shown)], source
            code = [c.source for c in notebook.cells if c.cell_type == "code"]
            assert not any("AnswerChecker(" in src for src in code), source


def test_command_without_nbformat_says_what_to_install(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "nbformat", None)  # not installed: ImportError
    monkeypatch.delitem(sys.modules, "hetconv_edu.student")
    out = tmp_path / "out"
    assert main(["student-notebooks", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "python -m hetconv_edu student-notebooks: error: this command needs the package "
        "nbformat, which is not installed here: pip install 'nbformat>=5.10' (JupyterLab "
        "brings it: make lab installs it)"
    ]
    assert not out.exists()


def test_what_a_command_needs_is_declared_in_the_projects_extras() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for needs in NEEDS.values():
        for _module, requirement in needs:
            assert requirement in extras["lab"]
