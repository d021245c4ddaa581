"""The conversion report (hetconv_edu.conversion_report), its figure (hetconv_edu.viz.convert)
and ``python -m hetconv_edu convert-report``: the numbers are network_cost's before and after,
the times the package's timer's, and every problem is one clear line."""

from __future__ import annotations

import importlib

import plotly.graph_objects as go
import pytest

from hetconv_edu.__main__ import main
from hetconv_edu.conversion_report import conversion_report
from hetconv_edu.convert import convert
from hetconv_edu.flops import hetconv_macs, network_cost
from hetconv_edu.networks import build_network, default_input_shape
from hetconv_edu.viz.convert import conversion_figure

pytestmark = pytest.mark.filterwarnings("ignore:torchvision .* compiled operators:UserWarning")


@pytest.fixture(scope="module")
def report():
    model = build_network("small_resnet")
    return conversion_report(model, 4, input_shape=(2, 3, 16, 16), rounds=1, warmup=0)


def test_report_numbers_are_network_cost_before_and_after(report):
    model = build_network("small_resnet")
    before = network_cost(model, (1, 3, 16, 16))
    after = network_cost(convert(model, 4), (1, 3, 16, 16))
    assert report.before == before and report.after == after
    assert [r.name for r in report.layers] == [r.name for r in before.rows]
    converted = {d.name for d in report.plan.converted}
    assert converted and len(converted) < len(report.layers)
    for row in report.layers:
        if row.name in converted:
            d = row.out_size
            assert row.macs_after == hetconv_macs(d, row.in_channels, row.out_channels, 3, 4)
            assert row.macs_before == d * d * row.in_channels * row.out_channels * 9
            assert row.note == "HetConv P=4" and row.p == 4
        else:
            assert (row.macs_after, row.params_after) == (row.macs_before, row.params_before)
            assert row.p is None and row.note
    assert report.macs_ratio == after.macs / before.macs < 0.5
    assert report.params_ratio == after.total_params / before.total_params


def test_report_times_both_passes_of_both_networks(report):
    assert [s.kind for s in report.speed] == ["forward", "forward+backward"]
    for s in report.speed:
        assert s.before_s > 0 and s.after_s > 0
        assert s.speedup == s.before_s / s.after_s
    assert report.input_shape == (2, 3, 16, 16) and report.rounds == 1


def test_report_text_states_units_totals_time_and_what_was_kept(report):
    text = report.text()
    lines = text.splitlines()
    assert lines[0].startswith("ResNet → HetConv (shifted arrangement): 6 of 9 convolutions")
    assert "MACs = multiply-accumulates" in text and "bias additions not counted" in text
    total = next(line for line in lines if line.startswith("total (conv + linear)"))
    assert f"{report.before.macs:,}" in total and f"{report.after.macs:,}" in total
    header = next(line for line in lines if line.startswith("layer"))
    # the totals sit under their columns
    assert total.index(f"{report.before.macs:,}") + len(f"{report.before.macs:,}") == (
        header.index("MACs before") + len("MACs before")
    )
    assert f"{report.before.total_params:,} → {report.after.total_params:,}" in text
    assert "forward+backward" in text and "ms →" in text
    assert "kept as they are (3):" in text
    assert "  stem.0: P=4 does not divide M=3" in text


def test_report_without_timing():
    model = build_network("small_vgg")
    report = conversion_report(
        model, plan={"features.4": 2}, input_shape=(1, 3, 32, 32), timing=False
    )
    assert report.speed == ()
    assert "measured time: not measured (timing off)" in report.text()
    assert [d.name for d in report.plan.converted] == ["features.4"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_shape": (3, 32, 32)}, r"input_shape must be four positive integers"),
        ({"input_shape": (1, 3, 0, 32)}, r"input_shape\[2\] must be a positive integer"),
        ({"input_shape": "1,3,32,32"}, r"input_shape must be four positive integers"),
        ({"input_shape": (1, 3, 32, 32), "rounds": 0}, "rounds must be a positive integer"),
        ({"input_shape": (1, 3, 32, 32), "timing": "yes"}, "timing must be True or False"),
    ],
)
def test_bad_report_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        conversion_report(build_network("small_vgg"), 4, **kwargs)


