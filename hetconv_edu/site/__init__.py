"""A page students open without installing anything: ``python -m hetconv_edu export-site OUT/``.

The kernel explorer and the per-layer cost lab as a static folder (HTML, CSS, a small script,
plotly.js copied from the installed plotly package, and data): it opens from ``file://`` and
from any static web host, and fetches nothing from elsewhere. Every map, count and formula on
it is computed by the package at export time, for each setting of a :class:`SiteGrid`, by the
notebooks' own figure functions (:mod:`hetconv_edu.viz.explorer`,
:mod:`hetconv_edu.viz.flops_lab`); the page's script only looks the current setting up and
draws it, so the page holds no second implementation of the math.

* :mod:`~hetconv_edu.site.grid` — which settings the page offers (:data:`DEFAULT_GRID`);
* :mod:`~hetconv_edu.site.views` — what it shows for each setting;
* :mod:`~hetconv_edu.site.pack` — how that is stored (plain JSON, shared parts once, gzip);
* :mod:`~hetconv_edu.site.export` — the folder (:func:`export_site`, :func:`read_site`).

Layer: like :mod:`hetconv_edu.viz` (numbers and figures, no widgets); the command line
(:mod:`hetconv_edu.cli.export_site`) calls it.
"""

from hetconv_edu.site.export import SiteExistsError, SiteExport, export_site, read_site
from hetconv_edu.site.grid import DEFAULT_GRID, SiteGrid

__all__ = ["DEFAULT_GRID", "SiteExistsError", "SiteExport", "SiteGrid", "export_site", "read_site"]
