"""Devices and CPU threads of a run (hetconv_edu/train/devices.py)."""

from __future__ import annotations

import pytest
import torch

from hetconv_edu.train import physical_cores, pick_device, set_cpu_threads, threads_warning


def test_devices_by_name():
    with pytest.raises(ValueError, match="device"):
        pick_device("tpu")
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available here"):
            pick_device("cuda")


def test_threads_warning():
    cores = physical_cores()
    assert threads_warning(None) is None and threads_warning(cores) is None
    message = threads_warning(cores * 32)
    assert f"{cores * 32} threads on {cores} physical CPU cores" in message
    assert f"--threads {cores}" in message


def test_threads_default_to_one_per_core_per_process():
    assert set_cpu_threads(1) == 1 == torch.get_num_threads()
    assert set_cpu_threads() == physical_cores() == torch.get_num_threads()
    assert set_cpu_threads(processes=physical_cores() * 2) == 1
