"""The setup doctor: what is wrong with a student's setup, in plain words, and how to fix it.

``python -m hetconv_edu doctor`` prints a report; ``check_setup()`` in a notebook's first cell
shows it in colour. Four checks, each a function returning :class:`Finding` s (level ``ok``,
``warn`` or ``error``, a topic, a message and a fix):

* :func:`check_versions` — jupyterlab, ipywidgets, jupyterlab_widgets and plotly against
  :data:`KNOWN_PROBLEMS`, the combinations known not to work (and missing packages).
* :func:`check_server_restart` — a running Jupyter server that started before the widget
  extensions were installed: its pages cannot show widgets ("Failed to load model class" or
  nothing) until the *server* is restarted; restarting the kernel does not help.
* :func:`check_datasets` — CIFAR-10 and Fashion-MNIST found or not, with
  :mod:`hetconv_edu.data`'s own lookup and its message saying where to put them.
* :func:`check_torch` — torch's version, the training device and the CPU threads.

Every check takes its inputs as arguments whose defaults read the real environment, so tests
can hand it a broken one. :func:`diagnose` runs them all into a :class:`Report`.

What Python cannot see, the page shows: :func:`check_setup` ends with a small widget that
reads "Widgets work in this page" when the browser can draw widgets; when it cannot, JupyterLab
falls back to the widget's text version, which says to restart the server.
"""

from __future__ import annotations

import html
import importlib.metadata
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from hetconv_edu.viz.palette import MESSAGE_CSS

if TYPE_CHECKING:
    import torch

REPORT_CSS = (
    MESSAGE_CSS
    + ".hetconv-doctor{border-left:6px solid currentColor;font-size:14px}"
    + ".hetconv-doctor ul{margin:4px 0;padding-left:1.2em}.hetconv-doctor li{margin:4px 0}"
    + ".hetconv-doctor .fix{color:#222222;font-weight:normal;margin-left:1.2em}"
)
"""The setup report's rules: the package's message palette, a rule on the left."""

__all__ = [
    "FRONT_END_PACKAGES",
    "KNOWN_PROBLEMS",
    "LEVELS",
    "REPORT_CSS",
    "RESTART_SERVER",
    "TORCH_FIX",
    "WIDGETS_BROKEN",
    "WIDGETS_WORK",
    "WIDGET_EXTENSIONS",
    "Finding",
    "KnownProblem",
    "Report",
    "ServerStart",
    "check_datasets",
    "check_server_restart",
    "check_setup",
    "check_torch",
    "check_versions",
    "diagnose",
    "extension_install_times",
    "installed_versions",
    "report_outputs",
    "running_servers",
    "torch_import_error",
]

LEVELS = ("ok", "warn", "error")
"""Finding levels, from fine to blocking. The command line exits 1 when any is ``error``."""

FRONT_END_PACKAGES = ("jupyterlab", "ipywidgets", "jupyterlab_widgets", "plotly")
"""The packages whose versions decide whether widgets and live figures show in the page."""

RESTART_SERVER = (
    "Restart the Jupyter server, not only the kernel: save your notebooks, stop JupyterLab "
    "(File > Shut Down, or Ctrl-C twice in the terminal where it runs), start it again "
    "(make lab) and reload the page in the browser."
)
"""The fix for a front end that has not loaded the widget extensions."""

_LAB_4 = "pip install 'jupyterlab>=4.2,<5'"
_WIDGETS_8 = "pip install 'ipywidgets>=8.1,<9' 'jupyterlab_widgets>=3,<4'"


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
            f"<div class='hetconv-doctor hetconv-message hetconv-{level}'>"
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


# --------------------------------------------------------------------------------------------
# Package versions
# --------------------------------------------------------------------------------------------


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
            _matches(condition, None)  # validates the condition
            if package not in FRONT_END_PACKAGES:
                raise ValueError(f"unknown package {package!r}; known: {FRONT_END_PACKAGES}")

    def applies(self, versions: Mapping[str, str | None]) -> bool:
        """Whether every condition holds for ``versions`` (package -> version or None)."""
        return all(_matches(condition, versions.get(p)) for p, condition in self.when.items())


def _release(version: str) -> Version:
    """The release a version string names: ``"2.13.0+cpu"`` -> 2.13.0, ``"6.0.0rc1"`` -> 6.0.0
    (a pre-release or a local build is compared as the release it leads to)."""
    try:
        return Version(".".join(map(str, Version(version).release)))
    except InvalidVersion:
        raise ValueError(f"cannot read a release number from version {version!r}") from None


def _matches(condition: str, version: str | None) -> bool:
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


# --------------------------------------------------------------------------------------------
# Widgets installed after the server started
# --------------------------------------------------------------------------------------------

