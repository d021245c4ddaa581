"""Drive a real JupyterLab or Voilà in headless Chromium (Playwright): the browser tests' harness.

Not a test module. A browser test does::

    from browser_harness import jupyter_lab

    @pytest.fixture(scope="module")
    def lab():
        with jupyter_lab(label="explorer") as lab:   # server + browser, cleaned up always
            yield lab

    def test_something(lab):
        lab.open_notebook("01_kernel_explorer.ipynb")
        lab.run_all_cells()                          # Run → Run All Cells, wait until idle
        lab.press("P part", "ArrowRight")            # keyboard on the widget labelled "P part"
        lab.expect_text(".hetconv-counters", "P = 8")
        lab.screenshot("explorer-p8")                # test-artifacts/explorer-p8.png
        lab.assert_no_external_requests()

or, for a notebook served as a code-free app by Voilà (``scripts/app.sh``, what ``make app``
runs)::

    with voila_app("01_kernel_explorer.ipynb", label="voila") as app:
        app.open_app()                               # wait until Voilà ran every cell
        app.press("P part", "ArrowRight")            # the same widget helpers as in the Lab

What it does:

* :class:`JupyterServer` is what both servers share: a process bound to 127.0.0.1 only, on a
  free port, with a random token, ``--port-retries=0``, isolated config/runtime/IPython folders,
  its own process group (stopped with its kernels), a log file, a readiness probe.
* :class:`JupyterLabServer` starts ``python -m jupyterlab`` with isolated settings folders
  (no news fetching, no update checks, notebook windowing off so every cell is in the DOM),
  serving a temporary copy of ``notebooks/`` (so autosave never writes into the repository;
  the repository's other top-level folders are linked beside it, so ``../data`` still works).
* :class:`VoilaServer` starts ``scripts/app.sh NOTEBOOK`` (Voilà with the package's offline
  template) on the repository's ``notebooks/`` (Voilà never writes to a notebook).
* :func:`jupyter_lab` adds Chromium (``shutil.which("chromium")``, the flags of
  :data:`CHROMIUM_ARGS`) and yields a :class:`LabPage`: open a notebook, run all cells, find a
  widget by its description, press keys on it, read text, read a plotly figure's data, take
  screenshots into ``test-artifacts/``.
  :func:`voila_app` does the same for a :class:`VoilaServer` and yields a :class:`VoilaPage`
  (the widget helpers of :class:`BrowserPage`, plus :meth:`VoilaPage.open_app`).
* :func:`lab_session` yields a :class:`LabSession`: one JupyterLab server and one Chromium for
  a whole test session, each notebook opened and run once and its page shared by the tests of
  that notebook (the ``lab_notebooks`` fixture of tests/conftest.py).
* An :class:`ExternalRequestGuard` blocks and records every request the page makes to a host
  other than 127.0.0.1/localhost; :meth:`BrowserPage.assert_no_external_requests` fails on any,
  and both context managers assert it once more when their block ends without an error, so
  no browser test can pass while its page reached for the internet.
* On an exception inside the ``with`` block a screenshot and the server log are saved to
  ``test-artifacts/`` before everything is shut down (browser, server and its kernels).

If Chromium is missing, :func:`require_chromium` (called by both) fails the test with a
message saying how to install it: browser tests fail, they never skip.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote, urlsplit

import numpy as np

from hetconv_edu.viz.explorer import KINDS

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The repository root."""
NOTEBOOKS = REPO_ROOT / "notebooks"
"""The repository's notebooks folder (served as a temporary copy by default)."""
ARTIFACTS = REPO_ROOT / "test-artifacts"
"""Where screenshots and failure logs go (git-ignored)."""
APP_SCRIPT = REPO_ROOT / "scripts" / "app.sh"
"""What ``make app`` runs: one notebook as a Voilà app on 127.0.0.1."""

CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Chromium flags that work in containers run as root, with no traffic of Chromium's own."""

SLOW_DEVICE_RATE = 4.0
"""How much Chromium's CPU is slowed on every page by default (``Emulation.setCPUThrottlingRate``
over the DevTools protocol; Lighthouse's rate for a slow device). Figures must stay live there."""

BACKGROUND_PROCESSES = 2
"""How many CPU-bound processes :func:`cpu_load` runs beside the kernels by default."""

RELOAD_TIMEOUT = 300.0
"""How long (s) the figures of a reloaded JupyterLab page may take to come back: on the slow
device, with the other pytest worker's browser beside it, the page loads JupyterLab's bundles
and redraws every figure at a sixteenth of a core's speed (120 s ran out in CI twice)."""

PROJECTOR_SCREEN = (1280, 720)
"""A projector's screen (px): the viewport of the shared JupyterLab pages (:class:`LabSession`)."""


LIVE_FIGURE = ".hetconv-live-figure"
"""CSS selector of every app figure on the page (:mod:`hetconv_edu.apps.live_figure`)."""

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
"""Hosts the page may talk to."""

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

INSTALL_HINT = (
    "Chromium is needed for the browser tests and was not found on PATH "
    f"(looked for {', '.join(CHROMIUM_NAMES)}). Install it, e.g. on Debian/Ubuntu: "
    "`sudo apt-get install chromium` (or run `scripts/system-deps.sh --browser`). "
    "Playwright's own browser download is not used."
)

# JupyterLab settings for a quiet, deterministic page.
_LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
    },
    "@jupyterlab/apputils-extension/themes.jupyterlab-settings": {
        "theme": "JupyterLab Light",
    },
}
_SERVER_CONFIG = {
    "LabApp": {
        "news_url": None,
        "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
    },
    "ServerApp": {"open_browser": False},
}


class BrowserUnavailable(RuntimeError):
    """No Chromium executable was found."""


def chromium_path() -> str:
    """Path of the Chromium executable, or :class:`BrowserUnavailable` with install advice."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise BrowserUnavailable(INSTALL_HINT)


def require_chromium() -> str:
    """Path of Chromium, or fail the calling test (``pytest.fail``, not skip) with advice."""
    try:
        return chromium_path()
    except BrowserUnavailable as exc:
        import pytest

        pytest.fail(str(exc), pytrace=False)
        raise  # unreachable: pytest.fail raises


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


LOAD_DIR = Path(tempfile.gettempdir()) / "hetconv-edu-cpu-load"
"""Where :func:`cpu_load` keeps one file per block that wants the load (``holder-PID-N``) and
one per busy loop (``loop-PID``): test processes running side by side share one set of loops."""

_BUSY_LOOP = """
import os, sys, time
folder, end = sys.argv[1], time.monotonic() + float(sys.argv[2])
mine = os.path.join(folder, f"loop-{os.getpid()}")

def wanted():
    for name in os.listdir(folder):
        if name.startswith("holder-"):
            try:
                os.kill(int(name.split("-")[1]), 0)
                return True
            except (OSError, ValueError):
                pass
    return False

try:
    while time.monotonic() < end and wanted():
        spin = time.monotonic() + 0.2
        while time.monotonic() < spin:
            pass
