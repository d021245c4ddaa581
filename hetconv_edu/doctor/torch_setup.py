"""Can torch be imported, which version, which training device, how many threads? torch is
imported only inside :func:`check_torch`, once :func:`torch_import_error` says it can be."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hetconv_edu.doctor.report import Finding
from hetconv_edu.doctor.versions import version_matches

if TYPE_CHECKING:
    import torch

__all__ = ["TORCH_FIX", "check_torch", "torch_import_error"]


def torch_import_error() -> str | None:
    """Why ``import torch`` fails (the exception's type and message), or None when it works.

    A missing torch raises ImportError; a broken install (a shared library missing or built
    for another CPU) often raises OSError or RuntimeError: all of them are reported.
    """
    try:
        import torch  # noqa: F401
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


TORCH_FIX = (
    "Reinstall torch: run make lab (it installs the tested CPU build into .venv), or "
    "pip install 'torch>=2.3,<3' in the environment the notebooks use."
)
"""What to do when torch cannot be imported."""


def check_torch(
    version: str | None = None,
    device: str | torch.device | None = None,
    threads: int | None = None,
    cores: int | None = None,
) -> list[Finding]:
    """torch's version, the device training will use, and its CPU threads.

    Args:
        version: torch's version (default the installed one).
        device: the training device (default ``pick_device("auto")``: CUDA, else MPS, else CPU).
        threads: torch's current intra-op threads (default ``torch.get_num_threads()``).
        cores: physical CPU cores (default :func:`hetconv_edu.train.physical_cores`).

    Returns:
        Findings; a single ``error`` when torch cannot be imported (missing or broken).

    Raises:
        ValueError: ``threads`` or ``cores`` is not a positive integer.
    """
    broken = torch_import_error()
    if broken is not None:
        return [
            Finding(
                "error",
                "torch",
                f"torch cannot be imported ({broken}): no notebook can run its layers.",
                TORCH_FIX,
            )
        ]
    import torch

    from hetconv_edu.train import physical_cores, pick_device

    version = torch.__version__ if version is None else version
    device = pick_device("auto") if device is None else torch.device(device)
    threads = torch.get_num_threads() if threads is None else threads
    cores = physical_cores() if cores is None else cores
    for key, value in (("threads", threads), ("cores", cores)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
    findings = []
    if not version_matches(">=2.3,<3", version):
        findings.append(
            Finding(
                "error",
                "torch",
                f"torch {version} is installed; this package needs torch 2.3 or newer (2.x).",
                "pip install 'torch>=2.3,<3' (or run make lab, which installs the tested CPU "
                "build).",
            )
        )
    where = (
        "the CPU: in class, notebook 3 trains on a subset in minutes; a full run takes hours"
        if device.type == "cpu"
        else f"{device}"
    )
    findings.append(Finding("ok", "torch", f"torch {version} trains on {where}."))
    if threads > cores:
        findings.append(
            Finding(
                "warn",
                "torch",
                f"torch runs {threads} threads on {cores} physical cores: threads that share a "
                f"core slow every layer down (latency timings in notebook 2 too).",
                f"Set OMP_NUM_THREADS={cores} before starting JupyterLab, or call "
                f"torch.set_num_threads({cores}).",
            )
        )
    else:
        findings.append(
            Finding("ok", "torch", f"{threads} CPU thread(s) on {cores} physical core(s).")
        )
    if cores == 1:
        findings.append(
            Finding(
                "warn",
                "torch",
                "Only one CPU core is available: training in notebook 3 will be slow.",
                "Close other programs, and train on fewer images (the 'Train images' box of "
                "notebook 3).",
            )
        )
    return findings
