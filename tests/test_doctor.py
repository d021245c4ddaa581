"""The setup doctor against simulated broken environments, and its command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from hetconv_edu import data
from hetconv_edu.__main__ import main
from hetconv_edu.data import fashion_mnist
from hetconv_edu.doctor import (
    FRONT_END_PACKAGES,
    RESTART_SERVER,
    SETUP_CLASS,
    SETUP_CSS,
    WIDGETS_BROKEN,
    WIDGETS_WORK,
    Finding,
    KnownProblem,
    Report,
    ServerStart,
    check_datasets,
    check_server_restart,
    check_setup,
    check_torch,
    check_versions,
    extension_install_times,
    installed_versions,
    report_outputs,
    running_servers,
)
from hetconv_edu.viz.palette import MESSAGE_COLORS
from tests.datasets import write_fake_cifar10

REPO = Path(__file__).resolve().parents[1]
GOOD = {
    "jupyterlab": "4.2.5",
    "ipywidgets": "8.1.5",
    "jupyterlab_widgets": "3.0.13",
    "plotly": "6.0.1",
}


@pytest.fixture
def no_system_fashion_mnist(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide Debian's Fashion-MNIST so that 'missing' means missing."""
    monkeypatch.setattr(fashion_mnist, "FASHION_MNIST_SYSTEM_DIRS", ())


# --------------------------------------------------------------------------- versions


def test_good_versions_are_one_ok_finding() -> None:
    findings = check_versions(GOOD)
    assert [f.level for f in findings] == ["ok"]
    assert "ipywidgets 8.1.5" in findings[0].message and "work together" in findings[0].message


def test_the_installed_versions_are_read_and_pass() -> None:
    versions = installed_versions()
    assert set(versions) == set(FRONT_END_PACKAGES)
    assert all(versions.values()), versions  # the project's environment has them all
    assert [f.level for f in check_versions()] == ["ok"]


@pytest.mark.parametrize(
    ("changes", "level", "message", "fix"),
    [
        ({"ipywidgets": None}, "error", "ipywidgets is not installed", "'ipywidgets>=8.1,<9'"),
        (
            {"ipywidgets": "7.8.5", "jupyterlab_widgets": "1.1.11"},
            "error",
            "ipywidgets 7.8.5 is version 7, and JupyterLab 4.2.5 is version 4",
            "restart the Jupyter server",
        ),
        ({"ipywidgets": "8.0.7"}, "error", "older than 8.1", "'ipywidgets>=8.1,<9'"),
        ({"ipywidgets": "9.0.0"}, "warn", "newer than the 8.x", "'ipywidgets>=8.1,<9'"),
        (
            {"jupyterlab_widgets": "1.1.11"},
            "error",
            "ipywidgets 8.1.5 needs jupyterlab_widgets 3, but 1.1.11 is installed",
            "'jupyterlab_widgets>=3,<4', then restart the Jupyter server",
        ),
        (
            {"jupyterlab_widgets": None},
            "error",
            "'VBox(children=...)'",
            "'jupyterlab_widgets>=3,<4'",
        ),
        ({"jupyterlab": None}, "warn", "JupyterLab is not installed", "'jupyterlab>=4.2,<5'"),
        ({"jupyterlab": "3.6.7"}, "warn", "JupyterLab 3.6.7 is older", "'jupyterlab>=4.2,<5'"),
        ({"jupyterlab": "5.0.0a1"}, "warn", "newer than the 4.x", "'jupyterlab>=4.2,<5'"),
        ({"plotly": None}, "error", "plotly is not installed", "'plotly>=6'"),
        (
            {"plotly": "5.24.1"},
            "error",
            "plotly 5.24.1 is older than 6",
            "pip install 'plotly>=6', then restart the Jupyter server",
        ),
    ],
)
def test_each_known_bad_combination_is_named_with_its_fix(
    changes: dict, level: str, message: str, fix: str
) -> None:
    findings = check_versions({**GOOD, **changes})
    assert len(findings) == 1, findings  # one problem, reported once
    (finding,) = findings
    assert (finding.level, finding.topic) == (level, "packages")
    assert message in finding.message
    assert fix in finding.fix


def test_independent_problems_are_all_reported() -> None:
    broken = {**GOOD, "jupyterlab_widgets": "1.1.11", "plotly": None, "jupyterlab": "3.6.7"}
    messages = " | ".join(f.message for f in check_versions(broken))
    assert "needs jupyterlab_widgets 3" in messages
    assert "plotly is not installed" in messages
    assert "JupyterLab 3.6.7 is older" in messages


