"""Write the static page: ``python -m hetconv_edu export-site OUT/``.

:func:`export_site` writes a folder that a student opens by double-clicking ``index.html``
(``file://``) or that any static web host serves, with nothing to install and nothing fetched
from elsewhere::

    OUT/index.html          the page (controls, sections, how the data was made)
    OUT/site.css, site.js   its look and its script: read the controls, look the setting up,
                            draw it with plotly.js (no arithmetic of its own)
    OUT/plotly.min.js       plotly.js, copied from the installed plotly package
    OUT/data/index.js       the grid: the layers, the P each allows, the filters per P
    OUT/data/layer-M-N.js   every view of layer (M, N), pooled, gzip + base64
                            (:mod:`hetconv_edu.site.pack`), loaded when a student picks it
    OUT/hetconv-site.json   what export-site wrote (file names and SHA-256), the grid, the
                            package version

The folder appears complete or not at all (:func:`hetconv_edu.fileio.atomic_folder`). An
existing ``OUT`` is replaced only when it is empty or holds exactly what an earlier export
wrote there (every file listed in its ``hetconv-site.json``, unchanged, and nothing else);
anything else — a folder of your own, a page you edited, a file you added — is refused unless
``overwrite=True`` (``--overwrite``), which never replaces the folder you are working in, one
above it, your home folder or the file system's root.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import re
import shutil
import string
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import plotly.offline

from hetconv_edu import __version__
from hetconv_edu.checks import check_bool
from hetconv_edu.fileio import TEMP_SUFFIX, atomic_folder
from hetconv_edu.site.grid import DEFAULT_GRID, SiteGrid
from hetconv_edu.site.pack import decode_payload, encode_payload, unpack
from hetconv_edu.site.views import layer_chunk, layer_key

__all__ = [
    "ASSETS",
    "MADE_BY",
    "MANIFEST",
    "SiteExistsError",
    "SiteExport",
    "export_site",
    "read_site",
    "start_setting",
]

MANIFEST = "hetconv-site.json"
"""The file that marks a folder as written by export-site and lists what it wrote."""

MADE_BY = "hetconv_edu export-site"
"""The manifest's ``made_by``."""

ASSETS = ("index.html", "site.css", "site.js")
"""The page's own files, shipped in ``hetconv_edu/site/assets/`` (``index.html`` is a
:class:`string.Template` filled in at export)."""

PLOTLY_JS = "plotly.min.js"
DATA_DIR = "data"
INDEX_JS = f"{DATA_DIR}/index.js"

_INDEX_PREFIX = "window.HETCONV_SITE_INDEX = "
_CHUNK_LINE = re.compile(r'^HETCONV_SITE\.addChunk\("(\d+,\d+)", "([A-Za-z0-9+/=]*)"\);\s*$')


class SiteExistsError(ValueError):
    """The output folder holds something export-site did not write (a usage error: choose
    another folder, or ``--overwrite``)."""


@dataclass(frozen=True)
class SiteExport:
    """What :func:`export_site` wrote: the folder, its files (relative paths) with their sizes
    in bytes, and the grid."""

    path: Path
    grid: SiteGrid
    sizes: dict[str, int]

    @property
    def data_bytes(self) -> int:
        """Bytes of the page's data files (``data/``)."""
        return sum(v for k, v in self.sizes.items() if k.startswith(f"{DATA_DIR}/"))

    @property
    def total_bytes(self) -> int:
        """Bytes of every file written."""
        return sum(self.sizes.values())

    def text(self) -> str:
        """A summary for the command line."""
        mb = 1e6
        return (
            f"wrote {self.path}: {self.grid.describe()}.\n"
            f"data {self.data_bytes / mb:.2f} MB, plotly.js {self.sizes[PLOTLY_JS] / mb:.2f} MB, "
            f"{self.total_bytes / mb:.2f} MB in {len(self.sizes)} files.\n"
            f"Open {self.path / 'index.html'} in a browser, or put the folder on any web host."
        )


