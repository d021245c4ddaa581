"""TrainConfig (hetconv_edu/train/config.py): validation, plain values, names and labels, and
the field descriptions the command line and the docstring are made from."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from hetconv_edu.data import DATASET_NAMES
from hetconv_edu.layers import ARRANGEMENTS
from hetconv_edu.train import MACHINE_FIELDS, SCHEDULES, TrainConfig, Trainer


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("model", "resnet999", "model must be one of"),
        ("conv", "hetconv:x", "positive integer"),
        ("epochs", 0, "epochs"),
        ("batch_size", 1.5, "batch_size"),
        ("lr", -1.0, "lr"),
        ("momentum", 1.0, "momentum"),
        ("schedule", "step", "schedule"),
        ("label_smoothing", 1.0, "label_smoothing"),
        ("subset", 0, "subset"),
        ("dataset", "mnist", "dataset"),
        ("name", "a/b", "name"),
        ("channels_last", "yes", "channels_last"),
    ],
)
def test_config_validation(field, value, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{field: value})


def test_config_names_and_labels():
    assert TrainConfig().run_name == "small_vgg-hetconv4"
    assert TrainConfig(conv="standard", dataset="fashion-mnist").run_name == (
        "fashion-mnist-small_vgg-standard"
    )
    assert TrainConfig(conv=("hetconv:2",) * 4).label == "HetConv P=2"
    assert TrainConfig(
        conv=["standard", "hetconv:2", "hetconv:4", "hetconv:4"]
    ).run_name.startswith("small_vgg-perlayer")
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig()


def _plain_types(value) -> bool:
    if isinstance(value, list):
        return all(_plain_types(v) for v in value)
    if isinstance(value, dict):
        return all(type(k) is str and _plain_types(v) for k, v in value.items())
    return value is None or type(value) in (bool, int, float, str)


def test_numpy_and_tensor_config_values_train_save_and_resume(data_root, dataset, tmp_path):
    import numpy as np

    given = {
        "conv": np.str_("hetconv:4"),
        "model_kwargs": {"widths": (np.int64(8), torch.tensor(16), 32)},
        "data_root": data_root,  # a Path
        "download": np.bool_(False),
        "subset": np.int32(256),
        "test_subset": torch.tensor(128),
        "epochs": np.int64(1),
        "batch_size": np.int16(64),
        "lr": np.float64(0.1),
        "momentum": np.float32(0.5),
        "weight_decay": torch.tensor(1e-4, dtype=torch.float64),
        "nesterov": np.bool_(True),
        "label_smoothing": np.float64(0.0),
        "warmup": np.float64(0.25),
        "augment": np.bool_(True),
        "seed": np.uint8(0),
        "channels_last": np.bool_(True),
        "threads": np.int64(2),
        "run_dir": tmp_path,  # a Path
        "name": np.str_("numpy-run"),
    }
    for key in ("model", "arrangement", "dataset", "schedule", "device"):
        given[key] = np.str_(
            {"model": "small_vgg", "device": "cpu"}.get(key, getattr(TrainConfig, key))
        )
    cfg = TrainConfig(**given)
    assert {f.name for f in dataclasses.fields(TrainConfig)} == set(given)  # every field
    values = cfg.to_dict()
    assert _plain_types({k: getattr(cfg, k) for k in values}), cfg
    assert values["lr"] == 0.1 and values["model_kwargs"] == {"widths": [8, 16, 32]}
    Trainer(cfg, dataset).run(progress=False)
    resumed = Trainer.resume(tmp_path / "numpy-run", dataset)  # torch.load(weights_only=True)
    assert resumed.finished and resumed.config == cfg


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("download", "no", "download must be True or False, got 'no'"),
        ("nesterov", "false", "nesterov must be True or False"),
        ("augment", 1, "augment must be True or False"),
        ("run_dir", None, "run_dir must be a folder"),
        ("data_root", 3, "data_root must be a folder"),
        ("threads", 2.0, "threads must be a positive integer"),
        ("seed", -1, "seed must be an integer >= 0"),
        ("lr", float("nan"), "lr must be a finite number"),
        ("warmup", 1.0, "warmup must be a finite number 0 <= warmup < 1"),
        ("weight_decay", "0.1", "weight_decay must be a finite number"),
        ("model_kwargs", {"widths": [32, 64]}, "needs three widths"),
        ("model_kwargs", [1], "model_kwargs must be a dict"),
        ("conv", [], "non-empty list"),
    ],
)
def test_config_refuses_values_of_the_wrong_kind(field, value, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{field: value})


def test_every_field_is_described_once_for_the_docstring_and_the_command_line():
    lines = TrainConfig.__doc__.splitlines()
    for setting in dataclasses.fields(TrainConfig):
        about = setting.metadata["help"]
        assert about, setting.name
        assert any(line.strip().startswith(f"{setting.name}: {about[:30]}") for line in lines)
    choices = {f.name: f.metadata["choices"] for f in dataclasses.fields(TrainConfig)}
    assert choices["dataset"] == DATASET_NAMES and choices["arrangement"] == ARRANGEMENTS
    assert choices["schedule"] == SCHEDULES
    assert set(MACHINE_FIELDS) == {
        "data_root", "download", "device", "channels_last", "threads", "run_dir", "name"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("field", "allowed"), [("dataset", DATASET_NAMES), ("arrangement", ARRANGEMENTS)]
)
def test_an_enumerated_field_takes_each_of_its_choices_and_names_them_when_refused(field, allowed):
    for value in allowed:
        assert getattr(TrainConfig(**{field: value}), field) == value
    with pytest.raises(ValueError, match=f"{field} must be one of") as caught:
        TrainConfig(**{field: "neither"})
    assert all(value in str(caught.value) for value in allowed)


def test_widths_too_large_for_memory_are_refused_in_one_line(monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 9.31 GiB for an array with shape (100000, 100000)")

    monkeypatch.setattr("hetconv_edu.train.config.build_model", out_of_memory)
    with pytest.raises(ValueError) as refused:
        TrainConfig(model_kwargs={"widths": [100000, 100000, 100000]})
    message = str(refused.value)
    assert "model_kwargs={'widths': [100000, 100000, 100000]} does not fit in memory" in message
    assert "Unable to allocate 9.31 GiB" in message and "use smaller widths" in message
    assert "\n" not in message


def test_a_model_error_other_than_memory_is_not_disguised(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug in a layer")

    monkeypatch.setattr("hetconv_edu.train.config.build_model", broken)
    with pytest.raises(RuntimeError, match="a bug in a layer"):
        TrainConfig()