def test_ipywidgets_7_without_jupyterlab_gets_the_general_row() -> None:
    findings = check_versions({**GOOD, "ipywidgets": "7.8.5", "jupyterlab": None})
    messages = [f.message for f in findings]
    assert any("older than 8.1" in m for m in messages)
    assert not any("is version 7" in m for m in messages)


def test_versions_must_name_every_package() -> None:
    with pytest.raises(ValueError, match="missing: \\['plotly'\\]"):
        check_versions({k: v for k, v in GOOD.items() if k != "plotly"})


def test_a_known_problem_rejects_bad_conditions() -> None:
    with pytest.raises(ValueError, match="comparisons like"):
        KnownProblem("plotly", {"plotly": "about 6"}, "error", "m", "f")
    with pytest.raises(ValueError, match="unknown package 'numpy'"):
        KnownProblem("numpy", {"numpy": "<2"}, "error", "m", "f")
    with pytest.raises(ValueError, match="level must be"):
        KnownProblem("plotly", {"plotly": "<6"}, "ok", "m", "f")


def test_conditions_are_version_specifiers_of_the_release() -> None:
    problem = KnownProblem("ipywidgets", {"ipywidgets": "~=8.1"}, "warn", "m", "f")
    assert problem.applies({"ipywidgets": "8.1.5"}) and problem.applies({"ipywidgets": "8.4.0rc1"})
    assert not problem.applies({"ipywidgets": "9.0"})
    assert not problem.applies({"ipywidgets": "8.0.7+local"})
    with pytest.raises(ValueError, match="comparisons like"):
        KnownProblem("plotly", {"plotly": ""}, "error", "m", "f")


def test_release_numbers_with_local_tags_compare() -> None:
    problem = KnownProblem("plotly", {"plotly": ">=6,<7"}, "warn", "plotly {plotly}", "f")
    assert problem.applies({"plotly": "6.0.0rc1"})
    assert problem.applies({"plotly": "6.3.0+local"})
    assert not problem.applies({"plotly": "7.0"})
    assert not problem.applies({"plotly": None})


# --------------------------------------------------------------------------- server restart


def _fake_extension(folder: Path, name: str, mtime: float) -> Path:
    extension = folder / name
    extension.mkdir(parents=True)
    (extension / "package.json").write_text(json.dumps({"name": name}))
    for path in (extension / "package.json", extension):
        os.utime(path, (mtime, mtime))
    return extension


def test_extension_install_times_from_folders(tmp_path: Path) -> None:
    now = time.time()
    first, second = tmp_path / "env", tmp_path / "user"
    _fake_extension(first, "@jupyter-widgets/jupyterlab-manager", now - 3600)
    _fake_extension(first, "jupyterlab-plotly", now - 100)
    _fake_extension(second, "jupyterlab-plotly", now - 10)  # shadowed: JupyterLab loads the first
    _fake_extension(first, "some-other-extension", now)
    times = extension_install_times([first, second, tmp_path / "absent"])
    assert times == pytest.approx(
        {"@jupyter-widgets/jupyterlab-manager": now - 3600, "jupyterlab-plotly": now - 100}
    )


def test_a_server_older_than_the_widgets_must_be_restarted(tmp_path: Path) -> None:
    now = time.time()
    _fake_extension(tmp_path, "@jupyter-widgets/jupyterlab-manager", now - 7200)
    _fake_extension(tmp_path, "jupyterlab-plotly", now - 60)  # installed while the server ran
    server = ServerStart("http://127.0.0.1:8888/", 4242, now - 600)
    findings = check_server_restart([server], extension_install_times([tmp_path]))
    (finding,) = findings
    assert finding.level == "error" and finding.topic == "jupyter server"
    assert "http://127.0.0.1:8888/" in finding.message and "4242" in finding.message
    assert "jupyterlab-plotly (plotly)" in finding.message
    assert "jupyterlab-manager" not in finding.message  # installed before the server started
    assert "Failed to load model class" in finding.message
    assert finding.fix == RESTART_SERVER
    assert "not only the kernel" in finding.fix


def test_a_server_started_after_the_widgets_is_fine() -> None:
    now = time.time()
    installed = {"@jupyter-widgets/jupyterlab-manager": now - 600, "jupyterlab-plotly": now - 500}
    old = ServerStart("http://127.0.0.1:8888/", 1, now - 550)
    new = ServerStart("http://127.0.0.1:9999/", 2, now - 10)
    findings = check_server_restart([old, new], installed)
    assert [f.level for f in findings] == ["error", "ok"]
    assert "jupyterlab-plotly (plotly)" in findings[0].message
    assert "jupyterlab-manager" not in findings[0].message


