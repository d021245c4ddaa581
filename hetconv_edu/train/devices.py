"""Where a run trains: the device, the CPU threads, and the processes of a distributed run.

* :func:`pick_device` — ``"auto"`` takes CUDA, else Apple's MPS, else the CPU.
* :func:`physical_cores`, :func:`set_cpu_threads`, :func:`threads_warning` — one intra-op thread
  per physical core by default; more threads than cores are warned about (they wait for each
  other and training runs many times slower).
* :func:`process_group_env` — rank and world size from ``torchrun``'s environment.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "distributed",
    "physical_cores",
    "pick_device",
    "prepare_device",
    "process_group_env",
    "set_cpu_threads",
    "threads_warning",
]


def pick_device(name: str = "auto") -> torch.device:
    """The device to train on.

    Args:
        name: ``"auto"`` (CUDA, else MPS, else the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``
            or ``"mps"``.

    Raises:
        ValueError: an unknown device name, or a device that is not available here (naming
            what is).
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(
            f"unknown device {name!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but CUDA is not available here")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {name!r} asked for, but there are {torch.cuda.device_count()} GPUs"
            )
    elif device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device {name!r} asked for, but MPS is not available here")
    elif device.type != "cpu":
        raise ValueError(f"unsupported device {name!r}; use 'auto', 'cpu', 'cuda' or 'mps'")
    return device


def physical_cores() -> int:
    """Physical CPU cores this process may run on (hyper-threads not counted; at least 1)."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        allowed = list(range(os.cpu_count() or 1))
    cores = set()
    for cpu in allowed:
        path = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        try:
            cores.add(path.read_text().strip())
        except OSError:
            cores.add(str(cpu))
    if not Path("/sys/devices/system/cpu").exists():
        # No topology: assume 2 hardware threads per core on machines with many logical CPUs.
        return max(1, len(allowed) // 2) if len(allowed) > 4 else len(allowed)
    return max(1, len(cores))


def threads_warning(threads: int | None, processes: int = 1) -> str | None:
    """A warning (text) when ``threads`` per process times ``processes`` exceed the physical
    cores: threads then wait for each other and training runs many times slower. None when
    the count fits or ``threads`` is None (one per core is chosen then)."""
    if threads is None:
        return None
    cores = physical_cores()
    if threads * processes <= cores:
        return None
    times = f" × {processes} processes" if processes > 1 else ""
    return (
        f"{threads} threads{times} on {cores} physical CPU cores: the threads wait for each "
        f"other and training can be many times slower; use --threads "
        f"{max(1, cores // processes)} or leave --threads out (one per core)"
    )


def set_cpu_threads(threads: int | None = None, processes: int = 1) -> int:
    """Set torch's intra-op threads for the whole process: ``threads``, else physical cores /
    ``processes`` (at least 1). Returns the number set."""
    count = threads if threads is not None else max(1, physical_cores() // max(1, processes))
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count


def prepare_device(
    name: str, threads: int | None, *, world_size: int = 1, local_rank: int = 0,
    local_world: int = 1, warn: bool = True,
) -> torch.device:  # fmt: skip
    """The device of one training process, made current, with torch's CPU threads set.

    Args:
        name: as :func:`pick_device`; a distributed CUDA run without an index takes the
            process's GPU (``local_rank`` modulo the GPUs).
        threads: CPU threads (None: physical cores / processes on this machine).
        world_size, local_rank, local_world: the process group (:func:`process_group_env`).
        warn: warn (``RuntimeWarning``) when the threads exceed the cores (rank 0 warns).

    Raises:
        ValueError: what :func:`pick_device` raises.
    """
    device = pick_device(name)
    if device.type == "cuda" and world_size > 1 and device.index is None:
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if device.type == "cpu":
        processes = local_world if world_size > 1 else 1
        warning = threads_warning(threads, processes)
        if warning and warn:
            warnings.warn(warning, RuntimeWarning, stacklevel=3)
        set_cpu_threads(threads, processes)
    elif threads is not None:
        set_cpu_threads(threads)
    return device


def process_group_env() -> tuple[int, int, int, int]:
    """(rank, world_size, local_rank, local_world_size) from ``torchrun``'s environment
    (``RANK``, ``WORLD_SIZE``, ...); (0, 1, 0, 1) in a plain process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    return rank, world, local_rank, local_world


def distributed() -> Any:
    """``torch.distributed``, imported when a run is distributed."""
    import torch.distributed as dist

    return dist