finally:
    os.unlink(mine)
"""


_LOOPS: list[subprocess.Popen[bytes]] = []
"""The busy loops this process started (kept, so that none is collected while it runs)."""


def _live_loops() -> int:
    """How many busy loops run now (a loop removes its file when it ends; a killed one's file
    names a process that is gone)."""
    count = 0
    for path in LOAD_DIR.glob("loop-*"):
        try:
            os.kill(int(path.name.split("-")[1]), 0)
            count += 1
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
    return count


@contextlib.contextmanager
def cpu_load(processes: int = BACKGROUND_PROCESSES, *, seconds: float = 900.0) -> Iterator[None]:
    """Keep ``processes`` CPU-bound busy loops running on this machine (other work on the
    kernels' machine) for the block.

    The loops are shared by every test process: when two pytest workers each drive a browser
    at once, the machine runs ``processes`` loops, not twice as many (each kernel then also
    has the other worker's browser beside it). A loop ends when no block wants it any more
    (within 0.2 s of the last one's end), after ``seconds`` at the latest, and with the block
    that started it on a failure of the machine's own (its holder process gone)."""
    LOAD_DIR.mkdir(exist_ok=True)
    holder = LOAD_DIR / f"holder-{os.getpid()}-{secrets.token_hex(4)}"
    with open(LOAD_DIR / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        holder.touch()
        for _ in range(processes - _live_loops()):
            proc = subprocess.Popen(
                [sys.executable, "-c", _BUSY_LOOP, str(LOAD_DIR), str(seconds)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            (LOAD_DIR / f"loop-{proc.pid}").touch()
            _LOOPS.append(proc)
        _LOOPS[:] = [proc for proc in _LOOPS if proc.poll() is None]
    try:
        yield
    finally:
        holder.unlink(missing_ok=True)


# ------------------------------------------------------------------------------ server


class JupyterServer:
    """A Jupyter web server process on 127.0.0.1 with a token, as a context manager.

    Subclasses give the command (:meth:`command`), the folder it runs in (:attr:`cwd`, set by
    :meth:`prepare`) and a path that answers 200 once it serves (:attr:`ready_path`). ``env``:
    extra environment for the server and its kernels.
    """

    ready_path = "api/status"
    log_name = "server.log"

    def __init__(
        self, *, env: dict[str, str] | None = None, startup_timeout: float = 120.0
    ) -> None:
        self.extra_env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.token = secrets.token_hex(16)
        self.port = 0
        self.cwd: Path = REPO_ROOT
        self.log_path: Path | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    # -- URLs

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``"""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "") -> str:
        """Absolute URL of ``path`` (e.g. ``"lab/tree/x.ipynb"``) with the token attached."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    # -- what subclasses say

    def prepare(self, tmp: Path) -> dict[str, str]:
        """Make what the server needs in the temporary folder ``tmp``; set :attr:`cwd`.
        Returns extra environment variables."""
        return {}

    def command(self) -> list[str]:
        """The command line that starts the server on :attr:`port` with :attr:`token`."""
        raise NotImplementedError

    # -- lifecycle

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _prepare_dirs(self) -> dict[str, str]:
        self._tmp = tempfile.TemporaryDirectory(prefix="hetconv-server-")
        tmp = Path(self._tmp.name)
        for name in ("config", "runtime", "ipython"):
            (tmp / name).mkdir()
        self.log_path = tmp / self.log_name
        return {
            "JUPYTER_CONFIG_DIR": str(tmp / "config"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
            "IPYTHONDIR": str(tmp / "ipython"),
            **self.prepare(tmp),
        }

    def start(self) -> None:
        """Start the server and wait until it answers (retrying on a taken port)."""
        dirs = self._prepare_dirs()
        env = {**os.environ, **dirs, **self.extra_env}
        env.pop("JUPYTER_TOKEN", None)
        last_error = ""
        for _attempt in range(3):
            self.port = free_port()
            assert self.log_path is not None
            self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            self._proc = subprocess.Popen(
                self.command(),
                cwd=self.cwd,
                env=env,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kernels included in stop()
            )
            if self._wait_ready():
                return
            last_error = self.log_tail()
            self._terminate()
        self.stop()
        raise RuntimeError(f"{type(self).__name__} did not start; last log lines:\n{last_error}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        probe = self.url(self.ready_path)
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(probe, timeout=2) as reply:
                    if reply.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        return False

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            # The server was started in its own session: its process group is ours to end.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def stop(self) -> None:
        """Stop the server and its kernels; remove the temporary folders."""
        self._terminate()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


class JupyterLabServer(JupyterServer):
    """A JupyterLab server (see :class:`JupyterServer`).

    ``notebooks``: the folder to serve (default: the repository's ``notebooks/``).
    ``copy=True`` serves a temporary copy of it (the repository is never written; other
    top-level entries of its parent are symlinked beside the copy).
    """

    log_name = "jupyterlab.log"

    def __init__(
        self,
        notebooks: Path | str | None = None,
        *,
        copy: bool = True,
        env: dict[str, str] | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        super().__init__(env=env, startup_timeout=startup_timeout)
        self.source = Path(notebooks) if notebooks is not None else NOTEBOOKS
        self.copy = copy
        self.root_dir: Path = self.source
        self._settings = self._workspaces = Path()

    def url(self, path: str = "lab") -> str:
        """Absolute URL of ``path`` (default: the Lab) with the token attached."""
        return super().url(path)

    def prepare(self, tmp: Path) -> dict[str, str]:
        if self.copy:
            project = tmp / "project"
            project.mkdir()
            self.root_dir = project / self.source.name
            shutil.copytree(
                self.source,
                self.root_dir,
                ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
            )
            skip = {self.source.name, ".git", ".venv", "test-artifacts"}
            for entry in self.source.parent.iterdir():
                if entry.name not in skip:
                    (project / entry.name).symlink_to(entry)
        else:
            self.root_dir = self.source
        self.cwd = self.root_dir
        self._settings, self._workspaces = tmp / "settings", tmp / "workspaces"
        for rel, value in _LAB_SETTINGS.items():
            path = self._settings / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
        self._workspaces.mkdir()
        (tmp / "config" / "jupyter_server_config.json").write_text(json.dumps(_SERVER_CONFIG))
        return {}

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--LabApp.user_settings_dir={self._settings}",
            f"--LabApp.workspaces_dir={self._workspaces}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        return cmd


class VoilaServer(JupyterServer):
    """One notebook of ``notebooks/`` served by Voilà as a code-free app, started exactly as
    ``make app NB=...`` starts it: ``scripts/app.sh NOTEBOOK`` (127.0.0.1, no browser, the
    package's offline template), here with this server's port and token and the Python
    running the tests (see :class:`JupyterServer`)."""

    ready_path = "voila/static/voila.js"  # static: answers without starting a kernel
    log_name = "voila.log"

    def __init__(
        self,
        notebook: str,
        *,
        env: dict[str, str] | None = None,
        options: Sequence[str] = (),
        startup_timeout: float = 120.0,
    ) -> None:
        super().__init__(env=env, startup_timeout=startup_timeout)
        self.notebook = notebook
        self.options = tuple(options)  # more Voilà options, e.g. "--preheat_kernel=True"

    def prepare(self, tmp: Path) -> dict[str, str]:
        self.cwd = REPO_ROOT
        return {"PYTHON": sys.executable}

    def command(self) -> list[str]:
        # scripts/app.sh reads the port from $PORT: set per attempt through the command line.
        return ["env", f"PORT={self.port}", str(APP_SCRIPT), self.notebook,
                "--Voila.port_retries=0", f"--token={self.token}", *self.options]  # fmt: skip


# ------------------------------------------------------------------------------ network


@dataclass
class ExternalRequestGuard:
    """Blocks and records every request to a host outside :data:`LOCAL_HOSTS`.

    Install with :meth:`install` on a Playwright browser context (HTTP(S) requests are routed
    and aborted; WebSockets are recorded). ``requests`` lists the blocked URLs.
    """

    requests: list[str] = field(default_factory=list)

    @staticmethod
    def is_local(url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about", "chrome", "devtools"):
            return True
        return (parts.hostname or "") in LOCAL_HOSTS

    def install(self, context: Any) -> None:
        def route(route: Any) -> None:
            url = route.request.url
            if self.is_local(url):
                route.continue_()
            else:
                self.requests.append(url)
                route.abort()

        context.route("**/*", route)

    def watch(self, page: Any) -> None:
        def on_ws(ws: Any) -> None:
            if not self.is_local(ws.url):
                self.requests.append(ws.url)

        page.on("websocket", on_ws)


# ------------------------------------------------------------------------------ page


def _xpath_literal(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    parts = text.split("'")
    return "concat(" + ', "\'", '.join(f"'{p}'" for p in parts) + ")"


_CONTROL_SELECTOR = ", ".join(
    [
        ".noUi-handle",
        "input:not([type=hidden])",
        "select",
        "textarea",
        "button",
    ]
)

_IDLE_JS = """
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return 'no notebook';
  const cells = [...panel.querySelectorAll('.jp-CodeCell')];
  for (const cell of cells) {
    if (cell.querySelector('.jp-InputPlaceholder')) continue;  // input hidden: no prompt to read
    const prompt = cell.querySelector('.jp-InputArea-prompt');
    const text = prompt ? prompt.textContent : '';
    if (!/\\[\\d+\\]/.test(text)) return 'cell not done: ' + text;
  }
  const ind = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const status = ind ? (ind.getAttribute('data-status') || '') : 'idle';
  if (status && status !== 'idle') return 'kernel ' + status;
  return 'idle';
}
"""

_KERNEL_READY_JS = """
() => {
  const i = document.querySelector(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
  if (!i || i.getAttribute('data-status') !== 'idle') return false;
  const bar = document.querySelector('#jp-main-statusbar');
  return !!bar && /\\|\\s*Idle/.test(bar.textContent);
}
"""

_IDLE_STATUS = re.compile(r'"execution_state"\s*:\s*"idle"')
"""An iopub status message saying the kernel finished handling a message."""

_PAGE_IDLE_JS = """
() => new Promise((done) => requestIdleCallback(() => done(true), {timeout: 10000}))
"""

_DECODE_JS = """
const _DTYPES = {i1: Int8Array, u1: Uint8Array, u1c: Uint8ClampedArray, i2: Int16Array,
  u2: Uint16Array, i4: Int32Array, u4: Uint32Array, f4: Float32Array, f8: Float64Array};
const decode = (v) => {
  if (v && typeof v === 'object' && typeof v.bdata === 'string' && v.dtype in _DTYPES) {
    const raw = atob(v.bdata);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    const flat = Array.from(new _DTYPES[v.dtype](bytes.buffer));
    const shape = v.shape ? String(v.shape).split(',').map(Number) : [];
    if (shape.length === 2) {
      return Array.from({length: shape[0]}, (_, r) => flat.slice(r * shape[1], (r + 1) * shape[1]));
    }
    return flat;
  }
  return v;
};
"""

_PLOT_JS = (
    """
(el) => {"""
    + _DECODE_JS
    + """
  const gd = el.classList.contains('js-plotly-plot') ? el : el.querySelector('.js-plotly-plot');
  if (!gd || !gd.data) return null;
  const arr = (v) => { v = decode(v); return (v == null ? null : (typeof v === 'string' ? v :
      (ArrayBuffer.isView(v) || Array.isArray(v) ? Array.from(v) : v))); };
  return {
    data: gd.data.map((t) => ({
      type: t.type, name: t.name, visible: t.visible === undefined ? true : t.visible,
      x: arr(t.x), y: arr(t.y), z: arr(t.z), text: arr(t.text),
      hovertemplate: t.hovertemplate, showlegend: t.showlegend,
    })),
    annotations: ((gd.layout || {}).annotations || []).map((a) => a.text),
    legend: [...gd.querySelectorAll('.legendtext')].map((e) => e.textContent),
  };
}
"""
)

SIGNATURES_JS = (
    """
(root) => {
  // One string per live figure in root: a hash of everything the figure shows (its traces'
  // data and its layout, typed arrays included); 'none' while it has no drawn plot.
  const hash = (value) => {
    let h = 2166136261;
    const add = (s) => {
      for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
    };
    const walk = (v) => {
      if (v === null || v === undefined) { add('~'); return; }
      if (ArrayBuffer.isView(v)) {
        add('T' + v.length);
        for (let i = 0; i < v.length; i++) add(String(v[i]) + ',');
        return;
      }
      if (Array.isArray(v)) { add('[' + v.length); v.forEach(walk); add(']'); return; }
      if (typeof v === 'object') {
        for (const k of Object.keys(v).sort()) {
          if (k.startsWith('_') || k === 'template' || k === 'uid') continue;
          add(k + ':'); walk(v[k]);
        }
        return;
      }
      add(typeof v + String(v) + ';');
    };
    walk(value);
    return (h >>> 0).toString(16);
  };
  // Every send of a live figure draws a new plot element, so a plot's hash is kept on it
  // (recomputed only if plotly gives it other data or layout objects): polling is cheap.
  return [...root.querySelectorAll('"""
    + LIVE_FIGURE
    + """')].map((fig) => {
    const gd = fig.querySelector('.js-plotly-plot');
    if (!gd || !gd.data) return 'none';
    const memo = gd.__hetconvSignature;
    if (memo && memo.data === gd.data && memo.layout === gd.layout) return memo.hash;
    const h = hash([gd.data, gd.layout]);
    gd.__hetconvSignature = {data: gd.data, layout: gd.layout, hash: h};
    return h;
  });
}
"""
)

_CONTROLS_JS = """
(root) => {
  // Tag every control of a section that should redraw a figure: sliders, toggle-button
  // groups, dropdowns, checkboxes, number boxes; not disabled ones, not buttons that start
  // something, not those the app marks as changing no figure (hetconv-no-figure).
  const found = [];
  const skip = (w) => !!w.closest('.hetconv-no-figure') || !!w.closest('.hetconv-live-figure');
  const kinds = [
    ['.widget-slider, .widget-hslider', 'slider'],
    ['.widget-toggle-buttons', 'toggles'],
    ['.widget-dropdown', 'dropdown'],
    ['.widget-checkbox', 'checkbox'],
    ['.widget-text:has(input[type=number])', 'number'],
  ];
  for (const [selector, kind] of kinds) {
    for (const w of root.querySelectorAll(selector)) {
      if (skip(w) || w.offsetParent === null) continue;
      const input = w.querySelector('input, select, .noUi-handle, button');
      if (!input || input.disabled || w.classList.contains('mod-disabled')) continue;
      if (w.querySelector('.noUi-target[disabled]')) continue;  // a disabled slider
      const other = w.querySelector('button:not(.mod-active):not([disabled])');
      if (kind === 'toggles' && !other) continue;
      const label = (w.querySelector('label') || {}).textContent || '';
      w.setAttribute('data-hetconv-sweep', String(found.length));
      found.push({kind, label: label.trim()});
    }
  }
  return found;
}
"""


@dataclass
class ControlChange:
    """What :meth:`BrowserPage.sweep_controls` did with one control and what followed."""

    section: int
    kind: str
    label: str
    redrawn: bool
    seconds: float

    def __str__(self) -> str:
        what = "redrew" if self.redrawn else "NO REDRAW"
        return f"section {self.section}: {self.kind} {self.label!r}: {what} in {self.seconds:.1f} s"


class BrowserPage:
    """A Chromium page on a :class:`JupyterServer`: finding widgets, keys, text, plots,
    screenshots and the network check, the same in JupyterLab and in Voilà.

    Attributes: ``page`` (the Playwright page, for anything not wrapped here), ``server``,
    ``guard`` (:class:`ExternalRequestGuard`), ``console_errors`` and ``page_errors``
    (JavaScript console errors and uncaught exceptions seen so far).
    """

    def __init__(self, page: Any, server: JupyterServer, guard: ExternalRequestGuard) -> None:
        self.page = page
        self.server = server
        self.guard = guard
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.cpu_slowdown = 1.0
        self._cdp: Any = None
        self._kernel_frame = self._kernel_idle = 0.0
        page.on(
            "console",
            lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("websocket", self._watch_kernel)

    def _watch_kernel(self, ws: Any) -> None:
        """Note when the page last heard from its kernel, and when the kernel last said it
        went idle (the end of every message it handled, a widget change included)."""
        if "/channels" not in ws.url:
            return

        def on_frame(payload: str | bytes) -> None:
            self._kernel_frame = time.monotonic()
            text = payload if isinstance(payload, str) else payload.decode("utf-8", "ignore")
            if _IDLE_STATUS.search(text):
                self._kernel_idle = self._kernel_frame

        ws.on("framereceived", on_frame)

    def cell_errors(self) -> list[str]:
        """Texts of error/stderr outputs and of widgets that failed to display."""
        texts = self.page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        ).all_inner_texts()
        for marker in ("Error displaying widget", "Error rendering output"):
            # what the widget manager writes in place of a view: at the start of an element
            # (a sentence that only mentions the message, e.g. setup advice, is no error)
            texts += self.page.get_by_text(re.compile(rf"^\s*{marker}")).all_inner_texts()
        return texts

    # -- widgets

    def widget(self, description: str, *, nth: int = 0, within: str | None = None) -> Any:
        """The ipywidget whose description (label text) is exactly ``description``.

        ``nth`` picks among several (document order); ``within`` is a CSS selector of an
        ancestor to search in (e.g. ``".hetconv-explorer >> nth=1"``).
        """
        lit = _xpath_literal(description)
        xpath = (
            "xpath=.//*[contains(concat(' ', normalize-space(@class), ' '), ' lm-Widget ')]"
            f"[./label[normalize-space(.)={lit}] or ./label/span[normalize-space(.)={lit}]]"
        )
        root = self.page.locator(within) if within else self.page.locator("body")
        return root.locator(xpath).nth(nth)

    def control(self, description: str, *, nth: int = 0, within: str | None = None) -> Any:
        """The focusable element of that widget (slider handle, input, select, button)."""
        return self.widget(description, nth=nth, within=within).locator(_CONTROL_SELECTOR).first

    def press(
        self,
        description: str,
        key: str,
        *,
        times: int = 1,
        nth: int = 0,
        within: str | None = None,
        pause_ms: int = 150,
    ) -> None:
        """Focus the widget's control and press ``key`` (Playwright key name) ``times`` times."""
        target = self.control(description, nth=nth, within=within)
        target.scroll_into_view_if_needed()
        target.focus()
        for _ in range(times):
            target.press(key)
            self.page.wait_for_timeout(pause_ms)

    def fill(
        self, description: str, value: str, *, nth: int = 0, within: str | None = None
    ) -> None:
        """Type ``value`` into a text/number widget and press Enter (syncs it to the kernel)."""
        target = self.control(description, nth=nth, within=within)
        target.fill(value)
        target.press("Enter")

    def readout(self, description: str, *, nth: int = 0, within: str | None = None) -> str:
        """A slider's readout text, or an input's current value."""
        widget = self.widget(description, nth=nth, within=within)
        readout = widget.locator(".widget-readout")
        if readout.count():
            return readout.first.inner_text().strip()
        return widget.locator("input, select").first.input_value()

    # -- reading the page

    def text(self, selector: str, *, nth: int = 0) -> str:
        """Visible text of the ``nth`` element matching ``selector``."""
        return self.page.locator(selector).nth(nth).inner_text()

    def expect_text(
        self, selector: str, expected: str | re.Pattern[str], *, nth: int = 0, timeout: float = 20
    ) -> None:
        """Wait until that element contains ``expected`` (assertion error after ``timeout``)."""
        from playwright.sync_api import expect

        expect(self.page.locator(selector).nth(nth)).to_contain_text(
            expected, timeout=timeout * 1000
        )

    def plot(self, selector: str, *, nth: int = 0) -> dict[str, Any] | None:
        """The rendered plotly figure inside the ``nth`` ``selector`` element: its traces
        (type, name, x, y, z, text, …, typed arrays as lists), annotation texts and legend
        texts — what the browser has, not what Python sent."""
        return self.page.locator(selector).nth(nth).evaluate(_PLOT_JS)

    def wait_for_plot(
        self, selector: str, predicate_js: str, *, nth: int = 0, timeout: float = 60
    ) -> None:
        """Wait until ``predicate_js`` (a JS function of the plot div) returns true. The div
        it gets shows ``data`` with plotly's typed-array specs decoded to plain arrays (the
        rest, e.g. ``_fullLayout``, is the plot's own)."""
        handle = self.page.locator(selector).nth(nth).element_handle(timeout=timeout * 1000)
        self.page.wait_for_function(
            "(el) => {"
            + _DECODE_JS
            + f"""
                 const deep = (v) => {{ const d = decode(v);
                   if (d !== v) return d;
                   if (Array.isArray(v)) return v.map(deep);
                   if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) {{
                     return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deep(x)]));
                   }}
                   return v; }};
                 const gd = el.classList.contains('js-plotly-plot') ? el :
                   el.querySelector('.js-plotly-plot');
                 if (!gd || !gd.data) return false;
                 const view = Object.create(gd, {{data: {{value: gd.data.map(deep)}}}});
                 return ({predicate_js})(view); }}""",
            arg=handle,
            timeout=timeout * 1000,
        )

    def hover(
        self,
        selector: str,
        x: float,
        y: float,
        *,
        xaxis: str = "xaxis",
        yaxis: str = "yaxis",
        nth: int = 0,
        timeout: float = 10,
    ) -> str:
        """Move the mouse to data point (x, y) of a plotly figure and return its hover text
        (the SVG text content: multi-line labels come concatenated).

        ``xaxis``/``yaxis`` name the layout axes of the subplot (``"xaxis2"`` …).
        """
        handle = self.page.locator(selector).nth(nth).element_handle()
        point = self.page.evaluate(
            """([el, x, y, xa, ya]) => {
                 const gd = el.classList.contains('js-plotly-plot') ? el :
                   el.querySelector('.js-plotly-plot');
                 const ax = gd._fullLayout[xa], ay = gd._fullLayout[ya];
                 const box = gd.getBoundingClientRect();
                 return [box.left + ax._offset + ax.l2p(x), box.top + ay._offset + ay.l2p(y)];
               }""",
            [handle, x, y, xaxis, yaxis],
        )
        self.page.mouse.move(point[0], point[1])
        label = self.page.locator(selector).nth(nth).locator(".hoverlayer .hovertext")
        label.first.wait_for(timeout=timeout * 1000)
        return label.first.text_content() or ""  # SVG: lines are concatenated

    def screenshot(self, name: str, *, selector: str | None = None, nth: int = 0) -> Path:
        """Save a PNG to ``test-artifacts/<name>.png``: the viewport, or one whole element.

        JupyterLab scrolls the notebook inside its own panel, so an element taller than that
        panel cannot be captured by scrolling: the viewport is enlarged for the shot instead.
        """
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        if selector is None:
            self.page.screenshot(path=str(path))
            return path
        target = self.page.locator(selector).nth(nth)
        target.scroll_into_view_if_needed()
        box = target.bounding_box()
        size = self.page.viewport_size
        needed = int(box["height"]) + 300 if box else 0
        if size and needed > size["height"]:
            self.page.set_viewport_size({"width": size["width"], "height": needed})
            self.page.wait_for_timeout(500)
        try:
            target.scroll_into_view_if_needed()
            target.screenshot(path=str(path))
        finally:
            if size and needed > size["height"]:
                self.page.set_viewport_size(size)
                self.page.wait_for_timeout(300)
        return path

    # -- live figures

    def slow_down(self, rate: float = SLOW_DEVICE_RATE) -> None:
        """Slow this page's CPU ``rate`` times (1: full speed) over the DevTools protocol."""
        if self._cdp is None:
            self._cdp = self.page.context.new_cdp_session(self.page)
        self._cdp.send("Emulation.setCPUThrottlingRate", {"rate": float(rate)})
        self.cpu_slowdown = float(rate)

    def figure_signatures(self, root: Any) -> list[str]:
        """One hash per live figure inside the element ``root`` (a locator) of what the
        browser draws (traces and layout), ``'none'`` for a figure not drawn."""
        return root.evaluate(SIGNATURES_JS)

    def sections(self) -> Any:
        """The page's sections: the notebook cells (JupyterLab and Voilà) that show at least
        one live figure its controls drive (not only figures a button's action draws,
        ``hetconv-action-figure``), as a locator."""
        driven = self.page.locator(f"{LIVE_FIGURE}:not(.hetconv-action-figure)")
        return self.page.locator(".jp-Cell").filter(has=driven)

    def wait_for_figures(self, *, timeout: float = 120) -> int:
        """Wait until every live figure on the page is drawn; returns how many there are.

        Raises:
            AssertionError: not all were drawn within ``timeout`` s (how many were).
        """
        drawn = f"""() => {{ const figs = [...document.querySelectorAll('{LIVE_FIGURE}')];
                 const done = figs.filter((f) => {{
                   const gd = f.querySelector('.js-plotly-plot');
                   return !!gd && !!gd.data; }}).length;
                 return [done, figs.length]; }}"""
        try:
            self.page.wait_for_function(
                f"() => {{ const [done, all] = ({drawn})(); return all > 0 && done === all; }}",
                timeout=timeout * 1000,
                polling=250,
            )
        except Exception as err:
            done, total = self.page.evaluate(drawn)
            raise AssertionError(f"{done} of {total} live figures drawn after {timeout} s") from err
        return self.page.locator(LIVE_FIGURE).count()

    def change_control(self, control: Any, kind: str) -> None:
        """Change one control the way a student would: a slider one keyboard step (back if
        at its end), another toggle button, the next dropdown option (or the previous), a
        checkbox flipped, a number box one up (or down at its maximum) and Enter."""
        control.scroll_into_view_if_needed()
        if kind == "slider":
            handle = control.locator(".noUi-handle").first
            at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            handle.focus()
            handle.press("ArrowLeft" if at_end else "ArrowRight")
        elif kind == "toggles":
            control.locator("button:not(.mod-active):not([disabled])").first.click()
        elif kind == "dropdown":
            select = control.locator("select")
            count = select.locator("option").count()
            index = select.evaluate("(s) => s.selectedIndex")
            select.select_option(index=index + 1 if index + 1 < count else index - 1)
        elif kind == "checkbox":
            control.locator("input").click()
        elif kind == "number":
            box = control.locator("input[type=number]")
            value, top = float(box.input_value()), box.get_attribute("max")
            new = value - 1 if top is not None and value + 1 > float(top) else value + 1
            box.fill(f"{new:g}")
            box.press("Enter")
        else:
            raise ValueError(f"unknown control kind {kind!r}")

    def wait_until_still(
        self, root: Any, *, since: float, quiet: float = 0.3, timeout: float = 30
    ) -> None:
        """Wait until everything a change made at ``since`` (``time.monotonic()``) sent is
        drawn in ``root``: the kernel went idle after it, nothing came from the kernel for
        ``quiet`` seconds, the page's main thread had nothing left to do, and every live
        figure in ``root`` is drawn and the same as at the previous look."""
        deadline = time.monotonic() + timeout
        last = self.figure_signatures(root)
        while time.monotonic() < deadline:
            now = time.monotonic()
            if self._kernel_idle < since or now - self._kernel_frame < quiet:
                self.page.wait_for_timeout(100)
                continue
            self.page.evaluate(_PAGE_IDLE_JS)
            signatures = self.figure_signatures(root)
            heard = time.monotonic() - self._kernel_frame
            if signatures == last and "none" not in signatures and heard >= quiet:
                return
            last = signatures

    def sweep_controls(
        self,
        *,
        timeout: float = 30,
        one_per_section: bool = False,
        every_control_in: Collection[int] = (),
    ) -> list[ControlChange]:
        """Change every figure control of every section once (:meth:`change_control`, the
        controls found by their widget classes) and see whether a live figure of the same
        section was drawn anew, with other content, in the browser within ``timeout`` s; then
        wait until everything that change sent is drawn (:meth:`wait_until_still`), so a late
        redraw is never credited to the next control. Controls inside a figure, disabled ones
        and those the app marks ``hetconv-no-figure`` (settings of an action started by a
        button, numbers-only settings) are left alone.

        ``one_per_section``: change one control per section instead, the ``i``-th section's
        control number ``i`` (modulo its count), so the sections between them move sliders,
        toggles, dropdowns, checkboxes and number boxes; the sections numbered in
        ``every_control_in`` still have every control changed."""
        changes: list[ControlChange] = []
        sections = self.sections()
        for index in range(sections.count()):
            section = sections.nth(index)
            found = section.evaluate(_CONTROLS_JS)
            chosen = range(len(found))
            if one_per_section and index not in every_control_in and found:
                chosen = range(index % len(found), index % len(found) + 1)
            for number in chosen:
                info = found[number]
                control = section.locator(f"[data-hetconv-sweep='{number}']").first
                before = self.figure_signatures(section)
                started = time.monotonic()
                self.change_control(control, info["kind"])
                redrawn = True
                try:
                    self.page.wait_for_function(
                        f"([root, before]) => {{ const now = ({SIGNATURES_JS})(root); "
                        "return !now.includes('none') && JSON.stringify(now) !== before; }",
                        arg=[section.element_handle(), json.dumps(before, separators=(",", ":"))],
                        timeout=timeout * 1000,
                        polling=200,
                    )
                except Exception as exc:  # playwright's TimeoutError
                    if "Timeout" not in type(exc).__name__:
                        raise
                    redrawn = False
                seconds = time.monotonic() - started
                if redrawn:  # a late redraw is not credited to the next control
                    self.wait_until_still(section, since=started)
                changes.append(ControlChange(index, info["kind"], info["label"], redrawn, seconds))
            section.evaluate(
                "(root) => root.querySelectorAll('[data-hetconv-sweep]')"
                ".forEach((e) => e.removeAttribute('data-hetconv-sweep'))"
            )
        return changes

    # -- network

    def assert_no_external_requests(self) -> None:
        """Fail if the page tried to reach any host other than 127.0.0.1/localhost."""
        assert not self.guard.requests, (
            "the page tried to reach external hosts (blocked): " + ", ".join(self.guard.requests)
        )


def rendered_map(page: BrowserPage, shape: tuple[int, int]) -> np.ndarray:
    """The first kernel-explorer map on the page (JupyterLab or Voilà) as the browser holds it:
    an N×M array of :class:`~hetconv_edu.pattern.Kernel` codes, -1 where no cell is drawn."""
    plot = page.plot(".hetconv-map")
    assert plot is not None, "the map figure did not render"
    out = np.full(shape, -1)
    for kind, trace in zip(KINDS, plot["data"][:4], strict=True):
        for x, y, z in zip(trace["x"] or [], trace["y"] or [], trace["z"] or [], strict=True):
            if z == z:  # not NaN (grid padding)
                out[int(y), int(x)] = int(kind)
    return out


class LabPage(BrowserPage):
    """A Chromium page on a :class:`JupyterLabServer` (made by :func:`jupyter_lab`): the
    :class:`BrowserPage` helpers plus opening and running notebooks."""

    def open_notebook(
        self, path: str, *, workspace: str | None = None, timeout: float = 90.0
    ) -> None:
        """Open ``path`` (relative to the served folder) and wait for its kernel to be idle.
        ``workspace``: open it as the only tab of that fresh JupyterLab workspace (a notebook
        opened beside another one's running kernel does not start on Run All Cells)."""
        where = f"lab/workspaces/{quote(workspace)}/" if workspace else "lab/"
        self.page.goto(
            self.server.url(f"{where}tree/{quote(path)}" + ("?reset" if workspace else "")),
            wait_until="domcontentloaded",
        )
        self.page.wait_for_selector(
            ".jp-NotebookPanel .jp-Cell", state="attached", timeout=timeout * 1000
        )
        self.dismiss_dialogs()
        self.page.wait_for_function(_KERNEL_READY_JS, timeout=timeout * 1000)
        self.page.wait_for_timeout(500)

    def reload_notebook(self, *, timeout: float = 120.0) -> None:
        """Save the open notebook, reload the page (the kernel keeps running, as when a teacher
        reopens a tab) and wait until the notebook is back and its kernel idle; the page's CPU
        stays slowed as before."""
        self.page.keyboard.press("Control+s")
        self.page.wait_for_function(
            "() => !document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-mod-dirty')",
            timeout=timeout * 1000,
        )
        self.page.reload(wait_until="domcontentloaded")
        self._cdp = None  # a new document: a new DevTools session
        self.slow_down(self.cpu_slowdown)
        self.page.wait_for_selector(
            ".jp-NotebookPanel .jp-Cell", state="attached", timeout=timeout * 1000
        )
        self.dismiss_dialogs()
        self.page.wait_for_function(_KERNEL_READY_JS, timeout=timeout * 1000)

    def dismiss_dialogs(self) -> None:
        """Close any modal dialog (e.g. a kernel chooser) by accepting its default button."""
        dialog = self.page.locator(".jp-Dialog")
        for _ in range(3):
            if dialog.count() == 0:
                return
            self.page.keyboard.press("Enter")
            self.page.wait_for_timeout(300)

    def run_all_cells(self, *, timeout: float = 300.0) -> None:
        """Run → Run All Cells from the main menu, then :meth:`wait_until_idle`."""
        self.page.locator(
            "#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile("^Run$")
        ).click()
        menu = self.page.locator(".lm-Menu-content").last
        menu.locator(".lm-Menu-item").filter(
            has=self.page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Run All Cells$"))
        ).first.click()
        self.wait_until_idle(timeout=timeout)

    def wait_until_idle(self, *, timeout: float = 300.0) -> None:
        """Wait until every code cell has an execution count and the kernel is idle."""
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = self.page.evaluate(_IDLE_JS)
            if state == "idle":
                self.page.wait_for_timeout(300)  # let widget views finish rendering
                if self.page.evaluate(_IDLE_JS) == "idle":
                    return
            self.page.wait_for_timeout(250)
        raise TimeoutError(f"notebook not idle after {timeout:.0f} s ({state})")


class VoilaPage(BrowserPage):
    """A Chromium page on a :class:`VoilaServer` (made by :func:`voila_app`): the
    :class:`BrowserPage` helpers plus :meth:`open_app`."""

    def open_app(self, *, timeout: float = 300.0) -> None:
        """Load the app and wait until Voilà has run every cell, shown the page and rendered
        its widgets (no widget view still being built)."""
        self.page.goto(self.server.url(), wait_until="domcontentloaded", timeout=timeout * 1000)
        self.page.wait_for_function(_VOILA_DONE_JS, timeout=timeout * 1000, polling=250)
        self.page.wait_for_timeout(500)


_VOILA_DONE_JS = """
() => {
  if (document.getElementById('loading')) return false;
  const cells = document.getElementById('rendered_cells');
  if (!cells || cells.style.display === 'none') return false;
  const views = document.querySelectorAll('.jupyter-widgets');
  const pending = document.querySelectorAll('.jp-OutputArea-output .widget-placeholder');
  return views.length > 0 && pending.length === 0;
}
"""


def _new_page(
    browser: Any,
    server: JupyterServer,
    page_class: type[BrowserPage],
    *,
    viewport: Sequence[int],
    cpu_slowdown: float,
) -> Any:
    """A page of ``page_class`` in a browser context of its own (requests outside 127.0.0.1
    blocked and recorded), its CPU slowed ``cpu_slowdown`` times."""
    context = browser.new_context(viewport={"width": int(viewport[0]), "height": int(viewport[1])})
    guard = ExternalRequestGuard()
    guard.install(context)
    page = context.new_page()
    guard.watch(page)
    page.set_default_timeout(60_000)
    view = page_class(page, server, guard)
    view.slow_down(cpu_slowdown)
    return view


def _save_failure(server: JupyterServer, view: BrowserPage | None, label: str) -> None:
    """``test-artifacts/<label>-failure.png`` (the page) and ``<label>-server.log``."""
    ARTIFACTS.mkdir(exist_ok=True)
    if view is not None:
        with contextlib.suppress(Exception):
            view.page.screenshot(path=str(ARTIFACTS / f"{label}-failure.png"))
    with contextlib.suppress(Exception):
        (ARTIFACTS / f"{label}-server.log").write_text(server.log_tail(400))


@functools.cache
def playwright_driver() -> Any:
    """This process's one Playwright driver (sync API), started on first use, stopped at exit.

    Playwright's sync API runs its event loop in the calling thread, so a second driver cannot
    start while one is alive ("using Playwright Sync API inside the asyncio loop"): the shared
    JupyterLab session (:func:`lab_session`) keeps its browser for the whole test session, and
    a Voilà or site test on the same pytest worker launches its browser from the same driver.
    """
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    atexit.register(pw.stop)
    return pw


@contextlib.contextmanager
def _chromium(executable: str, *, headless: bool) -> Iterator[Any]:
    """A Playwright Chromium browser (:data:`CHROMIUM_ARGS`) of :func:`playwright_driver`,
    closed on exit."""
    args = [a for a in CHROMIUM_ARGS if headless or a != "--headless"]
    browser = playwright_driver().chromium.launch(
        executable_path=executable, headless=headless, args=args
    )
    try:
        yield browser
    finally:
        with contextlib.suppress(Exception):
            browser.close()


@contextlib.contextmanager
def _browser(
    server: JupyterServer,
    page_class: type[BrowserPage],
    executable: str,
    *,
    label: str,
    viewport: Sequence[int],
    headless: bool,
    cpu_slowdown: float,
) -> Iterator[Any]:
    """Chromium on a started ``server``, yielding a ``page_class`` page, its CPU slowed
    ``cpu_slowdown`` times (:meth:`BrowserPage.slow_down`); shut down on exit.

    On an exception inside the block, ``test-artifacts/<label>-failure.png`` and
    ``<label>-server.log`` are written first; on a normal exit the page must not have tried
    to reach any host but 127.0.0.1 (:meth:`BrowserPage.assert_no_external_requests`).
    """
    with _chromium(executable, headless=headless) as browser:
        view: BrowserPage | None = None
        try:
            view = _new_page(
                browser, server, page_class, viewport=viewport, cpu_slowdown=cpu_slowdown
            )
            yield view
            view.assert_no_external_requests()
        except BaseException:
            _save_failure(server, view, label)
            raise


@contextlib.contextmanager
def jupyter_lab(
    notebooks: Path | str | None = None,
    *,
    copy: bool = True,
    env: dict[str, str] | None = None,
    label: str = "lab",
    viewport: Sequence[int] = (1400, 1000),
    headless: bool = True,
    cpu_slowdown: float = SLOW_DEVICE_RATE,
) -> Iterator[LabPage]:
    """A JupyterLab server and a Chromium page on it; both shut down on exit, even on failure.

    Fails the calling test if Chromium is missing (:func:`require_chromium`) or, at the end,
    if the page tried to reach the internet. On an exception inside the block,
    ``test-artifacts/<label>-failure.png`` and ``<label>-server.log`` are written first.
    ``env`` is added to the server's (and kernels') environment. The page's CPU is slowed
    ``cpu_slowdown`` times (default :data:`SLOW_DEVICE_RATE`: every browser test runs on a
    slow device).
    """
    executable = require_chromium()
    with (
        JupyterLabServer(notebooks, copy=copy, env=env) as server,
        _browser(
            server,
            LabPage,
            executable,
            label=label,
            viewport=viewport,
            headless=headless,
            cpu_slowdown=cpu_slowdown,
        ) as lab,
    ):
        yield lab


@contextlib.contextmanager
def voila_app(
    notebook: str,
    *,
    env: dict[str, str] | None = None,
    label: str = "voila",
    viewport: Sequence[int] = (1280, 720),
    headless: bool = True,
    cpu_slowdown: float = SLOW_DEVICE_RATE,
) -> Iterator[VoilaPage]:
    """``notebook`` (a file name in ``notebooks/``) served by Voilà through ``scripts/app.sh``
    and a Chromium page on it, like :func:`jupyter_lab` (same failure artifacts, same network
    check, same CPU slowdown). Call :meth:`VoilaPage.open_app` first: loading the page runs
    the notebook."""
    executable = require_chromium()
    with (
        VoilaServer(notebook, env=env) as server,
        _browser(
            server,
            VoilaPage,
            executable,
            label=label,
            viewport=viewport,
            headless=headless,
            cpu_slowdown=cpu_slowdown,
        ) as app,
    ):
        yield app


class LabSession:
    """One JupyterLab server and one Chromium shared by the browser tests that read a notebook
    in JupyterLab (made by :func:`lab_session`; the ``lab_notebooks`` fixture of
    tests/conftest.py): each notebook is opened and run once per test session, and its page
    is handed to every test of that notebook. A Run All Cells on the slowed CPU costs
    60–110 s, and notebook 01 was run by three test files, the others by two.

    :meth:`notebook` gives a notebook's page: opened as the only tab of a JupyterLab
    workspace of its own, at :data:`PROJECTOR_SCREEN` with the left sidebar closed (as on a
    projector), its CPU slowed :data:`SLOW_DEVICE_RATE` times (the slow device: the figures
    are created there), Run All Cells, every live figure drawn. One notebook is open at a
    time: asking for another closes the page before and shuts its kernel down, so the tests
    are ordered by notebook (tests/conftest.py), and a test that comes back to a closed
    notebook gets it opened and run anew. What a test leaves (a moved control, a reload) is
    what the next test of that notebook finds. A notebook whose opening failed fails every
    later request for it at once (its screenshot and the server's log are in
    ``test-artifacts/lab-<notebook>-failure.png`` and ``-server.log``).
    """

    def __init__(self, server: JupyterLabServer, browser: Any, *, viewport: Sequence[int]) -> None:
        self.server = server
        self.browser = browser
        self.viewport = tuple(viewport)
        self._path: str | None = None
        self._page: LabPage | None = None
        self._failed: dict[str, str] = {}

    def notebook(
        self, path: str, *, cpu_slowdown: float = SLOW_DEVICE_RATE, timeout: float = 480.0
    ) -> LabPage:
        """The page of ``path`` (relative to the served folder), run; its CPU slowed
        ``cpu_slowdown`` times from now on."""
        if path in self._failed:
            raise RuntimeError(f"{path} could not be opened and run: {self._failed[path]}")
        if self._path != path:
            self.close()
            label = f"lab-{Path(path).stem}"
            view: LabPage | None = None
            try:
                view = _new_page(
                    self.browser,
                    self.server,
                    LabPage,
                    viewport=self.viewport,
                    cpu_slowdown=SLOW_DEVICE_RATE,
                )
                view.open_notebook(path, workspace=Path(path).stem)
                if view.page.locator(
                    ".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current"
                ).count():
                    view.page.keyboard.press("Control+b")  # the file browser closed
                    view.page.wait_for_timeout(300)
                view.run_all_cells(timeout=timeout)
                view.wait_for_figures()
            except Exception as exc:
                _save_failure(self.server, view, label)
                self._failed[path] = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                if view is not None:
                    with contextlib.suppress(Exception):
                        view.page.context.close()
                raise
            self._path, self._page = path, view
        assert self._page is not None
        self._page.slow_down(cpu_slowdown)
        return self._page

    def close(self) -> None:
        """Close the open notebook's page and shut its kernel down; fail if that page tried
        to reach a host other than 127.0.0.1."""
        page, path = self._page, self._path
        self._page = self._path = None
        if page is None or path is None:
            return
        with contextlib.suppress(Exception):
            page.page.context.close()
        self._shutdown_kernel(path)
        assert not page.guard.requests, (
            f"the page of {path} tried to reach external hosts (blocked): "
            + ", ".join(page.guard.requests)
        )

    def _shutdown_kernel(self, path: str) -> None:
        try:
            with urllib.request.urlopen(self.server.url("api/sessions"), timeout=10) as reply:
                sessions = json.load(reply)
            for session in sessions:
                if session.get("path") == path:
                    url = self.server.url(f"api/sessions/{session['id']}")
                    request = urllib.request.Request(url, method="DELETE")
                    urllib.request.urlopen(request, timeout=30).close()
        except (urllib.error.URLError, OSError):
            pass  # a server that no longer answers takes its kernels with it when stopped


@contextlib.contextmanager
def lab_session(
    *,
    env: dict[str, str] | None = None,
    viewport: Sequence[int] = PROJECTOR_SCREEN,
    headless: bool = True,
) -> Iterator[LabSession]:
    """A :class:`LabSession`: a JupyterLab server (``env`` added to its and its kernels'
    environment) and Chromium, both shut down on exit, even on failure. Fails the calling
    test if Chromium is missing (:func:`require_chromium`)."""
    executable = require_chromium()
    with (
        JupyterLabServer(env=env) as server,
        _chromium(executable, headless=headless) as browser,
    ):
        session = LabSession(server, browser, viewport=viewport)
        try:
            yield session
        finally:
            session.close()


# ------------------------------------------------------------------------------ live checks


def check_every_control_redraws(page: BrowserPage, name: str, *, minimum: int) -> None:
    """On the slow device (the page's CPU slowed, :func:`cpu_load` beside the kernel): change
    every figure control of every section once (:meth:`BrowserPage.sweep_controls`) and fail
    unless each changed a figure of its section in the page. ``minimum``: how many controls
    the page must have offered (a sweep that finds nothing proves nothing). The list goes to
    ``test-artifacts/<name>.txt``."""
    assert page.cpu_slowdown == SLOW_DEVICE_RATE, "the live checks run on the slow device"
    with cpu_load():
        changes = page.sweep_controls()
    _assert_all_redrawn(name, changes, minimum)
    assert page.page_errors == [], page.page_errors


def check_live_after_reload(
    lab: LabPage, name: str, *, sections: int, every_control_in: Collection[int] = ()
) -> None:
    """On the slow device, reload a JupyterLab page whose kernel runs (the notebook saved
    first, as when a teacher reopens the tab): every live figure must be drawn again, and then
    one figure control of every section must still change its section's figures
    (:meth:`BrowserPage.sweep_controls` with ``one_per_section``); the sections numbered in
    ``every_control_in`` have every control changed. ``sections``: how many sections must have
    offered a control. The list goes to ``test-artifacts/<name>.txt``.

    Why one control per section is enough after a reload: a reload loses nothing in the
    kernel; it throws away the page's widget views and builds every one again from the
    kernel's models over one new connection. What can then fail is per view and per model:
    a figure that is not drawn again (checked for all of them first), or a section whose
    views came back without a live link to its models, so that a change goes nowhere or its
    answer is never drawn. One control of a section, changed and redrawn, proves that
    section's link in both directions (the control's model to the kernel, the section's app
    to its figure models, the figures to the page). Which figure a given control redraws is
    the app's callback logic in the kernel, the same before and after a reload: every control
    of every section is swept where no reload happened, in Voilà
    (tests/test_browser_voila.py, tests/test_browser_voila_apps.py) and in the apps' unit
    tests. The sections take turns in the kind of control they move, and ``every_control_in``
    keeps one whole section swept after the reload (notebook 01's first)."""
    assert lab.cpu_slowdown == SLOW_DEVICE_RATE, "the live checks run on the slow device"
    with cpu_load():
        before = lab.page.locator(LIVE_FIGURE).count()
        lab.reload_notebook()
        assert lab.wait_for_figures(timeout=RELOAD_TIMEOUT) == before, "not every figure came back"
        changes = lab.sweep_controls(one_per_section=True, every_control_in=every_control_in)
    swept = len({change.section for change in changes})
    _assert_all_redrawn(name, changes, 0)
    listed = "\n".join(map(str, changes))
    assert swept >= sections, f"only {swept} sections offered a control:\n{listed}"
    assert lab.page_errors == [], lab.page_errors


def _assert_all_redrawn(name: str, changes: Sequence[ControlChange], minimum: int) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}.txt").write_text("\n".join(map(str, changes)) + "\n")
    listed = "\n".join(map(str, changes))
    assert len(changes) >= minimum, f"only {len(changes)} controls found:\n{listed}"
    stale = [str(c) for c in changes if not c.redrawn]
    assert not stale, "controls whose section's figures did not change:\n" + "\n".join(stale)
