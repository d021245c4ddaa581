"""The FLOPs lab app driven headlessly: set widgets, read what is on screen, compare with the
cost model (``layer_cost``/``network_cost``) and the flop counter."""

from __future__ import annotations

import re

import ipywidgets as W
import pytest

from hetconv_edu.apps.flops_lab import (
    NETWORK_FAMILIES,
    FlopsLabApp,
    cached_network_cost,
    measure_layer_families,
    network_parts,
)
from hetconv_edu.flops import hetconv_ratio, layer_cost
from hetconv_edu.paper import PAPER_PARTS, paper_row
from hetconv_edu.pattern import divisors, valid_parts
from hetconv_edu.viz.flops_lab import fmt_count


@pytest.fixture(scope="module")
def app():
    return FlopsLabApp()


def _cell(html: str, key: str) -> str:
    match = re.search(rf'data-key="{re.escape(key)}">([^<]*)<', html)
    assert match, f"no cell {key!r}"
    return match.group(1)


def _set_layer(app, d_o, m, n, k, p, g):
    app.channels.set(in_channels=m, out_channels=n, kernel_size=k, p=p)
    app.d_o.value, app.g.value = d_o, g


SPECS = {
    "standard": "standard",
    "depthwise_pointwise": "depthwise_pointwise",
    "groupwise_pointwise": "groupwise_pointwise:{g}",
    "naive_hetconv": "naive_hetconv:{p}",
    "hetconv": "hetconv:{p}",
}


@pytest.mark.parametrize(
    ("d_o", "m", "n", "k", "p", "g"),
    [
        (16, 128, 128, 3, 4, 4),
        (8, 64, 32, 5, 2, 16),
        (7, 96, 192, 3, 32, 3),
        (4, 16, 16, 1, 16, 16),
    ],
)
def test_calculator_numbers(app, d_o, m, n, k, p, g):
    _set_layer(app, d_o, m, n, k, p, g)
    assert app.layer_settings() == {
        "out_size": d_o, "in_channels": m, "out_channels": n, "kernel_size": k, "p": p,
        "groups": g,
    }  # fmt: skip
    for unit, factor in (("MACs", 1), ("FLOPs", 2)):
        app.unit.value = unit
        html = app.numbers.value
        bars = app.layer_fig.data[0]
        for i, (key, spec) in enumerate(SPECS.items()):
            spec = spec.format(p=p, g=g)
            analytic = layer_cost(spec, m, n, k, d_o)
            executed = layer_cost(spec, m, n, k, d_o, executed=True)
            assert _cell(html, f"{key}-work") == fmt_count(analytic.macs * factor)
            assert _cell(html, f"{key}-params") == fmt_count(analytic.params)
            # the flop counter on the real module measures what it executes
            assert _cell(html, f"{key}-measured") == fmt_count(executed.macs * factor)
            standard = layer_cost("standard", m, n, k, d_o)
            assert bars.y[i] == pytest.approx(analytic.macs / standard.macs)
            assert app.layer_fig.data[1].y[i] == pytest.approx(analytic.params / standard.params)
            assert f"{fmt_count(analytic.macs * factor)} {unit}" in bars.hovertext[i]
        assert f"(1 − 1/{p})/{k * k} = " in html
    app.unit.value = "MACs"
    app.ratio_k.value, app.ratio_p.value = k, p  # the ratio section has its own K and P
    here = app.ratio_fig.data[3]
    assert list(here.x) == [p] and here.y[0] == pytest.approx(hetconv_ratio(k, p))
    assert app.ratio_fig.data[2].y[0] == pytest.approx(1 / k**2)


@pytest.mark.parametrize(("m", "n", "p", "g"), [(32, 32, 8, 4), (64, 128, 64, 64), (48, 16, 16, 3)])
def test_calculator_families_analytic_equals_measured(m, n, p, g):
    measured = measure_layer_families(8, m, n, 3, p, g)
    for key, spec in SPECS.items():
        spec = spec.format(p=p, g=g)
        assert measured[key] == layer_cost(spec, m, n, 3, 8, executed=True).macs
        if key != "hetconv":  # only the fast HetConv executes more than the paper counts
            assert measured[key] == layer_cost(spec, m, n, 3, 8).macs
    het_extra = 8 * 8 * n * m // p
    assert measured["hetconv"] == layer_cost(f"hetconv:{p}", m, n, 3, 8).macs + het_extra


