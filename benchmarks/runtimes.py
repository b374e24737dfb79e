"""Same-process, frame-by-frame alternating comparisons behind the CPU choices (issue 12):

- ``segmenter``: the selfie model in onnxruntime vs the traced TorchScript graph (256x256);
- ``transformer``: the Magenta transformer, two style streams, in torch vs onnxruntime (float32), and
  torch bfloat16 where the CPU has it;
- ``pipelining``: segmentation of frame t+1 on a second thread while frame t is stylized, vs one
  after the other (per-frame wall time; at most one frame in flight between the stages);
- ``threading``: the whole default pipeline with torch's glue at two threads or one, and
  onnxruntime's threads sleeping between operators or spinning within a run.

Every variant runs once per round, in alternating order, on the same inputs, so machine drift hits
all alike. To behave like an AVX2-only CPU on a newer one, run with ``ATEN_CPU_CAPABILITY=avx2
ONEDNN_MAX_CPU_ISA=AVX2`` (torch's kernels; onnxruntime's MLAS picks its kernels from the CPU itself
and cannot be limited, so its numbers there are the newer CPU's).

    python benchmarks/runtimes.py [--rounds 40] [--threads 2] [--size 256x456] [--only segmenter,transformer,pipelining,threading]
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

import numpy as np  # noqa: E402
import torch  # noqa: E402

from vcamstyle.compute import cpu_has_native_bfloat16  # noqa: E402
from vcamstyle.models.magenta import stylizer as magenta  # noqa: E402
from vcamstyle.models.segmenters import selfie  # noqa: E402
from vcamstyle.models.magenta.ort import OrtTransformer  # noqa: E402


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
    image, _ = _inputs(height, width)
    with torch.inference_mode():
        streams = net.norm_params(torch.randn(2, 100))
    in_ort = OrtTransformer(net, cache_key=net.weights_sha256)
    channels_last = image.contiguous(memory_format=torch.channels_last)
    variants = {"torch float32": lambda: net(channels_last, streams),
                "onnxruntime float32": lambda: in_ort(image, streams)}
    if cpu_has_native_bfloat16():
        bf16 = magenta.load_transformer().to(torch.bfloat16)
        bf_image = channels_last.to(torch.bfloat16)
        variants["torch bfloat16"] = lambda: bf16(bf_image, streams)
    with torch.inference_mode():
        report(f"Magenta transformer, two style streams, {width}x{height}", alternate(variants, rounds))


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


def threading_policy(rounds: int, height: int) -> None:
    """The default pipeline (float32: both networks in onnxruntime) at 640x360, ``style.size`` ``height``:
    torch's glue with two threads or one, and onnxruntime's threads sleeping between operators or
    spinning within a run (stopping when it ends), alternating frame by frame."""
    import onnxruntime as ort
    from skimage import data

    from vcamstyle import compute
    from vcamstyle.config import parse_config
    from vcamstyle.frames import shrink
    from vcamstyle.pipeline import Engine, Pipeline

    config = parse_config("precision: float32\nstyle:\n  schedule: every_frame\n", Path(__file__).resolve().parents[1] / "config" / "bench.yaml")
    scene = Engine().build(config, (360, 640), None)
    pipeline = Pipeline(scene.segmenter, scene.stylizer, scene.settings, scene.device)
    pipeline.set_style_size(height)
    transformer = scene.stylizer.run
    graph = transformer._graph

    def session(spin: bool) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        if spin:
            options.add_session_config_entry("session.force_spinning_stop", "1")
        return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

    sessions = {False: session(False), True: session(True)}
    rng = np.random.default_rng(0)
    still = shrink(data.astronaut(), (360, 640)).astype(np.int16)
    frames = [np.clip(still + rng.integers(-4, 5, still.shape), 0, 255).astype(np.uint8) for _ in range(8)]
    count = iter(range(1 << 30))

    def variant(torch_threads: int, spin: bool) -> Callable[[], object]:
        def run() -> object:
            compute.set_threads(2)
            compute.set_torch_runs_networks(torch_threads == 2)
            transformer._sessions[2] = sessions[spin]
            return pipeline.process(frames[next(count) % len(frames)])
        return run

    report(f"default pipeline, 640x360, style size {height}, per frame (onnxruntime 2 threads)", alternate({
        "torch glue 2 threads": variant(2, False), "torch glue 1 thread": variant(1, False),
        "2 threads, ort spins in run": variant(2, True), "1 thread, ort spins in run": variant(1, True)}, rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--size", default="256x456", help="network input HxW for the transformer")
    parser.add_argument("--only", default="segmenter,transformer,pipelining,threading")
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
    if "threading" in parts:
        threading_policy(args.rounds, height)
    with open("/proc/loadavg") as handle:
        print(f"load average at end: {handle.read().strip()}")


if __name__ == "__main__":
    main()