def test_figure_shows_the_reports_numbers(report):
    fig = conversion_figure(report)
    assert isinstance(fig, go.Figure)
    bars = [t for t in fig.data if isinstance(t, go.Bar)]
    macs = [t for t in bars if t.xaxis == "x"]
    times = [t for t in bars if t.xaxis == "x2"]
    assert list(macs[0].y) == [r.macs_before for r in report.layers]
    assert list(macs[1].y) == [r.macs_after for r in report.layers]
    assert list(macs[0].x) == [r.name for r in report.layers]
    assert list(times[0].y) == [s.before_s * 1e3 for s in report.speed]
    assert list(times[1].y) == [s.after_s * 1e3 for s in report.speed]
    assert "6 of 9 convolutions" in fig.layout.title.text
    note = fig.layout.annotations[-1].text
    assert f"forward {report.speed[0].speedup:.2f}×" in note


def test_figure_without_timing_says_so():
    model = build_network("small_vgg")
    report = conversion_report(model, 2, input_shape=(1, 3, 32, 32), timing=False)
    fig = conversion_figure(report)
    assert not [t for t in fig.data if t.xaxis == "x2"]
    assert fig.layout.annotations[-1].text == "time not measured (timing off)"


def test_cli_prints_the_table_for_a_package_model(capsys):
    assert main(["convert-report", "small_vgg", "--p", "4", "--no-timing"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("small_vgg → HetConv (shifted arrangement): 4 of 5 convolutions")
    assert "115,018,240" in out and "39,520,768" in out  # the 115.0M and 39.5M


def test_cli_prints_the_table_for_resnet18_with_time(capsys):
    argv = ["convert-report", "resnet18", "--size", "32", "--batch", "2", "--rounds", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("resnet18 → HetConv (shifted arrangement): 16 of 20 convolutions")
    assert "input 3×32×32" in out and "forward+backward" in out
    assert "layer4.1.conv2" in out and "fc " in out


def test_cli_without_torchvision_says_what_to_install(capsys, monkeypatch):
    real = importlib.import_module

    def no_torchvision(name, *args):
        if name == "torchvision":
            raise ModuleNotFoundError("No module named 'torchvision'", name="torchvision")
        return real(name, *args)

    monkeypatch.setattr("hetconv_edu.networks.importlib.import_module", no_torchvision)
    assert main(["convert-report", "resnet18", "--no-timing"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "'resnet18' is not one of the package's models" in err
    assert "torchvision is not installed; install torchvision 0.28" in err
    # the package's own models still work
    assert main(["convert-report", "small_resnet", "--no-timing"]) == 0


def test_cli_batch_norm_with_one_value_per_channel_is_one_line(capsys):
    argv = ["convert-report", "resnet18", "--size", "32", "--batch", "1", "--rounds", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "time a batch of 2 or more (--batch 2)" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_unknown_network_is_one_line_with_status_2(capsys):
    assert main(["convert-report", "resnet999", "--no-timing"]) == 2
    err = capsys.readouterr().err
    assert "unknown network 'resnet999'" in err and "small_vgg" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["convert-report", "small_vgg", "--p", "0"], "expected a positive integer"),
        (["convert-report", "small_vgg", "--arrangement", "block"], "invalid choice"),
    ],
)
def test_cli_bad_options_are_one_line_with_status_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_default_input_shapes():
    assert default_input_shape("small_vgg") == (1, 3, 32, 32)
    assert default_input_shape("resnet18") == (1, 3, 224, 224)
    with pytest.raises(ValueError, match="name must be a network name"):
        build_network(18)


def test_cli_an_input_the_network_cannot_take_is_one_line_with_status_2(capsys):
    assert main(["convert-report", "small_vgg", "--size", "1", "--no-timing"]) == 2
    err = capsys.readouterr().err
    assert "VGG cannot run on an input of shape (1, 3, 1, 1): " in err
    assert "Output size is too small" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "failure",
    [ImportError("libc10.so: undefined symbol"), OSError("cannot open shared object file")],
)
def test_cli_with_a_broken_torchvision_says_what_to_install(failure, capsys, monkeypatch):
    real = importlib.import_module

    def broken_torchvision(name, *args):
        if name == "torchvision":
            raise failure
        return real(name, *args)

    monkeypatch.setattr("hetconv_edu.networks.importlib.import_module", broken_torchvision)
    assert main(["convert-report", "resnet18", "--no-timing"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"torchvision cannot be imported ({failure}); install torchvision 0.28" in err


def test_a_plan_the_network_cannot_take_is_refused_not_reported_as_unchanged():
    with pytest.raises(ValueError, match=r"'features.0' with P=2 \(P=2 does not divide M=3"):
        conversion_report(
            build_network("small_vgg"), plan={"features.0": 2}, input_shape=(1, 3, 32, 32),
            timing=False,
        )  # fmt: skip
