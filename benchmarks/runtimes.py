"""Same-process, frame-by-frame alternating comparisons behind the CPU choices (issue 12):

- ``segmenter``: the selfie model in onnxruntime vs the traced TorchScript graph (256x256);
- ``transformer``: the Magenta transformer, two styles, in torch vs onnxruntime (float32), and torch
  bfloat16 where the CPU has it;
- ``pipelining``: segmentation of frame t+1 on a second thread while frame t is stylized, vs one
  after the other (per-frame wall time; at most one frame in flight between the stages).

Every variant runs once per round, in alternating order, on the same inputs, so machine drift hits
all alike. To behave like an AVX2-only CPU on a newer one, run with ``ATEN_CPU_CAPABILITY=avx2
ONEDNN_MAX_CPU_ISA=AVX2`` (torch's kernels; onnxruntime's MLAS picks its kernels from the CPU itself
and cannot be limited, so its numbers there are the newer CPU's).

    python benchmarks/runtimes.py [--rounds 40] [--threads 2] [--size 256x456] [--only segmenter,transformer,pipelining]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from vcamstyle.compute import cpu_has_native_bfloat16  # noqa: E402
from vcamstyle.models import magenta, selfie  # noqa: E402
from vcamstyle.models.magenta_ort import OrtTransformer  # noqa: E402


def alternate(variants: dict[str, Callable[[], object]], rounds: int, warmup: int = 3) -> dict[str, list[float]]:
    """Milliseconds per call of each variant, rounds alternating in order (forwards, then backwards)."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for i in range(warmup + rounds):
        for name in names if i % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            variants[name]()
            elapsed = (time.perf_counter() - start) * 1000
            if i >= warmup:
                times[name].append(elapsed)
    return times


def report(title: str, times: dict[str, list[float]]) -> None:
    print(title)
    for name, values in times.items():
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(f"  {name:<28} median {statistics.median(values):7.1f} ms   p95 {p95:7.1f} ms   ({len(values)} runs)")


def segmenter(rounds: int) -> None:
    frame = torch.rand(1, 3, 256, 256)
    fast, traced = selfie.SelfieSegmenter(), selfie.SelfieSegmenter(runtime="torchscript")
    report("selfie segmenter, 256x256", alternate({"onnxruntime": lambda: fast.segment(frame),
                                                   "torchscript": lambda: traced.segment(frame)}, rounds))


def _inputs(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    image = torch.rand(1, 3, height, width)
    mask = torch.zeros(1, 1, height, width)
    mask[..., height // 6:, width // 4: 3 * width // 4] = 1.0
    return image, mask


def transformer(rounds: int, height: int, width: int) -> None:
    net = magenta.load_transformer()
    image, mask = _inputs(height, width)
    first, second = net.norm_params(torch.randn(1, 100)), net.norm_params(torch.randn(1, 100))
    in_ort = OrtTransformer(net, cache_key=net.weights_sha256)
    channels_last = image.contiguous(memory_format=torch.channels_last)
    variants = {"torch float32": lambda: net(channels_last, first, second, mask),
                "onnxruntime float32": lambda: in_ort(image, first, second, mask)}
    if cpu_has_native_bfloat16():
        bf16 = magenta.load_transformer().to(torch.bfloat16)
        bf_image, bf_mask = channels_last.to(torch.bfloat16), mask.to(torch.bfloat16)
        variants["torch bfloat16"] = lambda: bf16(bf_image, first, second, bf_mask)
    with torch.inference_mode():
        report(f"Magenta transformer, two styles, {width}x{height}", alternate(variants, rounds))


def pipelining(rounds: int, height: int, width: int) -> None:
    """Sequential vs overlapped segmentation/stylization, per frame, on the offline default's models."""
    from vcamstyle.models.base import RegionStyle

    seg = selfie.SelfieSegmenter()
    stylizer = magenta.MagentaStylizer(magenta.load_transformer(), magenta.load_predictor(), runtime="onnxruntime")
    code = torch.randn(1, 100)
    person, background = RegionStyle(code, 1.0), RegionStyle(-code, 1.0)
    frame_seg, (image, _) = torch.rand(1, 3, 256, 256), _inputs(height, width)

    def stylize(mask: torch.Tensor) -> None:
        stylizer.stylize(image, torch.nn.functional.interpolate(mask, (height, width)), person, background)

    def sequential() -> None:
        stylize(seg.segment(frame_seg))

    pool = ThreadPoolExecutor(max_workers=1)
    state = {"next": pool.submit(seg.segment, frame_seg)}
    lock = threading.Lock()

    def overlapped() -> None:  # the mask of this frame was computed while the previous one was stylized
        with lock:
            mask = state["next"].result()
            state["next"] = pool.submit(seg.segment, frame_seg)  # at most one frame in flight
        stylize(mask)

    report(f"segmentation + stylization ({width}x{height}) per frame",
           alternate({"sequential": sequential, "overlapped (2 threads)": overlapped}, rounds))
    pool.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--size", default="256x456", help="network input HxW for the transformer")
    parser.add_argument("--only", default="segmenter,transformer,pipelining")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    height, width = (int(v) for v in args.size.split("x"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, kernels: "
          f"{torch.backends.cpu.get_cpu_capability()}, native bfloat16: {cpu_has_native_bfloat16()}")
    with open("/proc/loadavg") as handle:
        print(f"load average at start: {handle.read().strip()}")
    parts = set(args.only.split(","))
    if "segmenter" in parts:
        segmenter(args.rounds)
    if "transformer" in parts:
        transformer(args.rounds, height, width)
    if "pipelining" in parts:
        pipelining(args.rounds, height, width)
    with open("/proc/loadavg") as handle:
        print(f"load average at end: {handle.read().strip()}")


if __name__ == "__main__":
    main()