# ------------------------------------------------------------------------- the output folder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(folder: Path) -> list[str]:
    """Every file and link under ``folder`` (relative, POSIX separators), folders left out."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_symlink() or not p.is_dir()
    )


def _earlier_export_problem(folder: Path) -> str | None:
    """None when ``folder`` holds exactly an earlier export, unchanged; else what is not."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        listed = dict(manifest["files"])
        if manifest.get("made_by") != MADE_BY:
            raise ValueError
    except (OSError, ValueError, KeyError, TypeError):
        return f"it was not written by export-site (no valid {MANIFEST})"
    present = set(_files(folder)) - {MANIFEST}
    extra = sorted(present - set(listed))
    if extra:
        return f"it holds files export-site did not write ({', '.join(extra[:3])})"
    changed = sorted(
        name
        for name, digest in listed.items()
        if name not in present or (folder / name).is_symlink() or _sha256(folder / name) != digest
    )
    if changed:
        return f"files were changed or removed since it was written ({', '.join(changed[:3])})"
    return None


def _check_overwrite_target(folder: Path) -> None:
    """Refuse to delete the working folder, a folder above it, the home folder or the root."""
    target = folder.resolve()
    here = Path.cwd().resolve()
    protected = {Path(target.anchor), Path.home().resolve()}
    if target in protected or target == here or target in here.parents:
        raise SiteExistsError(
            f"{folder} is the folder you are working in, one above it, your home folder or "
            "the root: export-site never replaces it, even with --overwrite; give a new "
            "folder, e.g. site/"
        )


def _check_target(folder: Path, overwrite: bool) -> None:
    """Refuse an output that is a file, or a non-empty folder that is not an unchanged earlier
    export (unless ``overwrite``)."""
    if folder.exists() and not folder.is_dir():
        raise SiteExistsError(f"the output {folder} is a file; give a folder for the page")
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    if overwrite:
        _check_overwrite_target(folder)
        return
    problem = _earlier_export_problem(folder)
    if problem is not None:
        raise SiteExistsError(
            f"the folder {folder} is not empty and {problem}; nothing was written. Give a "
            "new or empty folder, or replace this one with --overwrite"
        )


@contextlib.contextmanager
def _replacing(folder: Path) -> Iterator[Path]:
    """A scratch folder to fill; on success it replaces ``folder`` (moved aside first, then
    deleted); on failure ``folder`` is left as it was."""
    aside: Path | None = None
    try:
        with atomic_folder(folder) as scratch:
            os.chmod(scratch, 0o777 & ~_umask())  # a made temporary folder is private (0700)
            yield scratch
            if folder.exists():
                # The name of a temporary of `folder`: should this process die here, the next
                # write of `folder` removes it (hetconv_edu.fileio.remove_stale_temporaries).
                aside = Path(
                    tempfile.mkdtemp(
                        prefix=f".{folder.name}.", suffix=TEMP_SUFFIX, dir=folder.parent
                    )
                )
                os.replace(folder, aside)
    finally:
        if aside is not None:
            if folder.is_dir():
                shutil.rmtree(aside, ignore_errors=True)
            else:
                os.replace(aside, folder)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------------------- the contents