WIDGET_EXTENSIONS = {
    "@jupyter-widgets/jupyterlab-manager": "jupyterlab_widgets",
    "jupyterlab-plotly": "plotly",
}
"""JupyterLab extensions the notebooks' widgets need -> the Python package installing each."""


@dataclass(frozen=True)
class ServerStart:
    """A running Jupyter server: its address, process id and start time (seconds since the
    epoch)."""

    url: str
    pid: int
    started: float


def running_servers(runtime_dir: str | Path | None = None) -> list[ServerStart]:
    """The Jupyter servers running on this machine, with their start times.

    Found by ``jupyter_server``'s own ``list_running_servers`` in ``runtime_dir`` (default
    Jupyter's runtime folder); a server's start time is the time its ``jpserver-PID.json`` was
    written, once at start-up. Empty when jupyter_server is not installed.
    """
    try:
        from jupyter_core.paths import jupyter_runtime_dir
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        return []
    folder = Path(jupyter_runtime_dir() if runtime_dir is None else runtime_dir)
    servers = []
    for info in list_running_servers(str(folder)):
        try:
            started = (folder / f"jpserver-{info['pid']}.json").stat().st_mtime
        except OSError:  # stopped meanwhile, or an info file of another name
            continue
        servers.append(ServerStart(str(info.get("url", "?")), int(info["pid"]), started))
    return servers


def extension_install_times(folders: Sequence[str | Path] | None = None) -> dict[str, float]:
    """When each of :data:`WIDGET_EXTENSIONS` was installed, by extension name.

    Args:
        folders: JupyterLab's extension folders in its search order (default Jupyter's
            ``labextensions`` path). An extension found in several counts from the first, as
            JupyterLab loads it from there.

    Returns:
        name -> install time (the newer modification time of the extension's folder and its
        ``package.json``, seconds since the epoch); extensions not found are left out.
    """
    if folders is None:
        try:
            from jupyter_core.paths import jupyter_path
        except ImportError:
            return {}
        folders = jupyter_path("labextensions")
    times: dict[str, float] = {}
    for name in WIDGET_EXTENSIONS:
        for folder in folders:
            extension = Path(folder) / name
            package = extension / "package.json"
            if package.is_file():
                times[name] = max(extension.stat().st_mtime, package.stat().st_mtime)
                break
    return times