def test_no_running_server_is_fine() -> None:
    (finding,) = check_server_restart([], {"jupyterlab-plotly": time.time()})
    assert finding.level == "ok" and "No running Jupyter server" in finding.message


def test_running_servers_read_the_runtime_folder(tmp_path: Path) -> None:
    started = time.time() - 1234
    info = tmp_path / f"jpserver-{os.getpid()}.json"  # this process: surely running
    info.write_text(f'{{"pid": {os.getpid()}, "url": "http://127.0.0.1:8123/"}}')
    os.utime(info, (started, started))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f"jpserver-{dead.pid}.json").write_text(f'{{"pid": {dead.pid}, "url": "x"}}')
    servers = running_servers(tmp_path)
    assert servers == [ServerStart("http://127.0.0.1:8123/", os.getpid(), pytest.approx(started))]
    assert running_servers(tmp_path / "no-such-folder") == []


# --------------------------------------------------------------------------- data


def test_missing_data_says_where_to_put_it(tmp_path: Path, no_system_fashion_mnist) -> None:
    findings = check_datasets(tmp_path)
    assert [f.level for f in findings] == ["warn", "warn", "error"]
    cifar, fashion, neither = findings
    # The fix is the loader's own message, word for word.
    with pytest.raises(data.DatasetNotFoundError) as cifar_error:
        data.load_cifar10(tmp_path, download=False)
    assert cifar.fix == str(cifar_error.value)
    assert str(tmp_path / "cifar-10-python.tar.gz") in cifar.fix
    assert "CIFAR-10 was not found" in cifar.message and str(tmp_path) in cifar.message
    with pytest.raises(data.DatasetNotFoundError) as fashion_error:
        data.load_fashion_mnist(tmp_path, download=False)
    assert fashion.fix == str(fashion_error.value)
    assert "apt install dataset-fashion-mnist" in fashion.fix
    assert "Notebook 3 trains on CIFAR-10 or Fashion-MNIST" in neither.message


def test_found_data_is_ok(tmp_path: Path, no_system_fashion_mnist) -> None:
    write_fake_cifar10(tmp_path, n_train=200, n_test=50)
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        cifar, fashion = check_datasets(tmp_path)
    assert cifar.level == "ok"
    assert "CIFAR-10 found and checked: 200 training and 50 test images" in cifar.message
    # made-up batches are not the official files: said in the finding, not printed beside it
    assert "is not the official CIFAR-10 release" in cifar.message and not escaped
    assert fashion.level == "warn"  # one data set is enough: no error


def test_damaged_data_is_an_error(tmp_path: Path) -> None:
    folder = write_fake_cifar10(tmp_path, n_train=200, n_test=50)
    (folder / "test_batch").unlink()
    cifar = check_datasets(tmp_path, names=["cifar10"])[0]
    assert cifar.level == "error" and "cannot be read" in cifar.message
    assert "lacks test_batch" in cifar.fix


def test_the_data_folder_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    cifar = check_datasets(names=["cifar10"])[0]
    assert f"data folder {tmp_path}" in cifar.message


def test_unknown_data_sets_are_refused() -> None:
    with pytest.raises(ValueError, match=r"names must be some of .*got \['mnist'\]"):
        check_datasets(names=["mnist"])


# --------------------------------------------------------------------------- torch


def test_torch_fine() -> None:
    findings = check_torch("2.5.1", "cpu", threads=4, cores=4)
    assert {f.level for f in findings} == {"ok"}
    assert "torch 2.5.1 trains on the CPU" in findings[0].message
    assert "cuda" in check_torch("2.5.1", "cuda", threads=4, cores=4)[0].message


def test_old_torch_is_an_error() -> None:
    error = check_torch("2.1.2+cpu", "cpu", threads=2, cores=2)[0]
    assert error.level == "error" and "torch 2.1.2+cpu" in error.message
    assert "'torch>=2.3,<3'" in error.fix


def test_more_threads_than_cores_is_a_warning() -> None:
    warnings = [f for f in check_torch("2.5.1", "cpu", threads=8, cores=2) if f.level == "warn"]
    (warning,) = warnings
    assert "8 threads on 2 physical cores" in warning.message
    assert "OMP_NUM_THREADS=2" in warning.fix


