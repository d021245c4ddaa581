"""History and its files (hetconv_edu/train/history.py, written by the HistoryFiles
callback)."""

from __future__ import annotations

import json

import pytest
import torch

from hetconv_edu.train import EpochRecord, History, TrainConfig, Trainer
from tests.trainers import config


def test_history_files_parse_back(data_root, dataset, tmp_path):
    trainer = Trainer(config(data_root, tmp_path), dataset)
    history = trainer.run(progress=False)
    run = tmp_path / trainer.config.run_name
    assert trainer.run_path == run
    saved = json.loads((run / "history.json").read_text())
    assert saved["config"]["conv"] == "hetconv:4"
    assert saved["macs"] == trainer.macs > 0 and saved["params"] == trainer.params > 0
    assert History.from_json(run / "history.json") == history
    lines = (run / "history.csv").read_text().splitlines()
    assert lines[0].split(",") == list(EpochRecord.__dataclass_fields__)
    assert len(lines) == 3 and float(lines[2].split(",")[4]) == history.epochs[1].test_acc
    steps = (run / "steps.csv").read_text().splitlines()
    assert len(steps) == 1 + trainer.total_steps == 1 + 8
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 2 and state["step"] == 8
    assert TrainConfig.from_dict(state["config"]) == trainer.config
    assert History.from_dict(state["history"]) == history


def test_history_round_trips_through_dict_json_and_csv(tmp_path):
    record = EpochRecord(1, 2.0, 0.25, 1.9, 0.3, 0.05, 1.5, 170.0)
    history = History([record, EpochRecord(2, 1.5, 0.5, 1.4, 0.55, 0.0, 1.4, 180.0)],
                      [(1, 2.3, 0.1), (2, 2.1, 0.05)])  # fmt: skip
    assert History.from_dict(history.to_dict()) == history
    assert History.from_json(history.to_json(tmp_path / "h.json", extra=1)) == history
    assert json.loads((tmp_path / "h.json").read_text())["extra"] == 1
    assert history.to_csv(what="steps").splitlines() == ["step,loss,lr", "1,2.3,0.1", "2,2.1,0.05"]
    assert history.to_csv().splitlines()[1].split(",")[4] == "0.3"
    assert history.best_test_acc == 0.55 and History().best_test_acc is None
    with pytest.raises(ValueError, match="what must be 'epochs' or 'steps'"):
        history.to_csv(what="batches")
