"""The static page of ``export-site``: its grid, its data format, its folder and its refusals.

The data checks compare what the page would draw (read back from the written files exactly as
the page's script reads them) with what the package computes now, and with the paper's
formulas, for settings sampled from the grid.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import plotly.offline
import pytest

from hetconv_edu.__main__ import main
from hetconv_edu.flops import hetconv_ratio, layer_cost
from hetconv_edu.pattern import hetconv_pattern, valid_parts
from hetconv_edu.site import DEFAULT_GRID, SiteExistsError, SiteGrid, export_site, read_site
from hetconv_edu.site import export as export_module
from hetconv_edu.site.export import MANIFEST, start_setting
from hetconv_edu.site.grid import MAX_CHANNELS, MAX_SETTINGS
from hetconv_edu.site.pack import (
    Pool,
    decode_payload,
    encode_payload,
    figure_json,
    resolve,
    typed_array,
    typed_array_spec,
)
from hetconv_edu.site.views import explorer_state
from hetconv_edu.viz.explorer import (
    cells_to_pattern,
    counters_html,
    filter_figure_data,
    map_figure_data,
)
from hetconv_edu.viz.flops_lab import family_costs, fmt_count, layer_numbers_html

SMALL = SiteGrid(channels=(4, 6, 8), kernel_sizes=(1, 3), filters=3, out_size=8)
"""A grid with M ≠ N layers, a layer whose only P is 1 or 2, K = 1, and filters < P."""


@pytest.fixture(scope="module")
def small_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "page"
    export_site(out, SMALL)
    return out


@pytest.fixture(scope="module")
def small_data(small_site: Path):
    return read_site(small_site)


def _decoded(value):
    """A figure JSON with every typed array decoded to a list (NaN as None), for comparing."""
    if isinstance(value, dict):
        if "bdata" in value:
            return [None if v != v else v for v in typed_array(value).tolist()]
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def _samples(grid: SiteGrid, count: int, seed: int = 0):
    settings = [
        (m, n, k, p, f)
        for m, n in grid.layers()
        for k, p in grid.settings(m, n)
        for f in grid.filter_choices(p)
    ]
    return random.Random(seed).sample(settings, min(count, len(settings)))


# ----------------------------------------------------------------------------------- grid


def test_default_grid_offers_every_valid_p_of_every_layer():
    g = DEFAULT_GRID
    settings = sum(len(valid_parts(m, n)) for m in g.channels for n in g.channels)
    assert g.setting_count == settings * len(g.kernel_sizes)
    for m, n in g.layers():
        assert g.parts(m, n) == valid_parts(m, n)
        for p in g.parts(m, n):
            assert g.filter_choices(p) == list(range(min(p, g.filters)))
            assert all(f < n for f in g.filter_choices(p))
    assert f"{g.setting_count:,} layer settings" in g.describe()
    assert f"{g.view_count:,} explorer views" in g.describe()
    assert g.contains(16, 16, 3, 4, 0) and not g.contains(16, 16, 3, 3, 0)
    assert not g.contains(16, 16, 3, 1, 1)  # P = 1: every filter is filter 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"channels": ()}, "channels must be a non-empty list"),
        ({"channels": "8"}, "channels must be a non-empty list"),
        ({"channels": (8, 0)}, "channels must be a positive integer, got 0"),
        ({"channels": (8, 2.0)}, "channels must be a positive integer, got 2.0"),
        ({"channels": (8, True)}, "channels must be a positive integer, got True"),
        ({"channels": (8, 8)}, "channels lists a value twice"),
        ({"channels": (8, MAX_CHANNELS + 1)}, f"channels must be at most {MAX_CHANNELS}"),
        ({"kernel_sizes": (3, -1)}, "kernel_sizes must be a positive integer, got -1"),
        ({"filters": 0}, "filters must be a positive integer, got 0"),
        ({"out_size": "32"}, "out_size must be a positive integer, got '32'"),
        ({"channels": tuple(range(1, 101)), "kernel_sizes": (1, 3, 5, 7)}, f"{MAX_SETTINGS:,}"),
    ],
)
def test_a_bad_grid_is_refused_naming_the_value(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SiteGrid(**kwargs)


def test_the_grid_is_kept_sorted():
    assert SiteGrid(channels=(16, 4, 8), kernel_sizes=(5, 3)).channels == (4, 8, 16)
    assert SiteGrid(channels=(16, 4, 8), kernel_sizes=(5, 3)).kernel_sizes == (3, 5)


def test_the_page_opens_on_the_notebooks_layer_or_the_nearest_the_grid_has():
    assert start_setting(DEFAULT_GRID) == {"m": 16, "n": 16, "k": 3, "p": 4, "f": 0}
    other = start_setting(SiteGrid(channels=(6, 9, 12), kernel_sizes=(5, 7)))
    assert other == {"m": 9, "n": 9, "k": 5, "p": 3, "f": 0}


# ----------------------------------------------------------------------------------- pack


@pytest.mark.parametrize("kind", ["map", "filter"])
def test_figure_json_is_what_plotly_itself_sends(kind):
    state = explorer_state(12, 8, 3, 4, 1, 16)
    data = map_figure_data(state) if kind == "map" else filter_figure_data(state)
    ours = figure_json(data)
    plotly = json.loads(data.figure().to_json())
    assert _decoded(ours) == _decoded(plotly)
    assert isinstance(ours["layout"]["template"], dict)  # the named template, expanded


def test_figure_json_refuses_what_is_not_a_figure():
    with pytest.raises(TypeError, match=r"expected a FigureData or a go\.Figure, got dict"):
        figure_json({"data": []})


def test_typed_arrays_keep_dtype_and_nan():
    for array in (
        np.array([0, 3, -2], np.int16),
        np.array([1.0, np.nan], np.float32),
        np.arange(5, dtype=np.int64),
        np.array([2**40, 1]),
    ):
        spec = typed_array_spec(array)
        back = typed_array(spec)
        np.testing.assert_array_equal(back, array)
    assert typed_array_spec(np.array(["a", "b"])) == ["a", "b"]


def test_the_pool_stores_a_repeated_part_once_and_gives_it_back():
    shared = {"x": list(range(40)), "name": "one trace, its name long enough to be shared"}
    value = {"a": [shared, shared], "b": {"inner": shared}, "html": "<p>" + "x" * 300 + "</p>"}
    pool = Pool()
    packed = pool.intern(value)
    assert resolve(packed, pool.entries) == value
    texts = [json.dumps(e, sort_keys=True) for e in pool.entries]
    assert len(texts) == len(set(texts))  # each part once
    assert sum(resolve(e, pool.entries) == shared for e in pool.entries) == 1

    def refs(v):
        if isinstance(v, dict):
            return [v["$ref"]] if set(v) == {"$ref"} else [r for x in v.values() for r in refs(x)]
        return [r for x in v for r in refs(x)] if isinstance(v, list) else []

    for i, entry in enumerate(pool.entries):  # an entry refers only to earlier entries
        assert all(r < i for r in refs(entry))


def test_payload_round_trip_and_garbage():
    value = {"k": [1, 2.5, None, "ü", {"z": True}]}
    assert decode_payload(encode_payload(value)) == value
    assert encode_payload(value) == encode_payload(value)  # reproducible
    with pytest.raises(ValueError, match="not a page data payload"):
        decode_payload("bm90IGd6aXA=")


# ----------------------------------------------------------------------------- the folder


def test_the_folder_holds_the_page_plotly_and_one_data_file_per_layer(small_site):
    files = {p.relative_to(small_site).as_posix() for p in small_site.rglob("*") if p.is_file()}
    layers = {f"data/layer-{m}-{n}.js" for m, n in SMALL.layers()}
    assert files == {
        "index.html",
        "site.css",
        "site.js",
        "plotly.min.js",
        MANIFEST,
        "data/index.js",
        *layers,
    }
    assert (small_site / "plotly.min.js").read_text() == plotly.offline.get_plotlyjs()
    manifest = json.loads((small_site / MANIFEST).read_text())
    assert set(manifest["files"]) == files - {MANIFEST}
    assert manifest["grid"] == SMALL.to_dict()


def test_the_page_loads_only_files_of_its_own_folder(small_site):
    page = (small_site / "index.html").read_text()
    links = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert set(links) == {"site.css", "plotly.min.js", "data/index.js", "site.js"}
    assert all((small_site / link).is_file() for link in links)
    script = (small_site / "site.js").read_text()
    assert not re.search(r"https?://|fetch\(|XMLHttpRequest|import\(", script)
    assert "$" + "grid" not in page and SMALL.describe() in page  # the grid, documented


def test_the_index_lists_the_valid_p_and_filters_of_every_layer(small_data):
    index, layers = small_data
    assert index["grid"] == SMALL.to_dict()
    assert index["start"] == start_setting(SMALL)
    assert set(layers) == {f"{m},{n}" for m, n in SMALL.layers()}
    for m, n in SMALL.layers():
        assert index["layers"][f"{m},{n}"]["parts"] == valid_parts(m, n)
        chunk = layers[f"{m},{n}"]
        assert set(chunk["lab"]) == {f"{k},{p}" for k, p in SMALL.settings(m, n)}
        assert set(chunk["explorer"]) == {
            f"{k},{p},{f}" for k, p in SMALL.settings(m, n) for f in range(min(p, 3))
        }
    for p, filters in index["filters"].items():
        assert filters == list(range(min(int(p), SMALL.filters)))


def test_the_stored_views_are_the_packages_figures_and_numbers(small_data):
    _, layers = small_data
    d = SMALL.out_size
    for m, n, k, p, f in _samples(SMALL, 12):
        state = explorer_state(m, n, k, p, f, d)
        view = layers[f"{m},{n}"]["explorer"][f"{k},{p},{f}"]
        # the kernel map is the paper's arrangement: K×K iff (m − n) mod P == 0
        assert np.array_equal(
            cells_to_pattern(_decoded(view["map"]["data"])[:4], (n, m)), hetconv_pattern(m, n, p)
        )
        assert view["counters"] == counters_html(state)
        assert _decoded(view["filter"]) == _decoded(figure_json(filter_figure_data(state)))
        assert re.match(rf"Filter {f}\b", view["filter"]["layout"]["title"]["text"])
        lab = layers[f"{m},{n}"]["lab"][f"{k},{p}"]
        assert lab["numbers"] == layer_numbers_html(family_costs(d, m, n, k, p, p), d, m, n, k, p)
        # FL_H = D_o²·M·N·K²/P + (M − M/P)·D_o²·N, the paper's count, in the stored table
        paper = d * d * m * n * k * k // p + (m - m // p) * d * d * n
        assert paper == layer_cost(f"hetconv:{p}", m, n, k, d).macs
        assert f'data-key="hetconv-work">{fmt_count(paper)}<' in lab["numbers"]
        marker = lab["ratio"]["data"][-1]
        assert marker["x"] == [p] and marker["y"] == [pytest.approx(hetconv_ratio(k, p))]


def test_read_site_refuses_a_damaged_data_file(tmp_path, small_site):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(small_site, copy)
    (copy / "data" / "layer-4-4.js").write_text('HETCONV_SITE.addChunk("4,8", "");\n')
    with pytest.raises(ValueError, match=r"is not layer 4,4's data"):
        read_site(copy)


# ------------------------------------------------------------------------------ overwrite

TINY = SiteGrid(channels=(4, 8), kernel_sizes=(3,), filters=2)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


def test_a_folder_of_your_own_is_never_overwritten(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    with pytest.raises(SiteExistsError, match=r"not written by export-site.*--overwrite"):
        export_site(out, TINY)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "my notes"
    assert _leftovers(out) == []


def test_overwrite_replaces_it_with_the_page(tmp_path):
    out = tmp_path / "mine"
    (out / "old").mkdir(parents=True)
    (out / "old" / "notes.txt").write_text("my notes")
    result = export_site(out, TINY, overwrite=True)
    assert not (out / "old").exists() and (out / "index.html").is_file()
    assert result.path == out and result.data_bytes > 0
    assert _leftovers(out) == []


def test_an_earlier_export_is_replaced_unless_you_changed_or_added_something(tmp_path):
    out = tmp_path / "page"
    export_site(out, TINY)
    again = export_site(out, SiteGrid(channels=(4,), kernel_sizes=(3,)))
    assert read_site(out)[0]["grid"]["channels"] == [4]
    assert set(again.sizes) == {
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()
    }
    (out / "index.html").write_text((out / "index.html").read_text() + "<!-- my class -->")
    with pytest.raises(SiteExistsError, match=r"changed or removed since .*index\.html"):
        export_site(out, TINY)
    assert "my class" in (out / "index.html").read_text()
    export_site(out, TINY, overwrite=True)
    (out / "data" / "answers.txt").write_text("mine")
    with pytest.raises(SiteExistsError, match=r"did not write \(data/answers\.txt\)"):
        export_site(out, TINY)
    assert (out / "data" / "answers.txt").read_text() == "mine"


def test_an_empty_folder_is_filled_and_a_file_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    export_site(empty, TINY)
    assert (empty / "index.html").is_file()
    file = tmp_path / "page.html"
    file.write_text("mine")
    with pytest.raises(SiteExistsError, match="is a file"):
        export_site(file, TINY, overwrite=True)
    assert file.read_text() == "mine"


def test_overwrite_never_replaces_the_folder_you_work_in(tmp_path, monkeypatch):
    work = tmp_path / "work"
    (work / "inner").mkdir(parents=True)
    (work / "inner" / "keep.txt").write_text("keep")
    monkeypatch.chdir(work / "inner")
    for target in (work / "inner", work, Path(".")):
        with pytest.raises(SiteExistsError, match="never replaces it, even with --overwrite"):
            export_site(target, TINY, overwrite=True)
    assert (work / "inner" / "keep.txt").read_text() == "keep"


def test_a_failed_export_leaves_the_earlier_page_as_it_was(tmp_path, monkeypatch):
    out = tmp_path / "page"
    export_site(out, TINY)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def broken(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(export_module, "layer_chunk", broken)
    with pytest.raises(OSError, match="No space left"):
        export_site(out, TINY)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert _leftovers(out) == []


def test_progress_counts_every_layer_setting(tmp_path):
    seen = []
    export_site(tmp_path / "page", TINY, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == TINY.setting_count


# ---------------------------------------------------------------------------- the command


def test_the_command_writes_the_page_and_says_where(tmp_path, capsys):
    out = tmp_path / "page"
    args = ["export-site", str(out), "--channels", "8", "4", "--kernel-sizes", "3"]
    assert main([*args, "--filters", "2", "--out-size", "16"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and str(out / "index.html") in printed
    index, _ = read_site(out)
    assert index["grid"] == {"channels": [4, 8], "kernel_sizes": [3], "filters": 2, "out_size": 16}


def test_the_command_refuses_your_folder_on_one_line(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("x")
    assert main(["export-site", str(out), "--channels", "4", "--kernel-sizes", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("python -m hetconv_edu export-site: error: the folder") and "\n" not in err
    )
    assert "--overwrite" in err and (out / "notes.txt").read_text() == "x"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--channels", "0"], "expected a positive integer, got '0'"),
        (["--channels", "4", "4"], "channels lists a value twice"),
        (["--kernel-sizes", "99"], "kernel_sizes must be at most"),
    ],
)
def test_the_command_refuses_a_bad_grid_on_one_line(tmp_path, capsys, args, message):
    try:
        status = main(["export-site", str(tmp_path / "page"), *args])
    except SystemExit as stop:  # refused by the argument parser
        status = stop.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "page").exists()