def test_p_and_g_stay_valid(app):
    c = app.channels
    _set_layer(app, 8, 64, 64, 3, 64, 64)
    c.out_channels.value = 48  # P=64 no longer divides N: the closest valid P is kept
    assert tuple(c.p.options) == tuple(valid_parts(64, 48))
    assert c.p.value == 16
    c.in_channels.value = 96
    assert tuple(app.g.options) == tuple(divisors(96)) and app.g.value in divisors(96)
    assert c.p.value in valid_parts(96, 48)
    het = layer_cost(f"hetconv:{c.p.value}", 96, 48, 3, 8)
    assert _cell(app.numbers.value, "hetconv-work") == fmt_count(het.macs)


def test_network_parts():
    assert network_parts("vgg16") == (1, 2, 4, 8, 16, 32, 64)
    assert network_parts("small_vgg") == (1, 2, 4, 8, 16, 32, 64)
    assert network_parts("small_resnet") == (1, 2, 4, 8, 16, 32)


@pytest.mark.parametrize("network", ["small_vgg", "small_resnet", "vgg16"])
@pytest.mark.parametrize(
    ("family", "value"), [("HetConv", 8), ("naive HetConv", 4), ("groupwise", 2)]
)
def test_network_section(app, network, family, value):
    app.network.value = network
    app.net_family.value = family
    app.net_p.value = value
    assert app.network_conv() == f"{NETWORK_FAMILIES[family]}:{value}"
    cost = cached_network_cost(network, app.network_conv())
    standard = cached_network_cost(network, "standard")
    # measured (flop counter) == executed analytic count, layer by layer
    for row in cost.rows:
        assert row.macs_measured == row.macs_executed, row
        if family != "HetConv":
            assert row.macs_measured == row.macs
    html = app.net_totals.value
    assert _cell(html, "net-analytic") == fmt_count(cost.macs)
    assert _cell(html, "net-measured") == fmt_count(cost.macs_measured)
    assert _cell(html, "std-analytic") == fmt_count(standard.macs)
    cells = app.net_table.data[0].cells.values
    assert list(cells[0][:-1]) == [r.name for r in cost.rows]
    assert list(cells[8][:-1]) == [fmt_count(r.macs) for r in cost.rows]
    assert list(cells[10][:-1]) == [fmt_count(r.macs_measured) for r in cost.rows]
    standard_bars, bars = [t for t in app.breakdown_fig.data if t.type == "bar"]
    assert sum(bars.y) == cost.macs
    assert sum(standard_bars.y) == standard.macs
    if network == "vgg16" and family == "HetConv":
        assert _cell(html, "paper-convention") == f"{paper_row(value).flops_m:.2f}"


def test_network_switch_keeps_p_valid(app):
    app.network.value = "vgg16"
    app.net_family.value = "HetConv"
    app.net_p.value = 64
    app.network.value = "small_resnet"
    assert app.net_p.value == 32 and tuple(app.net_p.options) == network_parts("small_resnet")


def test_paper_table_in_app(app):
    cells = app.paper_table.data[0].cells.values
    assert list(cells[0]) == [f"P={p}" for p in PAPER_PARTS]
    assert list(cells[1]) == list(cells[2])  # paper figure == ours in the paper's convention
    assert set(cells[3]) == {"✓"}


def test_latency_button_on_tiny_layer(app):
    app.latency_channels.set(in_channels=16, out_channels=16, kernel_size=3, p=2)
    app.latency_d_o.value = 4  # section 6's own layer controls
    app.batch.value, app.rounds.value = 2, 2
    app.measurements.clear()
    app.measure_button.click()
    assert len(app.measurements) == 3
    assert app.progress.value == app.progress.max == 4 * 2
    grouped = next(p for p in app.measurements if p.candidate == "HetConv (grouped)")
    ideal = layer_cost("standard", 16, 16, 3, 4).macs / layer_cost("hetconv:2", 16, 16, 3, 4).macs
    assert grouped.ideal == pytest.approx(ideal)
    assert grouped.measured > 0 and "batch=2" in grouped.settings
    traces = {t.name: t for t in app.speedup_fig.data}
    assert list(traces["HetConv (grouped)"].x) == [grouped.ideal]
    app.measure()  # the chart accumulates
    assert len(app.measurements) == 6
    assert len({t.name: t for t in app.speedup_fig.data}["naive HetConv"].x) == 2
    assert "measured ×" in app.measure_status.value
    app.clear_button.click()
    assert app.measurements == []