def start_setting(grid: SiteGrid) -> dict[str, int]:
    """The setting the page opens with: the notebooks' M = N = 16, K = 3, P = 4 where the grid
    has it, else the nearest it has (middle channels, K = 3 or the smallest, the largest P up
    to 4), filter 0."""
    mid = grid.channels[len(grid.channels) // 2]
    m = n = 16 if 16 in grid.channels else mid
    k = 3 if 3 in grid.kernel_sizes else grid.kernel_sizes[0]
    p = max(q for q in grid.parts(m, n) if q <= 4)
    return {"m": m, "n": n, "k": k, "p": p, "f": 0}


def _index(grid: SiteGrid) -> dict[str, Any]:
    parts = sorted({p for m, n in grid.layers() for p in grid.parts(m, n)})
    return {
        "version": __version__,
        "grid": grid.to_dict(),
        "description": grid.describe(),
        "start": start_setting(grid),
        "layers": {
            layer_key(m, n): {"parts": grid.parts(m, n), "chunk": _chunk_name(m, n)}
            for m, n in grid.layers()
        },
        "filters": {str(p): grid.filter_choices(p) for p in parts},
    }


def _chunk_name(m: int, n: int) -> str:
    return f"{DATA_DIR}/layer-{m}-{n}.js"


def _asset(name: str) -> str:
    return resources.files("hetconv_edu.site").joinpath("assets", name).read_text("utf-8")


def _page(grid: SiteGrid) -> str:
    values = {
        "version": __version__,
        "grid": grid.describe(),
        "out_size": str(grid.out_size),
    }
    return string.Template(_asset("index.html")).substitute(
        {k: html.escape(v) for k, v in values.items()}
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def export_site(
    out: str | Path,
    grid: SiteGrid = DEFAULT_GRID,
    *,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> SiteExport:
    """Write the static page for ``grid`` into the folder ``out`` (see the module's text).

    Args:
        out: the folder to write; created, or replaced as a whole.
        grid: the settings the page offers (default :data:`~hetconv_edu.site.grid.DEFAULT_GRID`).
        overwrite: replace ``out`` even when it holds other files.
        progress: called with the number of layer settings (M, N, K, P) computed so far.

    Returns:
        What was written (:class:`SiteExport`).

    Raises:
        SiteExistsError: ``out`` is a file, or a non-empty folder other than an unchanged
            earlier export and ``overwrite`` is False, or (with ``overwrite``) the working
            folder, one above it, the home folder or the root.
        ValueError: ``grid`` is not a :class:`SiteGrid`.
        OSError: the folder cannot be written (read-only, disk full); an earlier ``out`` is
            then left as it was.
    """
    overwrite = check_bool("overwrite", overwrite)
    if not isinstance(grid, SiteGrid):
        raise ValueError(f"grid must be a SiteGrid, got {type(grid).__name__}")
    folder = Path(out).expanduser()
    _check_target(folder, overwrite)
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done)

    with _replacing(folder) as scratch:
        for m, n in grid.layers():
            payload = encode_payload(layer_chunk(grid, m, n, step))
            _write(
                scratch / _chunk_name(m, n),
                f'HETCONV_SITE.addChunk("{layer_key(m, n)}", "{payload}");\n',
            )
        index = json.dumps(_index(grid), separators=(",", ":"), ensure_ascii=False)
        _write(scratch / INDEX_JS, f"{_INDEX_PREFIX}{index};\n")
        _write(scratch / "index.html", _page(grid))
        for name in ASSETS[1:]:
            _write(scratch / name, _asset(name))
        _write(scratch / PLOTLY_JS, plotly.offline.get_plotlyjs())
        names = _files(scratch)
        manifest = {
            "made_by": MADE_BY,
            "version": __version__,
            "grid": grid.to_dict(),
            "files": {name: _sha256(scratch / name) for name in names},
        }
        _write(scratch / MANIFEST, json.dumps(manifest, indent=1) + "\n")
        sizes = {name: (scratch / name).stat().st_size for name in [*names, MANIFEST]}
    return SiteExport(folder, grid, sizes)


def read_site(folder: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The data of a page written by :func:`export_site`: its index (``data/index.js``) and
    every layer's views, references expanded (:func:`~hetconv_edu.site.pack.unpack`), keyed
    ``"M,N"`` — exactly what the page draws, for checks.

    Raises:
        FileNotFoundError: ``folder`` holds no page data.
        ValueError: a data file is not in the format export-site writes.
    """
    folder = Path(folder)
    text = (folder / INDEX_JS).read_text(encoding="utf-8").strip()
    if not (text.startswith(_INDEX_PREFIX) and text.endswith(";")):
        raise ValueError(f"{folder / INDEX_JS} is not a page index written by export-site")
    index = json.loads(text[len(_INDEX_PREFIX) : -1])
    layers = {}
    for key, layer in index["layers"].items():
        line = (folder / layer["chunk"]).read_text(encoding="utf-8")
        match = _CHUNK_LINE.match(line)
        if match is None or match.group(1) != key:
            raise ValueError(f"{folder / layer['chunk']} is not layer {key}'s data")
        layers[key] = unpack(decode_payload(match.group(2)))
    return index, layers
