"""Compute device, precision and thread policy. The only module that asks torch about CUDA."""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path

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


#: CPU flags (``/proc/cpuinfo``) of instruction sets that run bfloat16 convolutions natively in oneDNN.
BFLOAT16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The first processor's feature flags (empty when ``cpuinfo`` cannot be read)."""
    try:
        text = cpuinfo.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        log.debug("cannot read %s (%s): assuming no bfloat16 support", cpuinfo, exc)
        return frozenset()
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def host_cpu_flags() -> frozenset[str]:
    """This machine's CPU flags: the one place the host is asked (tests replace it with fixed flags)."""
    return cpu_flags()


def cpu_kind(flags: frozenset[str] | None = None) -> str:
    """What a benchmark says about the CPU it ran on: the vector extensions torch's kernels use (an
    environment such as ``ATEN_CPU_CAPABILITY=avx2`` lowers them) and whether bfloat16 is native,
    e.g. ``torch kernels AVX2, no native bfloat16``; whether bfloat16 is used is the precision's
    business (``precision: float32`` on a bfloat16 CPU). ``flags``: as for ``cpu_has_native_bfloat16``."""
    bf16 = "native bfloat16" if cpu_has_native_bfloat16(flags) else "no native bfloat16"
    return f"torch kernels {torch.backends.cpu.get_cpu_capability()}, {bf16}"


def cpu_has_native_bfloat16(flags: frozenset[str] | None = None) -> bool:
    """Whether this CPU runs bfloat16 convolutions in hardware (AVX512-BF16: AMD Zen 4 and later,
    Intel Cooper Lake; AMX: Intel Sapphire Rapids and later). Elsewhere bfloat16 is emulated and slower.
    ``flags``: the CPU's flags (default: ``host_cpu_flags()``)."""
    return bool((host_cpu_flags() if flags is None else flags) & BFLOAT16_CPU_FLAGS)


def use_half(device: torch.device, precision: str = "auto") -> bool:
    """float16 inference on CUDA (statistics stay float32 inside the models) unless ``precision`` is float32."""
    return precision == "auto" and device.type == "cuda"


def use_cpu_bfloat16(device: torch.device, precision: str = "auto", flags: frozenset[str] | None = None) -> bool:
    """bfloat16 inference on the CPU, for the models that support it, when the CPU has native support."""
    return precision == "auto" and device.type == "cpu" and cpu_has_native_bfloat16(flags)


def precision_name(device: torch.device, precision: str = "auto") -> str:
    """The reduced-precision dtype models may use under ``precision`` on ``device`` (``float32`` if none)."""
    if use_half(device, precision):
        return "float16"
    if use_cpu_bfloat16(device, precision):
        return "bfloat16"
    return "float32"


#: glibc ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: Blocks up to this size come from the heap, not from fresh ``mmap`` (a 1920x1080 float32 RGB image
#: is 24.9 MB); 32 MiB is glibc's largest mmap threshold.
MMAP_THRESHOLD = 32 << 20
#: Free memory kept at the top of the heap instead of being returned to the kernel.
TRIM_THRESHOLD = 512 << 20


def keep_freed_memory(libc_name: str | None = "libc.so.6") -> bool:
    """Make glibc keep freed frame-sized blocks for reuse instead of returning them to the kernel.

    By default glibc serves large blocks with ``mmap`` and trims the heap top on ``free``, so every
    frame's multi-megabyte temporaries are page-faulted in afresh: measured here, about 4,000 page
    faults and 8-10 ms per 640x360 frame on a 2-core VM (where a fault costs microseconds). With the
    thresholds raised the process reuses its own memory (4 faults per frame); resident memory stays
    at the working set's peak, which the process reaches anyway. Returns whether the settings took
    (False on a C library without ``mallopt``, e.g. musl; nothing else changes then).
    """
    try:
        libc = ctypes.CDLL(libc_name)
        mallopt = libc.mallopt
    except (OSError, AttributeError) as exc:
        log.debug("no glibc mallopt (%s): allocator left as it is", exc)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    done = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    if not done:
        log.debug("mallopt refused the thresholds: allocator left as it is")
    return done


def configure(device: torch.device, precision: str = "auto") -> None:
    """One-time backend settings for ``device``."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        log.info("using %s (%s), %s", device, torch.cuda.get_device_name(device), precision_name(device, precision))
    else:
        log.info("using the CPU with %d threads, %s", network_threads(), precision_name(device, precision))


def describe() -> str:
    """One line about the available compute, for ``doctor``."""
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return f"CUDA available: {names} (torch {torch.__version__})"
    bf16 = "native bfloat16: style networks run in bfloat16" if cpu_has_native_bfloat16() else \
        "no native bfloat16: float32 (the Magenta network in onnxruntime)"
    return f"no CUDA GPU; running on the CPU ({network_threads()} threads, {bf16}, torch {torch.__version__})"


# --------------------------------------------------------------------------------------------------
# threads

#: The thread count for the networks (``set_threads``); None until first set: torch's count then.
_network_threads: int | None = None
#: Whether torch itself runs a network on the CPU (``set_torch_runs_networks``).
_torch_networks = True


def network_threads() -> int:
    """Intra-op threads for the networks: what onnxruntime sessions use at their next run, and torch
    too while it runs a network (``set_torch_runs_networks``)."""
    return _network_threads if _network_threads is not None else torch.get_num_threads()


def set_threads(count: int) -> None:
    """Use ``count`` threads for the networks from the next frame on (``threads:`` and its tuner)."""
    global _network_threads
    if count < 1:
        raise ValueError(f"thread count must be >= 1, got {count}")
    _network_threads = count
    _apply_torch_threads()


def set_torch_runs_networks(value: bool) -> None:
    """Tell the policy whether torch runs a network on the CPU (the bfloat16 transformer, the seed
    methods, a TorchScript segmenter) or only the per-frame glue around onnxruntime's networks.

    Glue only: torch gets one thread. Its operations there are small (masks and images at the
    network's few hundred pixels), and OpenMP's idle threads spin after each of them, against
    onnxruntime's threads and the video-call app: measured on 2 cores with other programs busy
    (default config, 640x360, float32, alternating frame by frame), one torch thread made the frame
    median 65 ms instead of 97 ms and p95 102 ms instead of 696 ms.
    """
    global _torch_networks
    _torch_networks = value
    _apply_torch_threads()


def _apply_torch_threads() -> None:
    global _network_threads
    if _network_threads is None:  # remember the count the networks get before torch's may drop to one
        _network_threads = torch.get_num_threads()
    count = _network_threads if _torch_networks else 1
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