def test_one_core_is_a_warning() -> None:
    warnings = [f for f in check_torch("2.5.1", "cpu", threads=1, cores=1) if f.level == "warn"]
    (warning,) = warnings
    assert "one CPU core" in warning.message and "Train images" in warning.fix


def test_torch_reads_the_real_environment_by_default() -> None:
    import torch

    from hetconv_edu.train import physical_cores

    findings = check_torch()
    assert f"torch {torch.__version__}" in findings[0].message
    assert any(f"on {physical_cores()} physical core" in f.message for f in findings)


def test_torch_rejects_bad_counts() -> None:
    with pytest.raises(ValueError, match="cores must be a positive integer, got 0"):
        check_torch("2.5.1", "cpu", threads=1, cores=0)


# --------------------------------------------------------------------------- report


def test_findings_are_validated() -> None:
    with pytest.raises(ValueError, match="level must be one of"):
        Finding("fine", "torch", "m")
    with pytest.raises(ValueError, match="needs a fix"):
        Finding("warn", "torch", "m")


def test_report_lists_problems_first_with_their_fixes() -> None:
    report = Report(
        (
            Finding("ok", "torch", "torch fine."),
            Finding("warn", "data", "No CIFAR-10.", "Copy it to data/."),
            Finding("error", "packages", "No <ipywidgets>.", "pip install it\nthen restart"),
        )
    )
    assert report.level == "error" and report.exit_code == 1
    text = report.text()
    assert text.splitlines()[0] == "Your setup has 1 error and 1 warning; the fixes are below."
    assert text.index("ERROR [packages]") < text.index("WARN  [data]") < text.index("ok    [")
    assert "Fix: pip install it\n      then restart" in text
    page = report.html()
    assert "No &lt;ipywidgets&gt;." in page and "pip install it<br>then restart" in page
    assert "hetconv-message hetconv-error" in page  # red, in the package's one palette
    assert MESSAGE_COLORS["error"][0] in page and "style=" not in page
    assert report._repr_mimebundle_()["text/plain"] == text


def test_an_all_ok_report_is_green_and_compact() -> None:
    report = Report((Finding("ok", "torch", "torch fine."),))
    assert report.exit_code == 0 and report.level == "ok"
    page = report.html()
    assert "Your setup is ready" in page and "hetconv-text-ok" in page and "Fix" not in page
    assert MESSAGE_COLORS["ok"][0] in page  # the rules travel with the report
    assert "<details>" in page  # the fine checks fold away
    assert Report(()).level == "ok"


def test_the_widget_probe_tells_the_fix_when_the_page_cannot_draw_it() -> None:
    report = Report((Finding("ok", "torch", "torch fine."),))
    outputs = report_outputs(report)
    assert outputs[0] is report
    bundle = outputs[-1]._repr_mimebundle_()
    # JupyterLab draws the widget where it can, and falls back to the text where it cannot.
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == WIDGETS_BROKEN
    assert "Restart the Jupyter server, not only the kernel" in bundle["text/plain"]
    assert "Widgets do not work" in bundle["text/html"]
    hint = outputs[1]._repr_html_()
    assert "Failed to load model class" in hint and "not only the kernel" in hint
    assert WIDGETS_WORK in hint


def test_the_setup_output_grows_with_the_projector_style() -> None:
    from hetconv_edu.viz import style

    report = Report((Finding("ok", "torch", "torch fine."),))
    outputs = report_outputs(report)
    probe = outputs[-1]._repr_mimebundle_()
    # every part the class sees carries the class and the rule that enlarges it
    for page in (report.html(), outputs[1]._repr_html_(), outputs[-1].widget.value):
        assert SETUP_CLASS in page and SETUP_CSS in page
    assert "application/vnd.jupyter.widget-view+json" in probe
    # the rule follows the projector style's class and sizes (viz.style's, not a copy's)
    assert f"body:has(.{style.PROJECTOR_CLASS}) .{SETUP_CLASS}" in SETUP_CSS
    assert f"--hetconv-scale:{style.PROJECTOR.font_scale}" in SETUP_CSS
    assert "--jp-widgets-font-size: 18px" in style.PROJECTOR_CSS and "font-size:18px" in SETUP_CSS


