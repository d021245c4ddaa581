"""A Jupyter server started before the widget extensions were installed cannot show widgets:
find the running servers, the extensions' install times, and say which server to restart."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hetconv_edu.doctor.report import Finding

__all__ = [
    "RESTART_SERVER",
    "WIDGET_EXTENSIONS",
    "ServerStart",
    "check_server_restart",
    "extension_install_times",
    "running_servers",
]

RESTART_SERVER = (
    "Restart the Jupyter server, not only the kernel: save your notebooks, stop JupyterLab "
    "(File > Shut Down, or Ctrl-C twice in the terminal where it runs), start it again "
    "(make lab) and reload the page in the browser."
)
"""The fix for a front end that has not loaded the widget extensions."""

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
