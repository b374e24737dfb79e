"""``vcamstyle bench``: the pipeline over the configured camera (a file works), without a sink.

Frames from a file are decoded up front so that decoding and file pacing do not count; a real camera
is read live. Timings synchronise the device (``Pipeline`` does on CUDA), warm up first, and report
medians and p95 over all measured frames.
"""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np
import torch

from vcamstyle.config import Config
from vcamstyle.frames import shrink
from vcamstyle.errors import SourceError
from vcamstyle.metrics import StageTimes, percentile
from vcamstyle.pipeline import Pipeline
from vcamstyle.scene import Engine
from vcamstyle.sources import CameraSource, is_file_source, resolve_camera
from vcamstyle.render import _frames
from vcamstyle.service import camera_settings, output_geometry
from vcamstyle.weights import resolve_weights_dir

log = logging.getLogger(__name__)

MAX_PRELOADED = 60


def _file_frames(path: str) -> list[np.ndarray]:
    frames = []
    for frame in _frames(Path(path)):
        frames.append(frame)
        if len(frames) >= MAX_PRELOADED:
            break
    if not frames:
        raise SourceError(f"{path} has no frames", hint="check the file plays in a video player")
    return frames


def frame_stream(config: Config) -> tuple[Iterator[np.ndarray], tuple[int, int, float], CameraSource | None]:
    """Endless ``HxWx3 uint8 RGB`` frames from the configured camera and its (width, height, fps)."""
    target = resolve_camera(config.camera.device)
    if isinstance(target, str) and is_file_source(target):
        frames = _file_frames(target)
        h, w = frames[0].shape[:2]

        def cycle() -> Iterator[np.ndarray]:
            i = 0
            while True:
                yield frames[i % len(frames)]
                i += 1
        return cycle(), (w, h, float(config.camera.fps)), None
    source = CameraSource(camera_settings(config)).start()

    def live() -> Iterator[np.ndarray]:
        seq = 0
        while True:
            frame = source.wait_newer(seq, timeout=5.0)
            if frame is None:
                raise SourceError("the camera stopped delivering frames during the benchmark", hint="check the camera")
            seq = frame.seq
            yield frame.image
    return live(), source.granted or (config.camera.width, config.camera.height, config.camera.fps), source


def run_bench(config: Config, frames: int = 100, warmup: int = 10, random_weights: bool = False) -> dict[str, Any]:
    """Measure ``frames`` frames after ``warmup``; returns the report dict (see ``format_report``)."""
    stream, granted, source = frame_stream(config)
    try:
        width, height, _ = output_geometry(config, granted)
        engine = Engine(random_weights=random_weights)
        scene = engine.build(config, (height, width), resolve_weights_dir(str(config.weights_dir) if config.weights_dir else None))
        pipeline = Pipeline(scene.segmenter, scene.stylizer, scene.settings, scene.device)
        stages = StageTimes(window=frames)
        totals: list[float] = []
        for i in range(warmup + frames):
            image = next(stream)
            t0 = time.perf_counter()
            if image.shape[:2] != (height, width):
                image = shrink(image, (height, width))
            t1 = time.perf_counter()
            result = pipeline.process(image)
            t2 = time.perf_counter()
            if i < warmup:
                continue
            stages.add_all({"capture_resize": (t1 - t0) * 1000, **result.stage_ms})
            totals.append((t2 - t0) * 1000)
    finally:
        if source is not None:
            source.close()
    median = statistics.median(totals)
    return {
        "fps": round(1000.0 / median, 2),
        "frames": frames,
        "width": width,
        "height": height,
        "device": str(scene.device),
        "method": config.style.method if scene.stylizer is not None else None,
        "segmentation": config.segmentation.model,
        "person": config.summary_region("person"),
        "background": config.summary_region("background"),
        "style_size": config.style.size,
        "random_weights": random_weights,
        "threads": torch.get_num_threads(),
        "frame_ms": {"median": round(median, 2), "p95": round(percentile(totals, 95), 2),
                     "mean": round(statistics.fmean(totals), 2)},
        "stage_ms": stages.summary(),
    }


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of a ``run_bench`` report."""
    lines = [f"{report['width']}x{report['height']} on {report['device']} ({report['threads']} threads), "
             f"{report['frames']} frames: {report['fps']:.1f} fps, frame median {report['frame_ms']['median']:.1f} ms, "
             f"p95 {report['frame_ms']['p95']:.1f} ms",
             f"person: {report['person']}; background: {report['background']}; segmentation: {report['segmentation']}"
             + (f"; method: {report['method']} at short side {report['style_size']}" if report["method"] else ""),
             f"{'stage':<16}{'median ms':>10}{'p95 ms':>10}"]
    for stage, values in report["stage_ms"].items():
        lines.append(f"{stage:<16}{values['median']:>10.2f}{values['p95']:>10.2f}")
    return "\n".join(lines)
