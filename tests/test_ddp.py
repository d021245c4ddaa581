"""The command line under ``torchrun --nproc_per_node=2`` on the CPU (gloo): both ranks end
with identical weights, and only rank 0 writes the run's files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from hetconv_edu.train import TrainConfig
from tests.datasets import write_fake_cifar10

REPO = Path(__file__).resolve().parents[1]


def test_two_processes_end_identical(tmp_path):
    write_fake_cifar10(tmp_path / "data", n_train=256, n_test=64, seed=0)
    states = tmp_path / "states"
    env = {**os.environ, "HETCONV_EDU_RANK_STATE_DIR": str(states), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "hetconv_edu", "train", "--conv", "hetconv:4", "--widths", "8", "16", "32",
        "--epochs", "2", "--batch-size", "32", "--threads", "1", "--device", "cpu",
        "--data-root", str(tmp_path / "data"), "--no-download", "--run-dir", str(tmp_path / "runs"),
        "--no-progress",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("test acc") == 1  # rank 0 alone prints the table
    rank0 = torch.load(states / "rank0.pt", weights_only=True)
    rank1 = torch.load(states / "rank1.pt", weights_only=True)
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    name = TrainConfig(conv="hetconv:4", model_kwargs={"widths": [8, 16, 32]}).run_name
    run = tmp_path / "runs" / name
    history = json.loads((run / "history.json").read_text())
    assert history["world_size"] == 2
    # 256 images / 2 ranks / batch 32 = 4 steps per epoch.
    assert len(history["steps"]) == 8
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    for key in rank0:
        assert torch.equal(checkpoint["model"][key], rank0[key]), key
    assert not [p for p in run.iterdir() if p.name.startswith(".")]
