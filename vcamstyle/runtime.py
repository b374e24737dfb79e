"""Compute device and precision policy. The only module that asks torch about CUDA."""

from __future__ import annotations

import logging

import torch

from vcamstyle.errors import DeviceError

log = logging.getLogger(__name__)


def resolve_device(spec: str) -> torch.device:
    """``auto`` -> the first CUDA GPU if there is one, else the CPU; ``cpu``; ``cuda``; ``cuda:N``.

    Raises ``DeviceError`` when a GPU is asked for and none is usable.
    """
    spec = spec.strip().lower()
    if spec == "auto":
        return torch.device("cuda:0") if torch.cuda.is_available() else torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"device {spec!r} asked for, but no CUDA GPU is usable",
                              hint="set device: cpu (or auto) in config.yaml, or install the NVIDIA driver and a CUDA build of torch")
        device = torch.device(spec)
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise DeviceError(f"device {spec!r} does not exist ({torch.cuda.device_count()} GPU(s) found)",
                              hint="use cuda:0 or device: auto")
        return device
    raise DeviceError(f"unknown device {spec!r}", hint="use auto, cpu, cuda or cuda:N")


def use_half(device: torch.device) -> bool:
    """float16 inference on CUDA (statistics stay float32 inside the models); float32 on the CPU."""
    return device.type == "cuda"


def configure(device: torch.device) -> None:
    """One-time backend settings for ``device``."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        log.info("using %s (%s), float16", device, torch.cuda.get_device_name(device))
    else:
        log.info("using the CPU with %d threads, float32", torch.get_num_threads())


def describe() -> str:
    """One line about the available compute, for ``doctor``."""
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return f"CUDA available: {names} (torch {torch.__version__})"
    return f"no CUDA GPU; running on the CPU ({torch.get_num_threads()} threads, torch {torch.__version__})"
