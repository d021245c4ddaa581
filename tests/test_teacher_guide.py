"""The teacher guide's answers that come from the shipped best-P results say what the shipped
file says (issue 17 §4): a new results file fails this test until the guide quotes it."""

from __future__ import annotations

import re
from pathlib import Path

from hetconv_edu.study.answer import answer_sentence
from hetconv_edu.study.results import load_results

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "teacher-guide.md"


def _homework_answer(number: int) -> str:
    """The teacher-only answer ``number`` of the guide's homework, whitespace collapsed."""
    answers = GUIDE.read_text(encoding="utf-8").split("<summary>Answers (teacher only)</summary>")
    assert len(answers) == 2, "the guide's homework answers block is missing"
    block = answers[1].split("</details>")[0]
    found = re.search(rf"^{number}\. (.*?)(?=^\d+\. |\Z)", block, flags=re.M | re.S)
    assert found, f"homework answer {number} is missing from {GUIDE}"
    return " ".join(found.group(1).split())


def test_homework_10_quotes_the_answer_of_the_shipped_results() -> None:
    expected = answer_sentence(load_results())
    quoted = re.findall(r"«(.*?)»", _homework_answer(10))
    assert quoted == [expected], (
        f"docs/teacher-guide.md, homework answer 10 quotes {quoted}, but the shipped best-P "
        f"results say: «{expected}» — paste that sentence between the « » marks"
    )