def _clock(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def check_server_restart(
    servers: Sequence[ServerStart] | None = None,
    installed: Mapping[str, float] | None = None,
) -> list[Finding]:
    """An error for every running Jupyter server started before a widget extension was
    installed (its pages cannot draw widgets until the server restarts).

    Args:
        servers: the running servers (default :func:`running_servers`).
        installed: extension name -> install time (default :func:`extension_install_times`).
    """
    servers = running_servers() if servers is None else list(servers)
    installed = extension_install_times() if installed is None else dict(installed)
    if not servers:
        return [
            Finding(
                "ok",
                "jupyter server",
                "No running Jupyter server found; one started from now on loads the widgets.",
            )
        ]
    findings = []
    for server in servers:
        late = sorted((t, name) for name, t in installed.items() if t > server.started)
        if not late:
            findings.append(
                Finding(
                    "ok",
                    "jupyter server",
                    f"The server at {server.url} started after the widget extensions were "
                    f"installed.",
                )
            )
            continue
        names = ", ".join(f"{name} ({WIDGET_EXTENSIONS[name]})" for _, name in late)
        findings.append(
            Finding(
                "error",
                "jupyter server",
                f"The Jupyter server at {server.url} (process {server.pid}) started at "
                f"{_clock(server.started)}, before {names} was installed at {_clock(late[-1][0])}."
                f" Its pages cannot draw widgets: they show 'Failed to load model class', a "
                f"line of text, or nothing.",
                RESTART_SERVER,
            )
        )
    return findings


# --------------------------------------------------------------------------------------------
# Data sets
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# torch
# --------------------------------------------------------------------------------------------


def torch_import_error() -> str | None:
    """Why ``import torch`` fails (the exception's type and message), or None when it works.

    A missing torch raises ImportError; a broken install (a shared library missing or built
    for another CPU) often raises OSError or RuntimeError: all of them are reported.
    """
    try:
        import torch  # noqa: F401
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


TORCH_FIX = (
    "Reinstall torch: run make lab (it installs the tested CPU build into .venv), or "
    "pip install 'torch>=2.3,<3' in the environment the notebooks use."
)
"""What to do when torch cannot be imported."""


def check_torch(
    version: str | None = None,
    device: str | torch.device | None = None,
    threads: int | None = None,
    cores: int | None = None,
) -> list[Finding]:
    """torch's version, the device training will use, and its CPU threads.

    Args:
        version: torch's version (default the installed one).
        device: the training device (default ``pick_device("auto")``: CUDA, else MPS, else CPU).
        threads: torch's current intra-op threads (default ``torch.get_num_threads()``).
        cores: physical CPU cores (default :func:`hetconv_edu.train.physical_cores`).

    Returns:
        Findings; a single ``error`` when torch cannot be imported (missing or broken).

    Raises:
        ValueError: ``threads`` or ``cores`` is not a positive integer.
    """
    broken = torch_import_error()
    if broken is not None:
        return [
            Finding(
                "error",
                "torch",
                f"torch cannot be imported ({broken}): no notebook can run its layers.",
                TORCH_FIX,
            )
        ]
    import torch

    from hetconv_edu.train import physical_cores, pick_device

    version = torch.__version__ if version is None else version
    device = pick_device("auto") if device is None else torch.device(device)
    threads = torch.get_num_threads() if threads is None else threads
    cores = physical_cores() if cores is None else cores
    for key, value in (("threads", threads), ("cores", cores)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
    findings = []
    if not _matches(">=2.3,<3", version):
        findings.append(
            Finding(
                "error",
                "torch",
                f"torch {version} is installed; this package needs torch 2.3 or newer (2.x).",
                "pip install 'torch>=2.3,<3' (or run make lab, which installs the tested CPU "
                "build).",
            )
        )
    where = (
        "the CPU: in class, notebook 3 trains on a subset in minutes; a full run takes hours"
        if device.type == "cpu"
        else f"{device}"
    )
    findings.append(Finding("ok", "torch", f"torch {version} trains on {where}."))
    if threads > cores:
        findings.append(
            Finding(
                "warn",
                "torch",
                f"torch runs {threads} threads on {cores} physical cores: threads that share a "
                f"core slow every layer down (latency timings in notebook 2 too).",
                f"Set OMP_NUM_THREADS={cores} before starting JupyterLab, or call "
                f"torch.set_num_threads({cores}).",
            )
        )
    else:
        findings.append(
            Finding("ok", "torch", f"{threads} CPU thread(s) on {cores} physical core(s).")
        )
    if cores == 1:
        findings.append(
            Finding(
                "warn",
                "torch",
                "Only one CPU core is available: training in notebook 3 will be slow.",
                "Close other programs, and train on fewer images (the 'Train images' box of "
                "notebook 3).",
            )
        )
    return findings


# --------------------------------------------------------------------------------------------
# Everything together
# --------------------------------------------------------------------------------------------


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


WIDGETS_WORK = "✔ Widgets work in this page."
WIDGETS_BROKEN = (
    "✘ Widgets do not work in this page: the browser has not loaded the widget extension, so "
    "sliders, buttons and live figures will be missing. " + RESTART_SERVER
)


@dataclass
class _WidgetProbe:
    """A small widget that reads :data:`WIDGETS_WORK` where widgets work; where they do not,
    the page falls back to the text (or HTML) version, which reads :data:`WIDGETS_BROKEN`."""

    widget: Any = field(repr=False)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs))
        bundle["text/plain"] = WIDGETS_BROKEN
        bundle["text/html"] = (
            f"<style>{MESSAGE_CSS}</style>"
            f"<div class='hetconv-text-error'>{html.escape(WIDGETS_BROKEN)}</div>"
        )
        return bundle


def report_outputs(report: Report) -> list[Any]:
    """What :func:`check_setup` displays: the report (plain HTML, readable even when widgets
    are broken), a hint for what the page alone can tell, and the widget probe."""
    outputs: list[Any] = [report]
    try:
        import ipywidgets
    except ImportError:
        return outputs
    from IPython.display import HTML

    outputs.append(
        HTML(
            f"<style>{MESSAGE_CSS}</style><div class='hetconv-note'>Next line not <b>"
            f"{html.escape(WIDGETS_WORK)}</b> but 'Failed to load model class', 'Error "
            "displaying widget' or nothing? Restart the Jupyter server (not only the kernel), "
            "then reload the page.</div>"
        )
    )
    probe = ipywidgets.HTML(
        f"<style>{MESSAGE_CSS}</style>"
        f"<span class='hetconv-text-ok'>{html.escape(WIDGETS_WORK)}</span>"
    )
    outputs.append(_WidgetProbe(probe))
    return outputs


def check_setup(data_root: str | Path | None = None) -> None:
    """Show the setup report in a notebook (for a first cell): green when all is well,
    otherwise each warning and error with its fix, then a widget that shows whether this page
    can draw widgets."""
    from IPython.display import display

    display(*report_outputs(diagnose(data_root)))
