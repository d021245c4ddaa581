"""The setup doctor's findings and report: one :class:`Finding` per thing checked, and the
:class:`Report` of them all as plain text (the command line) or HTML (a notebook)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from hetconv_edu.viz.palette import MESSAGE_CSS

__all__ = ["LEVELS", "REPORT_CSS", "SETUP_CLASS", "SETUP_CSS", "Finding", "Report"]

LEVELS = ("ok", "warn", "error")
"""Finding levels, from fine to blocking. The command line exits 1 when any is ``error``."""

SETUP_CLASS = "hetconv-setup"
"""CSS class of everything :func:`~hetconv_edu.doctor.check_setup` shows (the report, the hint,
the probe)."""

SETUP_CSS = (
    MESSAGE_CSS
    # The projector style puts viz.style.PROJECTOR_CLASS on the package's widgets, and the
    # setup report is none of them (it must render where widgets are broken): while any
    # widget of the page has that class, the report grows as they do (18 px text, notes
    # scaled by viz.style.PROJECTOR.font_scale), so the class can read it on the projector.
    + f"body:has(.hetconv-projector) .{SETUP_CLASS}{{--hetconv-scale:1.25;font-size:18px}}"
)
"""The rules every part of the setup's output carries: the package's message palette, and
the projector style's text size."""

REPORT_CSS = (
    SETUP_CSS
    + ".hetconv-doctor{border-left:6px solid currentColor;font-size:14px}"
    + ".hetconv-doctor ul{margin:4px 0;padding-left:1.2em}.hetconv-doctor li{margin:4px 0}"
    + ".hetconv-doctor .fix{color:#222222;font-weight:normal;margin-left:1.2em}"
)
"""The setup report's rules: :data:`SETUP_CSS`, a rule on the left."""


@dataclass(frozen=True)
class Finding:
    """One result of a check.

    Args:
        level: ``"ok"``, ``"warn"`` (works, but something will go wrong or be slow) or
            ``"error"`` (part of the lessons will not work).
        topic: what was checked, e.g. ``"packages"`` or ``"data"``.
        message: what was found, in plain words.
        fix: what to do about it; required unless the level is ``"ok"``.
    """

    level: str
    topic: str
    message: str
    fix: str = ""

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {self.level!r}")
        if not self.topic or not self.message:
            raise ValueError(
                f"a finding needs a topic and a message, got {self.topic!r} and {self.message!r}"
            )
        if self.level != "ok" and not self.fix:
            raise ValueError(f"a {self.level!r} finding needs a fix: {self.message!r}")


@dataclass(frozen=True)
class Report:
    """The findings of every check, printable (:meth:`text`) and displayable in a notebook."""

    findings: tuple[Finding, ...]

    @property
    def level(self) -> str:
        """The worst level among the findings (``"ok"`` when there are none)."""
        return max((f.level for f in self.findings), key=LEVELS.index, default="ok")

    @property
    def exit_code(self) -> int:
        """1 when any finding is an error, else 0."""
        return int(self.level == "error")

    def problems(self) -> list[Finding]:
        """The findings that are not ``ok``, errors first."""
        bad = [f for f in self.findings if f.level != "ok"]
        return sorted(bad, key=lambda f: -LEVELS.index(f.level))

    def headline(self) -> str:
        """One line: all fine, or how many errors and warnings."""
        if self.level == "ok":
            return "Your setup is ready for the lessons."
        counts = [
            f"{n} {word}{'s' * (n != 1)}"
            for word, n in (
                ("error", sum(f.level == "error" for f in self.findings)),
                ("warning", sum(f.level == "warn" for f in self.findings)),
            )
            if n
        ]
        return f"Your setup has {' and '.join(counts)}; the fixes are below."

    def text(self) -> str:
        """The report as plain text: headline, problems with their fixes, then what is fine."""
        marks = {"ok": "ok   ", "warn": "WARN ", "error": "ERROR"}
        lines = [self.headline(), ""]
        for finding in [*self.problems(), *(f for f in self.findings if f.level == "ok")]:
            lines.append(f"{marks[finding.level]} [{finding.topic}] {finding.message}")
            if finding.fix:
                lines.extend(f"      {line}" for line in f"Fix: {finding.fix}".splitlines())
        return "\n".join(lines)

    def html(self) -> str:
        """The report as a compact HTML block: a green line when all is well, otherwise every
        warning and error with its fix; the fine checks fold away under "details". In the
        package's one palette (:mod:`hetconv_edu.viz.palette`), its rules inside the block (it
        is shown where widgets, and so the apps' stylesheet, may be broken)."""
        marks = {"ok": "✔", "warn": "⚠", "error": "✘"}
        rows = []
        for finding in self.problems():
            fix = html.escape(finding.fix).replace("\n", "<br>")
            rows.append(
                f"<li class='hetconv-text-{finding.level}'>{marks[finding.level]} "
                f"<b>{html.escape(finding.topic)}</b>: {html.escape(finding.message)}"
                f"<div class='fix'><b>Fix:</b> {fix}</div></li>"
            )
        fine = "".join(
            f"<li>{marks['ok']} <b>{html.escape(f.topic)}</b>: {html.escape(f.message)}</li>"
            for f in self.findings
            if f.level == "ok"
        )
        level = self.level
        return (
            f"<style>{REPORT_CSS}</style>"
            f"<div class='hetconv-doctor {SETUP_CLASS} hetconv-message hetconv-{level}'>"
            f"<div class='hetconv-text-{level}'>{marks[level]} {html.escape(self.headline())}</div>"
            + (f"<ul>{''.join(rows)}</ul>" if rows else "")
            + (
                f"<details><summary class='hetconv-note'>What was checked</summary>"
                f"<ul class='hetconv-note'>{fine}</ul></details>"
                if fine
                else ""
            )
            + "</div>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        return {"text/html": self.html(), "text/plain": self.text()}
