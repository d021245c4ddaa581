"""The folder of a long best-P study: every finished piece stored as it ends, so the same
command continues where an interrupted study stopped.

A study (:mod:`hetconv_edu.study.driver`) runs for hours and may span several sittings. Its
folder sits next to the results file it will write (``optimal_p_small_vgg.json`` →
``optimal_p_small_vgg.study/``) and holds:

* ``settings.json`` — everything that decides what the study computes (model, data, recipe,
  seeds, budgets, a fingerprint of the data). A later command must ask for the same, else
  :class:`StudyFolderError` names every setting that differs;
* ``records/NAME.json`` — one finished piece each (a trained network's accuracy and confusion
  matrix, the sensitivities, the timing, an evolutionary check), written atomically
  (:func:`hetconv_edu.fileio.atomic_write`) the moment it is done;
* ``runs/`` — the training folders of the networks being trained, with their per-epoch
  checkpoints, so an interrupted training resumes from its last finished epoch.

One process at a time: the folder's ``.lock`` is held (``flock``) while a study runs in it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import IO, Any

from hetconv_edu.fileio import atomic_write

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["StudyFolder", "StudyFolderError", "study_folder_for"]

_NAME = re.compile(r"^[A-Za-z0-9_.,=+-]+$")


class StudyFolderError(RuntimeError):
    """The study folder cannot be used: other settings, another process running it, or it
    cannot be written. The message says what to do."""


def study_folder_for(results_path: str | Path) -> Path:
    """The study folder beside ``results_path``: same name, suffix ``.study``."""
    path = Path(results_path)
    return path.with_name(path.stem + ".study")


class StudyFolder:
    """An open study folder (see the module docstring); use as a context manager.

    Args:
        path: the folder (created when missing).
        settings: plain JSON values deciding what the study computes; a new folder records
            them, an existing one must hold the same.

    Raises:
        StudyFolderError: the folder holds a study with other settings (each difference is
            named), another process is running a study in it, or it cannot be written.
    """

    def __init__(self, path: str | Path, settings: dict[str, Any]) -> None:
        self.path = Path(path)
        self.settings = json.loads(json.dumps(settings))
        self._lock: IO | None = None
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / "records").mkdir(exist_ok=True)
            handle = open(self.path / ".lock", "a+b")  # noqa: SIM115 - held until close
        except OSError as err:
            raise StudyFolderError(
                f"cannot write the study folder {self.path}/ ({err.strerror or err}); give "
                "--out in a folder you can write"
            ) from None
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise StudyFolderError(
                    f"another process is running the study in {self.path}/ right now; wait "
                    "for it to end (or stop it), then run this command again"
                ) from None
        self._lock = handle
        try:
            self._check_settings()
        except BaseException:
            self.close()
            raise

    def _check_settings(self) -> None:
        path = self.path / "settings.json"
        if not path.exists():
            atomic_write(path, json.dumps(self.settings, indent=1) + "\n")
            return
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise StudyFolderError(
                f"{path} cannot be read ({err}); remove the folder {self.path}/ to start over"
            ) from None
        differ = [
            f"{key}: {_short(stored.get(key))} there, {_short(self.settings.get(key))} now"
            for key in sorted(set(stored) | set(self.settings))
            if stored.get(key) != self.settings.get(key)
        ]
        if differ:
            raise StudyFolderError(
                f"the study in {self.path}/ was started with other settings ("
                + "; ".join(differ)
                + "); continue it with the command that started it, or give another --out"
            )

    def _file(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ValueError(f"record name {name!r}: use letters, digits and _.,=+- only")
        return self.path / "records" / f"{name}.json"

    def record(self, name: str) -> dict[str, Any] | None:
        """The finished piece ``name`` (None when it is not done yet).

        Raises:
            StudyFolderError: the record exists but cannot be read (it names the file to
                delete so that the piece is made again).
        """
        path = self._file(name)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            raise StudyFolderError(
                f"{path} cannot be read ({err}); delete it and run the command again to "
                "redo that piece"
            ) from None

    def save(self, name: str, value: dict[str, Any]) -> Path:
        """Store the finished piece ``name`` atomically (a reader, or a study interrupted while
        saving, sees the previous state or the new one)."""
        try:
            return atomic_write(self._file(name), json.dumps(value, indent=1) + "\n")
        except OSError as err:
            raise StudyFolderError(
                f"cannot write {self._file(name)} ({err.strerror or err}); free some space or "
                "make the folder writable, then run the command again"
            ) from None

    def discard(self, name: str) -> bool:
        """Forget the finished piece ``name`` (to measure it again); whether there was one."""
        try:
            self._file(name).unlink()
        except FileNotFoundError:
            return False
        return True

    def names(self) -> list[str]:
        """The names of the finished pieces, sorted."""
        return sorted(p.stem for p in (self.path / "records").glob("*.json"))

    @property
    def run_dir(self) -> Path:
        """Where the networks being trained keep their run folders (checkpoints)."""
        return self.path / "runs"

    def close(self) -> None:
        """Let go of the folder's lock."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> StudyFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