def test_check_setup_displays_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_system_fashion_mnist
) -> None:
    import IPython.display

    shown: list = []
    monkeypatch.setattr(IPython.display, "display", lambda *objects: shown.extend(objects))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    write_fake_cifar10(tmp_path / "data", n_train=100, n_test=50)
    assert check_setup(tmp_path / "data") is None
    report = shown[0]
    assert isinstance(report, Report) and report.exit_code == 0
    assert any("CIFAR-10 found" in f.message for f in report.findings)
    assert shown[-1]._repr_mimebundle_()["text/plain"] == WIDGETS_BROKEN


# --------------------------------------------------------------------------- command line


def test_doctor_command_exits_0_without_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, no_system_fashion_mnist
) -> None:
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    write_fake_cifar10(tmp_path / "data", n_train=100, n_test=50)
    assert main(["doctor", "--data-root", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Your setup has 1 warning; the fixes are below.")
    assert "WARN  [data] Fashion-MNIST was not found" in out
    assert "ok    [data] CIFAR-10 found and checked" in out
    assert "ok    [packages]" in out and "ok    [torch]" in out


def test_doctor_command_exits_1_on_an_error(tmp_path: Path) -> None:
    folder = write_fake_cifar10(tmp_path / "data", n_train=100, n_test=50)
    (folder / "batches.meta").unlink()  # damaged: an error whatever else is installed
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    env[data.DATA_DIR_ENV] = str(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-m", "hetconv_edu", "doctor"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert "error" in lines[0] and "the fixes are below" in lines[0]
    assert lines[2].startswith("ERROR [data] CIFAR-10 was found but cannot be read")
    assert "Fix:" in lines[3] and "batches.meta" in lines[3]


# --------------------------------------------------------------------------- torch broken


def _with_broken_torch(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where ``import torch`` fails as a broken install
    does (a shared library that cannot be loaded)."""
    fake = tmp_path / "broken" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        'raise OSError("libtorch_cpu.so: cannot open shared object file")\n'
    )
    env = {**os.environ, "PYTHONPATH": f"{fake.parent}{os.pathsep}{REPO}"}
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_package_imports_without_torch_and_loads_layers_on_first_use(tmp_path: Path) -> None:
    result = _with_broken_torch(
        tmp_path,
        "import sys, hetconv_edu\n"
        "assert 'torch' not in sys.modules or sys.modules['torch'] is None\n"
        "print(hetconv_edu.__version__)\n"
        "try:\n    hetconv_edu.HetConv2d\nexcept OSError as e:\n    print('layers:', e)\n",
    )
    assert result.returncode == 0, result.stderr
    assert "layers: libtorch_cpu.so" in result.stdout


def test_doctor_reports_a_broken_torch_instead_of_crashing(tmp_path: Path) -> None:
    result = _with_broken_torch(
        tmp_path,
        "from hetconv_edu.doctor import diagnose\n"
        f"report = diagnose({str(tmp_path / 'data')!r})\n"
        "for f in report.findings:\n    print(f.level, f.topic, f.message, '|', f.fix)\n",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    torch_lines = [line for line in lines if line.startswith("error torch")]
    assert len(torch_lines) == 1, lines
    assert "torch cannot be imported (OSError: libtorch_cpu.so" in torch_lines[0]
    assert "make lab" in torch_lines[0]
    data_lines = [line for line in lines if " data " in line]
    assert len(data_lines) == 1 and data_lines[0].startswith(
        "warn data The data sets cannot be checked while torch cannot be imported"
    )


def test_check_torch_names_the_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # torch missing: ModuleNotFoundError
    (finding,) = check_torch("2.5.1", "cpu", threads=2, cores=2)
    assert finding.level == "error"
    assert "torch cannot be imported (ModuleNotFoundError" in finding.message


def test_command_line_doctor_runs_and_other_commands_say_why_not(tmp_path: Path) -> None:
    run = "from hetconv_edu.__main__ import main\nraise SystemExit(main({}))\n"
    doctor = _with_broken_torch(tmp_path, run.format(["doctor", "--data-root", str(tmp_path)]))
    assert doctor.returncode == 1, doctor.stderr
    assert "Traceback" not in doctor.stderr
    assert "ERROR [torch] torch cannot be imported (OSError: libtorch_cpu.so" in doctor.stdout
    train = _with_broken_torch(tmp_path / "t", run.format(["train", "--epochs", "3"]))
    assert train.returncode == 1 and "Traceback" not in train.stderr
    assert train.stderr.strip().splitlines() == [
        "python -m hetconv_edu train: error: this command cannot run here: OSError: "
        "libtorch_cpu.so: cannot open shared object file. Run `python -m hetconv_edu doctor` "
        "to see what is wrong and how to fix it."
    ]
