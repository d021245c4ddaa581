"""``export-site``: the kernel explorer and the cost lab as a static page
(:mod:`hetconv_edu.site`)."""

from __future__ import annotations

import argparse
import sys

from hetconv_edu.cli.common import positive_int

__all__ = ["add_export_site"]


def _export_site(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from hetconv_edu.site import SiteGrid, export_site

    grid = SiteGrid(
        channels=tuple(args.channels),
        kernel_sizes=tuple(args.kernel_sizes),
        filters=args.filters,
        out_size=args.out_size,
    )
    with tqdm(
        total=grid.setting_count,
        desc="export-site",
        unit="setting",
        disable=not sys.stderr.isatty(),
    ) as bar:
        result = export_site(
            args.out, grid, overwrite=args.overwrite, progress=lambda done: bar.update(done - bar.n)
        )
    print(result.text())
    return 0


def add_export_site(subparsers: argparse._SubParsersAction) -> None:
    from hetconv_edu.site import DEFAULT_GRID

    d = DEFAULT_GRID
    parser = subparsers.add_parser(
        "export-site",
        help="write the kernel explorer and cost lab as a page that needs no installation",
        description="Write a static page (HTML, plotly.js and data, nothing fetched from "
        "elsewhere) with the kernel explorer and the per-layer cost lab into OUT: open "
        "OUT/index.html from the disk or put OUT on any web host. Every number is computed "
        "here, for each setting of the grid below. OUT must be new, empty or an earlier "
        "export (unchanged); --overwrite replaces any other folder.",
    )
    parser.add_argument("out", metavar="OUT", help="folder to write the page to")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace OUT even if it holds other files"
    )
    parser.add_argument(
        "--channels",
        type=positive_int,
        nargs="+",
        default=list(d.channels),
        help=f"values offered for M and N (default {' '.join(map(str, d.channels))})",
    )
    parser.add_argument(
        "--kernel-sizes",
        type=positive_int,
        nargs="+",
        default=list(d.kernel_sizes),
        help=f"values offered for K (default {' '.join(map(str, d.kernel_sizes))})",
    )
    parser.add_argument(
        "--filters",
        type=positive_int,
        default=d.filters,
        help=f"filters a student can select, from filter 0, at most P (default {d.filters})",
    )
    parser.add_argument(
        "--out-size",
        type=positive_int,
        default=d.out_size,
        help=f"output map size D_o for the MAC counts (default {d.out_size})",
    )
    parser.set_defaults(handler=_export_site)