def _controls(widget) -> set[int]:
    """ids of the value-holding widgets shown inside ``widget`` (boxes walked)."""
    found = set()
    for child in getattr(widget, "children", ()):
        if hasattr(child, "children"):
            found |= _controls(child)
        elif hasattr(child, "value") and not isinstance(child, W.HTML):
            found.add(id(child))
    return found


def test_sections_keep_their_own_controls_and_lesson_defaults_restore_them(app):
    """The teacher guide's path: K and P moved in section 3, then section 6 measured. Section
    6 must still time the lesson's layer (K = 3, P = 4), not section 3's K = 7, P = 16."""
    app.reset()
    lesson_latency = app.latency_settings()
    lesson_layer = app.layer_settings()
    assert lesson_latency == {
        "out_size": 16, "in_channels": 128, "out_channels": 128, "kernel_size": 3, "p": 4
    }  # fmt: skip
    app.ratio_k.value, app.ratio_p.value = 7, 16
    assert app.ratio_fig.data[3].x[0] == 16
    assert app.latency_settings() == lesson_latency
    assert app.layer_settings() == lesson_layer
    _set_layer(app, 8, 64, 32, 5, 2, 16)
    assert app.latency_settings() == lesson_latency
    assert (app.ratio_k.value, app.ratio_p.value) == (7, 16)

    # no control is shown in two sections, except the ones the page says are shared
    sections = {
        name: _controls(getattr(app, f"{name}_section"))
        for name in ("layer", "units", "ratio", "network", "breakdown", "latency")
    }
    shared = {id(w) for w in (app.unit, app.network, app.net_family, app.net_p)}
    names = list(sections)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not (sections[a] & sections[b]) - shared, (a, b)
    assert "section 4's controls" in app.breakdown_section.children[2].value

    app.unit.value = "FLOPs"
    app.network.value = "small_resnet"
    app.latency_channels.set(kernel_size=7, p=8)
    app.reset_buttons[-1].click()  # "lesson defaults" in section 6
    assert app.latency_settings() == lesson_latency
    assert app.layer_settings() == lesson_layer
    assert (app.ratio_k.value, app.ratio_p.value) == (3, 4)
    assert (app.unit.value, app.network.value, app.net_p.value) == ("MACs", "vgg16", 4)
    assert len(app.reset_buttons) == 5
    assert all(b.description == "lesson defaults" for b in app.reset_buttons)


def test_measure_at_the_largest_sizes_is_refused_with_an_estimate(monkeypatch):
    import hetconv_edu.apps.flops_lab.measure as lab

    app = FlopsLabApp(measure_flop_counter=False)
    d_o, channels = app.latency_d_o.max, app.latency_channels.in_channels.max
    app.latency_channels.set(in_channels=channels, out_channels=channels, kernel_size=3, p=4)
    app.latency_d_o.value = d_o
    app.batch.value, app.rounds.value = max(app.batch.options), app.rounds.max
    estimate = lab.estimate_measure_seconds(
        d_o, channels, channels, 3, 4, batch=app.batch.value, rounds=app.rounds.value
    )
    assert estimate > app.time_limit_s

    def never(*args, **kw):
        raise AssertionError("the measurement should have been refused")

    monkeypatch.setattr(lab, "measure_speedups", never)
    assert app.measure() == [] and app.measurements == []
    status = re.sub(r"<[^>]+>", "", app.measure_status.value)
    assert "Not measured" in status and "would take about" in status
    assert not app.measure_button.disabled


def test_measure_estimate_comes_from_a_measurement(monkeypatch):
    import hetconv_edu.apps.flops_lab.measure as lab
    import hetconv_edu.timing as timing

    clock = iter(range(10**6))
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock) * 0.01)
    # Each timed pass reads the clock twice: 0.01 s per layer and image, four layers.
    estimate = lab.estimate_measure_seconds(4, 16, 16, 3, 4, batch=8, rounds=5, warmup=2)
    assert estimate == pytest.approx(4 * 0.01 * 8 * (5 + 2))
