"""Do the front-end packages' versions work together? Known problems, and the check."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from hetconv_edu.doctor.report import Finding

__all__ = [
    "FRONT_END_PACKAGES",
    "KNOWN_PROBLEMS",
    "KnownProblem",
    "check_versions",
    "installed_versions",
    "version_matches",
]

FRONT_END_PACKAGES = ("jupyterlab", "ipywidgets", "jupyterlab_widgets", "plotly")
"""The packages whose versions decide whether widgets and live figures show in the page."""

_LAB_4 = "pip install 'jupyterlab>=4.2,<5'"
_WIDGETS_8 = "pip install 'ipywidgets>=8.1,<9' 'jupyterlab_widgets>=3,<4'"


@dataclass(frozen=True)
class KnownProblem:
    """A combination of package versions known not to work (one row of :data:`KNOWN_PROBLEMS`).

    Args:
        topic: the package the problem is about; only the first matching row of a topic is
            reported, so a table lists the specific case before the general one.
        when: package name -> condition, all of which must hold: ``"missing"``,
            ``"installed"``, or a version specifier (``packaging.specifiers``) of the release
            number such as ``"<8"`` or ``">=8,<9"`` (never met by a missing package).
        level: ``"warn"`` or ``"error"``.
        message: what goes wrong; ``{name}`` placeholders take the installed versions.
        fix: what to run.
    """

    topic: str
    when: Mapping[str, str]
    level: str
    message: str
    fix: str

    def __post_init__(self) -> None:
        if self.level not in ("warn", "error"):
            raise ValueError(f"level must be 'warn' or 'error', got {self.level!r}")
        for package, condition in self.when.items():
            version_matches(condition, None)  # validates the condition
            if package not in FRONT_END_PACKAGES:
                raise ValueError(f"unknown package {package!r}; known: {FRONT_END_PACKAGES}")

    def applies(self, versions: Mapping[str, str | None]) -> bool:
        """Whether every condition holds for ``versions`` (package -> version or None)."""
        return all(
            version_matches(condition, versions.get(p)) for p, condition in self.when.items()
        )


def _release(version: str) -> Version:
    """The release a version string names: ``"2.13.0+cpu"`` -> 2.13.0, ``"6.0.0rc1"`` -> 6.0.0
    (a pre-release or a local build is compared as the release it leads to)."""
    try:
        return Version(".".join(map(str, Version(version).release)))
    except InvalidVersion:
        raise ValueError(f"cannot read a release number from version {version!r}") from None


def version_matches(condition: str, version: str | None) -> bool:
    """Whether ``version`` (None: not installed) meets a :class:`KnownProblem` condition:
    ``"missing"``, ``"installed"`` or a ``packaging`` version specifier such as ``"<8"`` or
    ``">=8,<9"`` (which a missing package never meets)."""
    if condition == "missing":
        return version is None
    if condition == "installed":
        return version is not None
    try:
        specifiers = SpecifierSet(condition)
    except InvalidSpecifier:
        specifiers = SpecifierSet()
    if not len(specifiers):
        raise ValueError(
            f"condition must be 'missing', 'installed' or comparisons like '<8' or '>=8,<9', "
            f"got {condition!r}"
        )
    return version is not None and _release(version) in specifiers


KNOWN_PROBLEMS: tuple[KnownProblem, ...] = (
    KnownProblem(
        "ipywidgets",
        {"ipywidgets": "missing"},
        "error",
        "ipywidgets is not installed: no slider, button or live figure can work.",
        f"{_WIDGETS_8} (or run make lab, which installs everything).",
    ),
    KnownProblem(
        "ipywidgets",
        {"ipywidgets": "<8", "jupyterlab": ">=4"},
        "error",
        "ipywidgets {ipywidgets} is version 7, and JupyterLab {jupyterlab} is version 4: "
        "ipywidgets 7's front end was made for JupyterLab 3, so widgets show 'Failed to load "
        "model class' or nothing; this package's apps also need ipywidgets 8.",
        f"{_WIDGETS_8}, then restart the Jupyter server.",
    ),
    KnownProblem(
        "ipywidgets",
        {"ipywidgets": "<8.1"},
        "error",
        "ipywidgets {ipywidgets} is older than 8.1, the version this package is written for.",
        f"{_WIDGETS_8}, then restart the Jupyter server.",
    ),
    KnownProblem(
        "ipywidgets",
        {"ipywidgets": ">=9"},
        "warn",
        "ipywidgets {ipywidgets} is newer than the 8.x this package is tested with.",
        f"If a widget misbehaves: {_WIDGETS_8}.",
    ),
    KnownProblem(
        "jupyterlab_widgets",
        {"ipywidgets": ">=8", "jupyterlab": "installed", "jupyterlab_widgets": "missing"},
        "error",
        "jupyterlab_widgets (JupyterLab's half of ipywidgets) is not installed: JupyterLab "
        "shows every widget as a line of text such as 'VBox(children=...)'.",
        "pip install 'jupyterlab_widgets>=3,<4', then restart the Jupyter server.",
    ),
    KnownProblem(
        "jupyterlab_widgets",
        {"ipywidgets": ">=8", "jupyterlab_widgets": "<3"},
        "error",
        "ipywidgets {ipywidgets} needs jupyterlab_widgets 3, but {jupyterlab_widgets} is "
        "installed: the page cannot build the widgets ('Failed to load model class').",
        "pip install 'jupyterlab_widgets>=3,<4', then restart the Jupyter server.",
    ),
    KnownProblem(
        "jupyterlab",
        {"jupyterlab": "missing"},
        "warn",
        "JupyterLab is not installed in this environment; the notebooks are made for "
        "JupyterLab 4 (other front ends may not show every widget).",
        f"{_LAB_4} (or run make lab).",
    ),
    KnownProblem(
        "jupyterlab",
        {"jupyterlab": "<4"},
        "warn",
        "JupyterLab {jupyterlab} is older than JupyterLab 4, which the notebooks are made and "
        "tested for.",
        f"{_LAB_4}, then restart the Jupyter server.",
    ),
    KnownProblem(
        "jupyterlab",
        {"jupyterlab": ">=5"},
        "warn",
        "JupyterLab {jupyterlab} is newer than the 4.x the notebooks are tested with.",
        f"If a widget does not show: {_LAB_4}.",
    ),
    KnownProblem(
        "plotly",
        {"plotly": "missing"},
        "error",
        "plotly is not installed: no figure can be drawn.",
        "pip install 'plotly>=6' (or run make lab).",
    ),
    KnownProblem(
        "plotly",
        {"plotly": "<6"},
        "error",
        "plotly {plotly} is older than 6, which the apps' live figures are written for "
        "(they send their numbers to the page in plotly 6's binary form): the apps cannot "
        "draw their figures.",
        "pip install 'plotly>=6', then restart the Jupyter server.",
    ),
)
"""Package versions known not to work together, most specific first within each topic."""


def installed_versions(packages: Sequence[str] = FRONT_END_PACKAGES) -> dict[str, str | None]:
    """The installed version of each package (None when it is not installed)."""
    versions: dict[str, str | None] = {}
    for package in packages:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def check_versions(
    versions: Mapping[str, str | None] | None = None,
    problems: Sequence[KnownProblem] = KNOWN_PROBLEMS,
) -> list[Finding]:
    """Findings for the front-end packages' versions.

    Args:
        versions: package -> installed version or None (missing), for every package of
            :data:`FRONT_END_PACKAGES`; default: what is installed (:func:`installed_versions`).
        problems: the table of known problems (default :data:`KNOWN_PROBLEMS`).

    Returns:
        One finding per topic with a matching problem, or a single ``ok`` finding listing the
        versions.
    """
    versions = installed_versions() if versions is None else dict(versions)
    unknown = set(FRONT_END_PACKAGES) - set(versions)
    if unknown:
        raise ValueError(
            f"versions must give a version or None for each of {FRONT_END_PACKAGES}; "
            f"missing: {sorted(unknown)}"
        )
    shown = {p: v if v is not None else "missing" for p, v in versions.items()}
    findings, reported = [], set()
    for problem in problems:
        if problem.topic not in reported and problem.applies(versions):
            reported.add(problem.topic)
            findings.append(
                Finding(problem.level, "packages", problem.message.format(**shown), problem.fix)
            )
    if not findings:
        listed = ", ".join(f"{p} {shown[p]}" for p in FRONT_END_PACKAGES)
        findings.append(Finding("ok", "packages", f"{listed} work together."))
    return findings
