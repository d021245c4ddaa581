"""``python -m hetconv_edu train|compare`` on tiny generated data; clean one-line errors."""

from __future__ import annotations

import dataclasses
import errno
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from hetconv_edu import data
from hetconv_edu.__main__ import main
from hetconv_edu.data import cifar10
from hetconv_edu.train import TrainConfig, physical_cores, read_checkpoint
from hetconv_edu.train import checkpoint as checkpoint_module
from hetconv_edu.train import run_folder as run_folder_module
from tests.datasets import write_fake_cifar10

REPO = Path(__file__).resolve().parents[1]
TINY = ["--widths", "8", "16", "32", "--batch-size", "64", "--threads", "2", "--device", "cpu"]


def common(data_root: Path, run_dir: Path) -> list[str]:
    return [*TINY, "--data-root", str(data_root), "--no-download", "--run-dir", str(run_dir)]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hetconv_edu", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_train_prints_table_and_writes_run(data_root, tmp_path, capsys):
    argv = ["train", "--conv", "hetconv:4", "--epochs", "2", *common(data_root, tmp_path)]
    assert main([*argv, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "HetConv P=4" in out and "test acc" in out and "MACs/image" in out
    runs = list(tmp_path.iterdir())
    assert len(runs) == 1
    history = json.loads((runs[0] / "history.json").read_text())
    assert len(history["epochs"]) == 2
    # --resume of a finished run: nothing left to train, same table.
    assert main(["train", "--resume", "--no-progress", *argv[1:]]) == 0
    assert "resuming at epoch 3" in capsys.readouterr().out


def test_compare_prints_table(data_root, tmp_path, capsys):
    argv = ["compare", "--conv", "standard", "hetconv:4", "hetconv:8", "--epochs", "1"]
    assert main([*argv, *common(data_root, tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip()]
    header = next(i for i, line in enumerate(lines) if line.startswith("run"))
    rows = lines[header + 2 : header + 5]
    assert [r.split("  ")[0] for r in rows] == ["standard", "HetConv P=4", "HetConv P=8"]
    for word in ("test acc", "params", "MACs/image", "s/epoch", "images/s"):
        assert word in lines[header]


def test_per_layer_conv_list(data_root, tmp_path, capsys):
    convs = ["standard", "hetconv:2", "hetconv:4", "hetconv:8"]
    argv = ["train", "--conv", *convs, "--epochs", "1", *common(data_root, tmp_path)]
    assert main([*argv, "--no-progress"]) == 0
    assert "per-layer" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--epochs", "0"], "positive integer"),
        (["train", "--conv", "hetconv:x"], "positive integer after ':'"),
        (["train", "--model", "nope"], "model must be one of"),
        (["train", "--conv", "hetconv:3"], "p=3 is not allowed"),
        (["train", "--lr", "-1"], "lr must be"),
        (["frobnicate"], "invalid choice"),
        (["train", "--resume", "--name", "never-trained"], "no checkpoint"),
        (["train", "--resume", "--overwrite"], "choose one"),
    ],
)
def test_bad_input_gives_one_line_error(data_root, tmp_path, args, message):
    result = run_cli(*args, *common(data_root, tmp_path), "--no-progress")
    assert_one_line_usage_error(result, message)


def test_two_widths_for_small_vgg_is_a_usage_error(data_root, tmp_path):
    result = run_cli("train", *common(data_root, tmp_path), "--widths", "32", "64")
    assert_one_line_usage_error(result, "small_vgg needs three widths (w0, w1, w2), got [32, 64]")


def assert_one_line_usage_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert message in lines[-1]
    assert len([line for line in lines if "error" in line]) == 1


def test_missing_data_is_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli(
        "train", *TINY, "--data-root", str(empty), "--no-download", "--run-dir", str(tmp_path)
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "cifar-10" in result.stderr.lower()


def test_a_truncated_archive_is_one_line(tmp_path):
    served = write_fake_cifar10(tmp_path / "served", as_archive=True)
    root = tmp_path / "root"
    root.mkdir()
    (root / served.name).write_bytes(served.read_bytes()[:5000])
    result = run_cli("train", *TINY, "--data-root", str(root), "--run-dir", str(tmp_path / "runs"))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert "is truncated, damaged or another file (it was left as it is)" in result.stderr
    assert (root / served.name).stat().st_size == 5000


def test_a_damaged_batch_is_one_line(tmp_path):
    folder = write_fake_cifar10(tmp_path / "data", n_train=50, n_test=20)
    (folder / "test_batch").write_bytes((folder / "test_batch").read_bytes()[:300])
    result = run_cli(
        "train", *TINY, "--data-root", str(folder.parent), "--run-dir", str(tmp_path / "runs")
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert "test_batch could not be read" in result.stderr


def test_a_copy_that_is_not_the_official_release_is_one_warning_line(tmp_path):
    folder = write_fake_cifar10(tmp_path / "data", n_train=100, n_test=20)
    result = run_cli(
        "train", *TINY, "--epochs", "1", "--data-root", str(folder.parent), "--no-progress",
        "--run-dir", str(tmp_path / "runs"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"python -m hetconv_edu train: warning: {folder} is not the official CIFAR-10 release: "
        + result.stderr.split("release: ", 1)[1].rstrip("\n")
    ]


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (OSError(errno.EROFS, "Read-only file system"), "cannot be written (Read-only file"),
        (OSError(errno.ENOSPC, "No space left on device"), "is full (No space left on device)"),
    ],
)
def test_a_data_folder_that_cannot_be_written_is_one_line(
    error, said, tmp_path, capsys, monkeypatch
):
    served = write_fake_cifar10(tmp_path / "served", as_archive=True)

    def refuse(*args, **kwargs):
        raise error

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    monkeypatch.setattr(cifar10, "CIFAR10_URL", served.as_uri())
    monkeypatch.setattr(data.load_cifar10, "__kwdefaults__", {
        **data.load_cifar10.__kwdefaults__, "url": served.as_uri()
    })  # fmt: skip
    argv = ["train", *TINY, "--data-root", str(tmp_path / "root"), "--run-dir", str(tmp_path)]
    assert main([*argv, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err and "downloading it failed" in err


def test_no_command_is_an_error():
    result = run_cli()
    assert result.returncode == 2 and "Traceback" not in result.stderr


def one_error_line(err: str) -> str:
    """The only line of stderr that says "error" (asserting there is exactly one)."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1, err
    return lines[0]


def test_same_command_again_never_replaces_the_run(data_root, tmp_path, capsys):
    argv = ["train", "--epochs", "2", *common(data_root, tmp_path), "--no-progress"]
    assert main(argv) == 0
    [checkpoint] = tmp_path.glob("*/checkpoint.pt")
    capsys.readouterr()
    assert main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    for part in (str(checkpoint.parent), "--resume", "--name", "--overwrite"):
        assert part in line
    assert read_checkpoint(checkpoint)["step"] == 8  # the finished run is untouched
    assert main(["train", "--epochs", "1", "--overwrite", *argv[3:]]) == 0
    assert read_checkpoint(checkpoint)["step"] == 4


def test_resume_refuses_other_epochs_and_lr_naming_both_values(data_root, tmp_path, capsys):
    argv = ["train", "--epochs", "1", *common(data_root, tmp_path), "--no-progress"]
    assert main(argv) == 0
    [checkpoint] = tmp_path.glob("*/checkpoint.pt")
    good = checkpoint.read_bytes()
    capsys.readouterr()
    assert main(["train", "--resume", "--epochs", "4", "--lr", "0.5", *argv[3:]]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--epochs 4 (the run has 1)" in line and "--lr 0.5 (the run has 0.2)" in line
    assert checkpoint.read_bytes() == good
    # The same values, or machine settings, may be given.
    assert main(["train", "--resume", "--epochs", "1", "--lr", "0.2", *argv[3:]]) == 0


def test_divergence_exits_1_with_one_message(data_root, tmp_path, capsys):
    argv = ["train", "--epochs", "2", "--lr", "10000", "--schedule", "constant"]
    assert main([*argv, *common(data_root, tmp_path), "--no-progress"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "training diverged" in line and "at step " in line
    assert "learning rate 1e+04" in line and "--lr 1000" in line


def test_corrupt_checkpoint_on_resume_exits_1(data_root, tmp_path, capsys):
    argv = ["train", "--epochs", "1", *common(data_root, tmp_path), "--no-progress"]
    assert main(argv) == 0
    [checkpoint] = tmp_path.glob("*/checkpoint.pt")
    data = checkpoint.read_bytes()
    for damaged in (data[: len(data) // 2], data[:100] + bytes([data[100] ^ 1]) + data[101:]):
        checkpoint.write_bytes(damaged)
        capsys.readouterr()
        assert main(["train", "--resume", *argv[1:]]) == 1
        assert "is damaged" in one_error_line(capsys.readouterr().err)


def test_full_disk_and_read_only_folder_exit_1(data_root, tmp_path, capsys, monkeypatch):
    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module._HashingWriter, "write", full)
    argv = ["train", "--epochs", "1", *common(data_root, tmp_path / "a"), "--no-progress"]
    assert main(argv) == 1
    assert "the disk is full" in one_error_line(capsys.readouterr().err)
    monkeypatch.undo()
    # Tests may run as root (who writes anywhere): the folder says it is not writable.
    real_access = run_folder_module.os.access
    monkeypatch.setattr(
        run_folder_module.os, "access", lambda p, m: "/b/" not in f"{p}/" and real_access(p, m)
    )
    argv = ["train", "--epochs", "1", *common(data_root, tmp_path / "b"), "--no-progress"]
    assert main(argv) == 1
    assert "read-only" in one_error_line(capsys.readouterr().err)


def test_more_threads_than_cores_warns_in_one_line(data_root, tmp_path, capsys):
    threads = physical_cores() + 1
    argv = ["train", "--epochs", "1", *common(data_root, tmp_path), "--no-progress"]
    assert main([*argv, "--threads", str(threads)]) == 0
    err = capsys.readouterr().err
    [line] = [line for line in err.splitlines() if "warning" in line]
    assert f"{threads} threads on {physical_cores()} physical CPU cores" in line
    assert line.startswith("python -m hetconv_edu train: warning:")


def test_two_runs_started_at_once_with_one_name(data_root, tmp_path):
    argv = ["train", "--epochs", "2", "--name", "same", *common(data_root, tmp_path)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "hetconv_edu", *argv, "--no-progress"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0 and codes[1] in (1, 2), results  # in use (1), or finished first (2)
    refused = next(err for code, err in results if code != 0)
    assert "--name" in one_error_line(refused)
    state = read_checkpoint(tmp_path / "same" / "checkpoint.pt")
    assert state["step"] == 8 and len(state["history"]["steps"]) == 8


# ---- options made from TrainConfig's fields (issue 15) -----------------------------------------


def test_every_training_setting_is_an_option_with_its_description(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    flat = "".join(text.split())  # argparse wraps lines, also at hyphens
    for setting in dataclasses.fields(TrainConfig):
        if setting.name in ("conv", "model_kwargs"):
            continue
        on_by_default = setting.default is True
        flag = f"--{'no-' if on_by_default else ''}{setting.name.replace('_', '-')}"
        assert f"{flag} " in text, flag
        assert "".join(setting.metadata["help"].split())[:40] in flat, setting.name


def test_options_reach_the_run_and_resume_names_them(data_root, tmp_path, capsys):
    argv = ["train", "--epochs", "1", *common(data_root, tmp_path), "--no-progress"]
    given = [
        *("--no-augment", "--momentum", "0.5", "--label-smoothing", "0"),
        *("--schedule", "cosine", "--channels-last", "off", "--test-subset", "60"),
    ]
    assert main([*argv, *given, "--name", "options"]) == 0
    saved = json.loads((tmp_path / "options" / "history.json").read_text())["config"]
    assert (saved["augment"], saved["momentum"], saved["label_smoothing"]) == (False, 0.5, 0.0)
    assert (saved["schedule"], saved["channels_last"]) == ("cosine", False)
    assert saved["test_subset"] == 60 and saved["nesterov"] is True  # nesterov: its default
    capsys.readouterr()
    resume = ["train", "--resume", "--name", "options", *argv[3:], *given, "--seed", "3"]
    assert main(resume) == 2  # the same values may be given again; another seed may not
    line = one_error_line(capsys.readouterr().err)
    assert "--seed 3 (the run has 0)" in line and "--no-augment" not in line


def test_an_unknown_data_set_is_one_line_naming_the_data_sets(capsys):
    assert main(["train", "--dataset", "mnist", "--no-progress"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "dataset must be one of ['cifar10', 'fashion-mnist'], got 'mnist'" in line
