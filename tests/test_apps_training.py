"""The training app driven headless: Train fills curves and table, Stop really stops, bad
families and missing data give messages (no tracebacks), CI mode trains by itself."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import tempfile
import warnings
from pathlib import Path

import pytest

from hetconv_edu.apps import training as training_app
from hetconv_edu.apps.training import (
    CI_SETTINGS,
    FULL_RUN_SETTINGS,
    AppSettings,
    TrainingApp,
    check_families,
    spread_across_classes,
)
from hetconv_edu.data import DataNotOfficialWarning, load_dataset
from tests.datasets import write_fake_cifar10

TINY = AppSettings(
    families=("standard", "hetconv:2", "hetconv:4"),
    epochs=1,
    subset=200,
    test_subset=100,
    batch_size=50,
    model_kwargs={"widths": (8, 16, 32)},
    batches_per_slice=1,
)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fake_cifar10")
    write_fake_cifar10(root, n_train=400, n_test=100, seed=0)
    return root


@pytest.fixture(scope="module")
def tiny_data(data_root: Path):
    return load_dataset("cifar10", data_root, subset=200, test_subset=100, seed=0)


def make_app(tmp_path: Path, data=None, data_root=None, settings=TINY) -> TrainingApp:
    return TrainingApp(
        data=data, data_root=None if data_root is None else str(data_root), settings=settings,
        run_dir=str(tmp_path / "runs"), device="cpu",
    )  # fmt: skip


def test_train_fills_curves_table_scatter_and_inspection(tmp_path: Path, data_root: Path) -> None:
    app = make_app(tmp_path, data_root=data_root)
    assert app.inspect_select.disabled  # no finished run to choose yet
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        runs = app.train_blocking()
    assert [r.label for r in runs] == ["standard", "HetConv P=2", "HetConv P=4"]
    assert "Done: 3 runs" in app.message_text
    # the made-up data are not the official files: said on the page, not on the kernel's stderr
    assert not [w for w in escaped if issubclass(w.category, DataNotOfficialWarning)]
    assert "Note on the data: " in app.message_text and "official" in app.message_text
    # Curves: three traces per run (raw loss, smoothed loss, test accuracy), all with points.
    assert len(app.curves.data) == 9
    steps = runs[0].trainer.total_steps
    for i in range(3):
        raw, smoothed, acc = app.curves.data[3 * i : 3 * i + 3]
        assert len(raw.x) == len(smoothed.y) == steps
        assert list(acc.x) == [1.0] and 0 <= acc.y[0] <= 100
        assert raw.line.color == smoothed.line.color == acc.line.color
    # Table and scatter filled in, HetConv cheaper than standard.
    for label in ("standard", "HetConv P=2", "HetConv P=4"):
        assert label in app.table.value
    results = app.results
    assert results[0].macs > results[1].macs > results[2].macs
    assert all(r.test_acc is not None and not r.stopped for r in results)
    assert len(app.scatter.data) == 3
    # The last finished run is inspected: confusion matrix and prediction grid.
    assert app.inspect_select.options == ("standard", "HetConv P=2", "HetConv P=4")
    assert app.inspect_select.value == "HetConv P=4" and not app.inspect_select.disabled
    assert app.inspect_box.children == (app.confusion_fig.widget, app.predictions_fig.widget)
    app.inspect_select.value = "standard"
    title = app.confusion_fig.layout.title.text
    assert title.startswith("standard: confusion matrix")
    assert app.confusion_fig.sent["layout"]["title"]["text"] == title  # on the page too
    # Buttons back to idle.
    assert not app.train_button.disabled and app.stop_button.disabled and not app.running


def test_stop_during_training_stops_early_and_keeps_history(tmp_path: Path, tiny_data) -> None:
    settings = dataclasses.replace(TINY, epochs=4, batch_size=20)  # 10 batches × 4 epochs per run
    app = make_app(tmp_path, data=tiny_data, settings=settings)

    async def press_stop_after(steps: int) -> int:
        while not (app.runs and app.runs[0].trainer and app.runs[0].trainer.global_step >= steps):
            await asyncio.sleep(0)
        app.stop_button.click()  # what a click on Stop does, while the training task runs
        return app.runs[0].trainer.global_step

    async def main() -> int:
        task = app.start()
        assert task is not None
        await asyncio.sleep(0)
        assert app.running and app.start() is None  # a second Train is refused
        assert not app.stop_button.disabled and app.train_button.disabled
        clicked_at = await asyncio.wait_for(press_stop_after(3), timeout=60)
        await asyncio.wait_for(task, timeout=60)
        return clicked_at

    clicked_at = asyncio.run(main())
    first, *rest = app.runs
    trainer = first.trainer
    assert trainer.total_steps == 40
    assert clicked_at <= trainer.global_step <= clicked_at + settings.batches_per_slice
    assert trainer.global_step < trainer.total_steps
    assert trainer.stopped
    # The history is kept: every step trained is recorded, the row is marked stopped.
    assert len(trainer.history.steps) == trainer.global_step
    assert first.result is not None and first.result.stopped
    assert "(stopped)" in app.table.value
    assert (tmp_path / "runs" / trainer.config.run_name / "checkpoint.pt").is_file()
    # No later run was started.
    assert all(r.trainer is None and r.result is None for r in rest)
    assert "Stopped" in app.message_text
    assert not app.running and not app.train_button.disabled and app.stop_button.disabled
    # The curves show what was trained before the stop.
    assert len(app.curves.data[0].x) == trainer.global_step
    # One run to inspect: the dropdown shows it, with nothing else to choose.
    assert app.inspect_select.options == (first.label,) and app.inspect_select.disabled


@pytest.mark.parametrize(
    ("families", "expected"),
    [
        (["standard", "hetconv:16"], "'hetconv:16' does not fit small_vgg"),
        (["standard", "groupwise:3"], "'groupwise:3' does not fit small_vgg"),
        (["hetconv:x"], "needs a positive integer"),
        (["winograd"], "unknown conv family"),
        ([], "choose at least one family"),
    ],
)
def test_bad_families_give_a_message_not_a_traceback(
    tmp_path: Path, tiny_data, families: list[str], expected: str
) -> None:
    app = make_app(tmp_path, data=tiny_data)
    app.families_input.value = families  # checked as soon as the tags change
    assert expected in app.message_text
    app.train_button.click()  # no event loop running: trains (here: refuses) at once
    runs = app.train_blocking()
    assert runs == [] and app.results == []
    assert expected in app.message_text
    assert "Traceback" not in app.message.value
    assert not app.running and not app.train_button.disabled


def test_check_families_lists_what_fits() -> None:
    assert check_families("small_resnet", ["standard", "hetconv:4", "hetconv:4"]) == [
        "standard",
        "hetconv:4",
    ]
    with pytest.raises(ValueError, match=r"allowed values: \[1, 2, 4, 8\]"):
        check_families("small_vgg", ["hetconv:16"], {"widths": (8, 16, 32)})


def test_missing_data_is_explained_and_fashion_mnist_offered(tmp_path: Path) -> None:
    empty = tmp_path / "no_data"
    empty.mkdir()
    app = make_app(tmp_path, data_root=empty)
    assert app.train_blocking() == []
    text = app.message_text
    assert "CIFAR-10" in text and "cifar-10-python.tar.gz" in text
    assert "HETCONV_EDU_DATA" in text
    assert "Fashion-MNIST" in text
    assert "Traceback" not in app.message.value
    assert "fashion-mnist" in [value for _label, value in app.dataset_select.options]
    assert not app.running and not app.train_button.disabled and app.stop_button.disabled


def test_ci_mode_uses_tiny_settings_and_wait_trains(
    tmp_path: Path, tiny_data, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HETCONV_EDU_CI", "1")
    app = TrainingApp(data=tiny_data, run_dir=str(tmp_path / "runs"), device="cpu")
    assert app.settings == CI_SETTINGS
    assert "CI mode" in app.message_text
    app.families_input.value = ["hetconv:4"]
    runs = asyncio.run(app.wait())
    assert len(runs) == 1 and runs[0].result is not None
    # Waiting again returns at once (nothing running, already trained).
    assert asyncio.run(app.wait()) is runs and app.task.done()

    monkeypatch.setenv("HETCONV_EDU_CI", "0")
    idle = TrainingApp(data=tiny_data, run_dir=str(tmp_path / "runs"), device="cpu")
    assert asyncio.run(idle.wait()) == [] and idle.task is None


def test_full_run_toggle_uses_all_data(tmp_path: Path, tiny_data) -> None:
    app = make_app(tmp_path, data=tiny_data)
    assert app.plan()[0].subset == TINY.subset
    app.full_run_toggle.value = True
    assert app.epochs_input.disabled and app.subset_input.disabled
    assert "Full run" in app.message_text
    configs = app.plan()
    assert {c.subset for c in configs} == {None} and {c.test_subset for c in configs} == {None}
    assert {c.epochs for c in configs} == {FULL_RUN_SETTINGS.epochs}
    app.full_run_toggle.value = False
    assert not app.epochs_input.disabled
    assert app.plan()[0].epochs == TINY.epochs


def test_same_seed_same_data_for_every_run(tmp_path: Path, tiny_data) -> None:
    app = make_app(tmp_path, data=tiny_data)
    configs = app.plan()
    keys = {(c.seed, c.subset, c.test_subset, c.dataset, c.epochs, c.batch_size) for c in configs}
    assert len(keys) == 1


@pytest.mark.parametrize("damage", ["truncated batch", "unreadable folder"])
def test_damaged_or_unreadable_data_is_explained(
    damage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_fake_cifar10(tmp_path / "data", n_train=100, n_test=20)
    if damage == "truncated batch":
        (folder / "test_batch").write_bytes((folder / "test_batch").read_bytes()[:300])
        said = "The data could not be loaded: "
    else:
        real_read_bytes = Path.read_bytes

        def unreadable(self: Path) -> bytes:
            if self.parent == folder:
                raise PermissionError(errno.EACCES, "Permission denied", str(self))
            return real_read_bytes(self)

        monkeypatch.setattr(Path, "read_bytes", unreadable)
        said = "CIFAR-10 in "
    app = make_app(tmp_path, data_root=folder.parent)
    assert app.train_blocking() == []
    text = app.message_text
    assert text.startswith(said)
    if damage == "truncated batch":
        assert "test_batch could not be read as a CIFAR-10 pickle" in text
    else:
        assert f"{folder / 'data_batch_1'} cannot be read (Permission denied)" in text
    assert "Traceback" not in app.message.value
    assert not app.running and not app.train_button.disabled and app.stop_button.disabled


@pytest.mark.parametrize(
    ("labels", "count"),
    [
        ([0] * 30 + [1] * 30 + [2] * 30, 24),  # a class-sorted test set
        ([2, 2, 0, 1, 1, 1, 0, 2, 1], 5),
        ([3, 3, 3, 1], 10),  # fewer examples than asked
        ([4, 4], 0),
    ],
)
def test_prediction_grid_samples_across_classes(labels: list[int], count: int) -> None:
    chosen = spread_across_classes(labels, count)
    assert len(chosen) == min(count, len(labels)) and len(set(chosen)) == len(chosen)
    # brute force: every class as evenly as possible, each class's examples in file order
    picked = [labels[i] for i in chosen]
    classes = sorted(set(labels))
    counts = [picked.count(c) for c in classes]
    available = [labels.count(c) for c in classes]
    for c, k, have in zip(classes, counts, available, strict=True):
        assert [i for i in chosen if labels[i] == c] == [
            i for i, lab in enumerate(labels) if lab == c
        ][:k]
        assert k == have or k >= max(counts) - 1, (c, counts)
    with pytest.raises(ValueError, match="count must be an integer >= 0"):
        spread_across_classes(labels, -1)


def test_predictions_show_every_class_of_a_sorted_test_set(
    tmp_path: Path, tiny_data, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = tiny_data.test_labels.argsort(stable=True)  # all of class 0 first
    images, labels = tiny_data.test_images[order], tiny_data.test_labels[order]
    sorted_data = dataclasses.replace(tiny_data, test_images=images, test_labels=labels)
    app = make_app(tmp_path, data=sorted_data)
    app.train_blocking()
    shown: list[list[int]] = []
    grid = lambda _images, true, *_args, **_kw: shown.append(true)  # noqa: E731
    monkeypatch.setattr(training_app.results, "prediction_grid", grid)
    app.predictions(count=24)
    classes = sorted(set(sorted_data.test_labels.tolist()))
    assert len(classes) >= 3 and shown[0][: len(classes)] == classes


def test_ready_line_follows_the_settings(tmp_path: Path, tiny_data) -> None:
    app = make_app(tmp_path, data=tiny_data, settings=dataclasses.replace(TINY, epochs=8))
    app.epochs_input.value = 3
    assert "3 epochs on 200 training images" in app.message_text
    app.subset_input.value = 1500
    assert "3 epochs on 1,500 training images" in app.message_text
    app.full_run_toggle.value = True
    app.full_run_toggle.value = False  # back from a full run: the line says the settings again
    assert "3 epochs on 1,500 training images" in app.message_text


def test_a_data_folder_that_cannot_be_written_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)  # the download's first write fails
    empty = tmp_path / "read-only"
    empty.mkdir()
    app = make_app(tmp_path, data_root=empty)
    app.download = True
    assert app.train_blocking() == []
    text = app.message_text
    assert f"{empty} cannot be written (Read-only file system): make it writable" in text
    assert "HETCONV_EDU_DATA" in text and "Traceback" not in app.message.value
    assert not app.running and not app.train_button.disabled


def test_more_images_than_the_data_has_is_an_error_on_the_page(
    tmp_path: Path, data_root: Path
) -> None:
    app = make_app(tmp_path, data_root=data_root)  # 400 training images on disk
    app.subset_input.value = 60_000  # typed: CIFAR-10 has 50,000
    assert app.subset_input.value == 50_000 == app.subset_input.max
    app.dataset_select.value = "fashion-mnist"
    assert app.subset_input.max == 60_000
    app.dataset_select.value = "cifar10"
    app.subset_input.value = 5_000  # more than the 400 of this data folder
    assert app.train_blocking() == []
    text = app.message_text
    assert text.startswith("The data could not be loaded") and "400" in text
    assert not app.running and not app.train_button.disabled and app.stop_button.disabled
    given = make_app(tmp_path, data=load_dataset("cifar10", data_root, subset=150, seed=0))
    given.subset_input.value = 151
    with pytest.raises(ValueError, match="the data set has 150 training images"):
        given.plan()
    assert given.train_blocking() == [] and "choose at most 150" in given.message_text


def test_errors_in_the_background_task_reach_the_page(
    tmp_path: Path, tiny_data, monkeypatch
) -> None:
    import hetconv_edu.apps.training.job as training_module

    def broken(*args, **kw):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(training_module, "Trainer", broken)
    app = make_app(tmp_path, data=tiny_data)

    async def click_and_wait() -> None:
        assert app.start() is not None  # a task on the running loop, as in a notebook
        await app.task

    asyncio.run(click_and_wait())
    assert app.task.exception() is None
    assert "Training failed: RuntimeError: out of memory" in app.message_text
    assert not app.running and not app.train_button.disabled and app.stop_button.disabled


def test_the_app_never_replaces_a_command_line_run(tmp_path: Path, tiny_data) -> None:
    from hetconv_edu.train import Trainer

    app = make_app(
        tmp_path, data=tiny_data, settings=dataclasses.replace(TINY, families=("standard",))
    )
    cli_config = dataclasses.replace(app.plan()[0], name=None)  # what `train` would write
    Trainer(cli_config, tiny_data).run(progress=False)
    cli_run = Path(app.run_dir) / cli_config.run_name
    kept = (cli_run / "checkpoint.pt").read_bytes()
    [first] = app.train_blocking()
    assert first.trainer.run_path == Path(f"{cli_run}-2")
    [second] = app.train_blocking()  # Train again: a third folder
    assert second.trainer.run_path == Path(f"{cli_run}-3")
    assert (cli_run / "checkpoint.pt").read_bytes() == kept


def test_more_threads_than_cores_is_a_warning_in_the_app(tmp_path: Path, tiny_data) -> None:
    from hetconv_edu.train import physical_cores

    cores = physical_cores()
    app = TrainingApp(data=tiny_data, settings=TINY, run_dir=str(tmp_path), threads=cores * 32)
    assert f"Warning: {cores * 32} threads on {cores} physical CPU cores" in app.message_text
    assert "Warning" not in make_app(tmp_path, data=tiny_data).message_text


def test_a_read_only_runs_folder_is_one_message_in_the_app(
    tmp_path: Path, tiny_data, monkeypatch
) -> None:
    from hetconv_edu.train import run_folder

    real_access = run_folder.os.access
    runs = str(tmp_path / "runs")
    # Tests may run as root (who writes anywhere): the folder says it is not writable.
    monkeypatch.setattr(
        run_folder.os, "access", lambda p, m: not str(p).startswith(runs) and real_access(p, m)
    )
    app = make_app(tmp_path, data=tiny_data)
    app.train_blocking()
    text = app.message_text
    assert text.startswith("Training stopped: cannot write") and "read-only" in text
    assert "Traceback" not in app.message.value and "RunFolderError" not in text
    assert not app.running and not app.train_button.disabled and app.stop_button.disabled
