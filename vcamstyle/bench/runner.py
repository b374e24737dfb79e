"""``vcamstyle bench``: the pipeline over the configured camera (a file works), without a sink.

Frames from a file are decoded up front so that decoding and file pacing do not count; a real camera
is read live. Timings synchronise the device (``Pipeline`` does on CUDA), warm up first, and report
medians and p95 over all measured frames.

``run_seed_comparison`` (``bench --seed-baseline``) runs the pipeline and the seed's per-frame algorithm
(``vcamstyle.models.seed.baseline``) alternately on the same frames, networks and device, and reports both and
the speed-up.
"""

from __future__ import annotations

import logging
import resource
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

import cv2
import numpy as np
import torch

from vcamstyle import compute
from vcamstyle.config import Config, override
from vcamstyle.daemon import StageTimes, camera_settings, output_geometry, percentile
from vcamstyle.devices import CameraSource, camera_rgb, create_sink, decoded_file_frames, is_file_source, resolve_camera
from vcamstyle.errors import ConfigError, SourceError
from vcamstyle.frames import short_side_size, shrink, to_tensor
from vcamstyle.models import (
    SEED_STYLE_SIDE,
    SeedBaseline,
    build_seed_baseline,
    check_seed_method,
    seed_style_square,
)
from vcamstyle.models.weights import resolve_weights_dir
from vcamstyle.pipeline import Engine, FrameFitter, Pipeline, StyleSizeController, load_rgb, size_cost

log = logging.getLogger(__name__)

def frame_stream(config: Config) -> tuple[Iterator[np.ndarray], tuple[int, int, float], CameraSource | None]:
    """Endless ``HxWx3 uint8 RGB`` frames from the configured camera and its (width, height, fps).

    A camera file is decoded frame by frame as the daemon's grab thread decodes it (an MJPG file pays
    the camera's MJPEG decoding), with the same colour conversion and mirroring, but without pacing:
    ``next()`` on the stream is the capture stage. A live camera is read through its grab thread (its
    decoding runs there, uncounted; ``next()`` then includes waiting for the camera)."""
    target = resolve_camera(config.camera.device)
    if isinstance(target, str) and is_file_source(target):
        decoded = decoded_file_frames(target, float(config.camera.fps))
        first = next(decoded)
        h, w = first.shape[:2]
        mirror = bool(config.camera.mirror)

        def cycle() -> Iterator[np.ndarray]:
            for bgr in decoded:
                yield camera_rgb(bgr, mirror)
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


def model_precision(model: Any) -> str:
    """The dtype a stylizer or segmenter computes in (``float32``, ``bfloat16``, ``float16``)."""
    dtype = getattr(model, "dtype", None) or getattr(getattr(model, "policy", None), "dtype", None)
    return str(dtype or torch.float32).removeprefix("torch.")


def run_description(config: Config, width: int, height: int, device: torch.device, styled: bool,
                    random_weights: bool, precision: str | None = None) -> dict[str, Any]:
    """What a benchmark ran: size, device, models, regions, threads, the stylizer's precision."""
    return {
        "width": width,
        "height": height,
        "device": str(device),
        "precision": precision,
        "method": config.style.method if styled else None,
        "segmentation": config.segmentation.model,
        "person": config.summary_region("person"),
        "background": config.summary_region("background"),
        "style_size": config.style.size,
        "random_weights": random_weights,
        "threads": compute.network_threads(),
        "cpu": compute.cpu_kind() if device.type == "cpu" else None,
    }


#: With ``style.size: auto`` the benchmark warms up until the size has not changed for this many
#: frames (at most ``MAX_SETTLE`` frames), so that it measures the size the daemon would settle on.
SETTLED_FRAMES = 90
MAX_SETTLE = 900


def _auto_size(config: Config, pipeline: Pipeline, fps: float) -> StyleSizeController | None:
    """The daemon's ``style.size: auto`` controller over ``pipeline`` (None for a fixed size or where no
    style network runs)."""
    if config.style.size != "auto" or not pipeline.stylizes:
        return None
    return StyleSizeController(fps, pipeline.set_style_size)


def run_bench(config: Config, frames: int = 100, warmup: int = 10, random_weights: bool = False) -> dict[str, Any]:
    """Measure ``frames`` frames after ``warmup``; returns the report dict (see ``format_report``).

    A frame's time counts every stage the daemon runs for it: ``capture`` (a camera file's decoding and
    colour conversion, see ``frame_stream``), ``fit`` (to the output size), the pipeline's stages and
    ``sink`` (the conversion to ``output.format`` that the virtual camera's sink does, through the null
    sink that does the same work). With ``style.size: auto`` the size controller runs as in the daemon
    (fed the pipeline's time per frame, as the daemon feeds it); warm-up continues until the size has
    been stable for ``SETTLED_FRAMES``.
    """
    compute.keep_freed_memory()  # as the daemon does
    stream, granted, source = frame_stream(config)
    counts_capture = source is None  # a live camera decodes in its grab thread, where this cannot time it
    try:
        width, height, fps = output_geometry(config, granted)
        engine = Engine(random_weights=random_weights)
        scene = engine.build(config, (height, width), resolve_weights_dir(str(config.weights_dir) if config.weights_dir else None))
        pipeline = Pipeline(scene.segmenter, scene.stylizer, scene.settings, scene.device)
        compute.set_torch_runs_networks(pipeline.torch_runs_networks)
        sink = create_sink(None, width, height, fps, backend="null", format=config.output.format)
        fit = FrameFitter()
        controller = _auto_size(config, pipeline, fps)
        stages = StageTimes(window=frames)
        totals: list[float] = []
        sizes: dict[int, int] = {}
        warm, stable_since, last_size = 0, 0, pipeline.settings.style_size
        while len(totals) < frames:
            t0 = time.perf_counter()
            image = next(stream)
            t1 = time.perf_counter()
            image = fit(image, (height, width), config.output.fit)
            t2 = time.perf_counter()
            size = pipeline.settings.style_size
            result = pipeline.process(image)
            t3 = time.perf_counter()
            sink.send(result.image)
            t4 = time.perf_counter()
            if controller is not None:  # (with the network on its own thread: its run time)
                controller.record(size_cost((t3 - t2) * 1000, pipeline.network_ms))
            if warm < warmup or (controller is not None and warm < MAX_SETTLE and warm - stable_since < SETTLED_FRAMES):
                warm += 1
                if pipeline.settings.style_size != last_size:
                    stable_since, last_size = warm, pipeline.settings.style_size
                continue
            if not totals:
                runs_before, measure_began = _runs(pipeline), time.perf_counter()
            sizes[size] = sizes.get(size, 0) + 1
            capture = {"capture": (t1 - t0) * 1000} if counts_capture else {}
            stages.add_all({**capture, "fit": (t2 - t1) * 1000, **result.stage_ms, "sink": (t4 - t3) * 1000})
            totals.append((t4 - t0) * 1000 if counts_capture else (t4 - t1) * 1000)
        network_fps = None
        if pipeline.worker is not None:
            network_fps = round((_runs(pipeline) - runs_before) / (time.perf_counter() - measure_began), 2)
    finally:
        if source is not None:
            source.close()
        if "pipeline" in locals():
            pipeline.close()
    median = statistics.median(totals)
    report = {
        "fps": round(1000.0 / median, 2),
        # what `vcamstyle status` shows for this configuration: the daemon takes the camera's frames at
        # the camera's rate, so it publishes the lesser of that rate and what the machine can process
        "published_fps": round(min(fps, 1000.0 / median), 2),
        "camera_fps": fps,
        "frames": frames,
        **run_description(config, width, height, scene.device, scene.stylizer is not None, random_weights,
                          model_precision(scene.stylizer or scene.segmenter)),
        "frame_ms": {"median": round(median, 2), "p95": round(percentile(totals, 95), 2),
                     "mean": round(statistics.fmean(totals), 2)},
        "stage_ms": stages.summary(),
        "schedule": pipeline.settings.schedule,
        "network_fps": network_fps,
    }
    if controller is not None:
        report["style_size_auto"] = {"warmup_frames": warm, "sizes": {str(k): v for k, v in sorted(sizes.items())},
                                     "final": pipeline.settings.style_size, "target_fps": fps}
    return report


def _runs(pipeline: Pipeline) -> int:
    """Style network results made so far on the pipeline's own thread (``style.schedule: async``)."""
    return pipeline.worker.runs if pipeline.worker is not None else 0


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of a ``run_bench`` report (or of a ``run_seed_comparison`` report)."""
    if "seed" in report:
        return format_comparison(report)
    lines = [f"{report['width']}x{report['height']} on {report['device']} ({report['threads']} threads, "
             f"{report.get('precision') or 'float32'}), "
             f"{report['frames']} frames: {report['fps']:.1f} fps, frame median {report['frame_ms']['median']:.1f} ms, "
             f"p95 {report['frame_ms']['p95']:.1f} ms",
             f"person: {report['person']}; background: {report['background']}; segmentation: {report['segmentation']}"
             + (f"; method: {report['method']} at short side {_size_text(report)}" if report["method"] else ""),
             f"{'stage':<16}{'median ms':>10}{'p95 ms':>10}"]
    if report.get("published_fps") is not None:
        lines.insert(1, f"the daemon publishes {report['published_fps']:.1f} fps (at most the output's "
                        f"{report['camera_fps']:g}; `vcamstyle status` shows it): the {report['fps']:.1f} fps "
                        "above is what this machine processes unpaced")
    if report.get("cpu"):
        lines.insert(2, f"CPU: {report['cpu']}")
    if report.get("network_fps") is not None:
        lines.insert(2, f"style network on its own thread (style.schedule async): {report['network_fps']:.1f} "
                        "paintings per second beside the output's frames")
    for stage, values in report["stage_ms"].items():
        lines.append(f"{stage:<16}{values['median']:>10.2f}{values['p95']:>10.2f}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ seed comparison


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed_run(run: Callable[[np.ndarray], Any], image: np.ndarray,
               device: torch.device) -> tuple[Any, float, float | None]:
    """``run(image)`` timed with device synchronisation -> (result, ms, peak GPU MiB of this call or None)."""
    cuda = device.type == "cuda"
    _sync(device)
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    result = run(image)
    _sync(device)
    elapsed = (time.perf_counter() - t0) * 1000
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None
    return result, elapsed, peak


def _side_summary(totals: list[float], stages: StageTimes, network_size: tuple[int, int], precision: str,
                  gpu_peak: float | None) -> dict[str, Any]:
    median = statistics.median(totals)
    return {
        "fps": round(1000.0 / median, 2),
        "frame_ms": {"median": round(median, 2), "p95": round(percentile(totals, 95), 2),
                     "mean": round(statistics.fmean(totals), 2)},
        "stage_ms": stages.summary(),
        "network_size": [network_size[0], network_size[1]],
        "precision": precision,
        "gpu_peak_mib": None if gpu_peak is None else round(gpu_peak, 1),
    }


def run_seed_comparison(config: Config, frames: int = 100, warmup: int = 10, random_weights: bool = False,
                        seed_size: Literal["output", "style"] = "output") -> dict[str, Any]:
    """The current pipeline and the seed's per-frame algorithm (``vcamstyle.models.seed.baseline``), built on
    the same network instances, device and resolution, run alternately on the same frames.

    Both warm up for ``warmup`` frames, then ``frames`` frames are measured; the order within each frame
    alternates (current first on even frames, the seed first on odd ones). Frame times cover the
    processing of an ``HxWx3 uint8`` frame at the output size (the resize to it, identical for both, is
    not timed), with device synchronisation. ``seed_size``: the seed's networks run at the output size
    (``"output"``, as the seed did) or at the pipeline's working size (``"style"``, which isolates the
    algorithmic gain from the resolution gain).

    Returns a ``run_bench``-style report of the current pipeline with ``seed`` (the same figures for the
    baseline), ``seed_fps``, ``speedup`` (current fps / seed fps) and ``memory`` added.
    """
    if seed_size not in ("output", "style"):
        raise ValueError(f"seed_size must be 'output' or 'style', got {seed_size!r}")
    check_seed_method(config.style.method)
    compute.keep_freed_memory()
    stream, granted, source = frame_stream(config)
    try:
        width, height, _ = output_geometry(config, granted)
        engine = Engine(random_weights=random_weights)
        weights_dir = resolve_weights_dir(str(config.weights_dir) if config.weights_dir else None)
        # both sides paint every frame from itself (the seed's algorithm has no network thread)
        scene = engine.build(override(config, {"style.schedule": "every_frame"}), (height, width), weights_dir)
        pipeline = Pipeline(scene.segmenter, scene.stylizer, scene.settings, scene.device)
        compute.set_torch_runs_networks(pipeline.torch_runs_networks)
        current_size = short_side_size(height, width, scene.settings.style_size, multiple=2)
        seed_network = None if seed_size == "output" else current_size
        baseline = baseline_for_scene(scene, config, network_size=seed_network,
                                      segmenter=scene.segmenter or engine.segmenter_for(config, (height, width), weights_dir))
        device = scene.device
        runners = {"current": pipeline.process, "seed": baseline.process}
        totals: dict[str, list[float]] = {"current": [], "seed": []}
        stages = {"current": StageTimes(window=frames), "seed": StageTimes(window=frames)}
        gpu_peaks: dict[str, float | None] = {"current": None, "seed": None}
        for i in range(warmup + frames):
            image = next(stream)
            if image.shape[:2] != (height, width):
                image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            order = ("current", "seed") if i % 2 == 0 else ("seed", "current")
            for side in order:
                result, elapsed, peak = _timed_run(runners[side], image, device)
                if i < warmup:
                    continue
                totals[side].append(elapsed)
                stages[side].add_all(result.stage_ms)
                if peak is not None:
                    gpu_peaks[side] = max(peak, gpu_peaks[side] or 0.0)
    finally:
        if source is not None:
            source.close()
        if "pipeline" in locals():
            pipeline.close()
    current_precision = model_precision(scene.stylizer)
    current = _side_summary(totals["current"], stages["current"], current_size, current_precision, gpu_peaks["current"])
    seed = _side_summary(totals["seed"], stages["seed"], seed_network or (height, width), "float32", gpu_peaks["seed"])
    return {
        "fps": current["fps"],
        "frames": frames,
        "warmup": warmup,
        **run_description(config, width, height, device, True, random_weights, current_precision),
        "frame_ms": current["frame_ms"],
        "stage_ms": current["stage_ms"],
        "order": "alternating",
        "current": current,
        "seed": seed,
        "seed_size": seed_size,
        "memory": {
            # ru_maxrss is in KiB on Linux; it is the peak of the whole process (both runs, the models).
            "host_peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "gpu_peak_mib": {"current": current["gpu_peak_mib"], "seed": seed["gpu_peak_mib"]}
            if device.type == "cuda" else None,
        },
        "seed_fps": seed["fps"],
        "speedup": round(current["fps"] / seed["fps"], 2),
    }


def format_comparison(report: dict[str, Any]) -> str:
    """A plain-text table of a ``run_seed_comparison`` report: both columns and the speed-up."""
    current, seed = report["current"], report["seed"]
    weights = "random weights" if report["random_weights"] else "real weights"
    lines = [f"{report['method']} at {report['width']}x{report['height']} on {report['device']} "
             f"({report['threads']} threads, {weights}), {report['frames']} frames, run alternately "
             f"with the seed's per-frame algorithm after {report['warmup']} warm-up frames",
             f"person: {report['person']}; background: {report['background']}; segmentation: {report['segmentation']}",
             f"{'':<18}{'current':>12}{'seed':>12}",
             f"{'fps':<18}{current['fps']:>12.2f}{seed['fps']:>12.2f}",
             f"{'frame median ms':<18}{current['frame_ms']['median']:>12.1f}{seed['frame_ms']['median']:>12.1f}",
             f"{'frame p95 ms':<18}{current['frame_ms']['p95']:>12.1f}{seed['frame_ms']['p95']:>12.1f}",
             f"{'network input':<18}{_size(current['network_size']):>12}{_size(seed['network_size']):>12}",
             f"{'precision':<18}{current['precision']:>12}{seed['precision']:>12}"]
    known = ("convert", "capture", "fit", "segment", "mask", "style", "composite", "sink")
    present = set(current["stage_ms"]) | set(seed["stage_ms"])
    stage_names = [s for s in known if s in present] + sorted(present - set(known))
    for stage in stage_names:
        lines.append(f"{stage + ' ms':<18}{_stage(current, stage):>12}{_stage(seed, stage):>12}")
    memory = report["memory"]
    gpu = memory["gpu_peak_mib"]
    lines.append(f"peak memory: host {memory['host_peak_mib']:.0f} MiB (whole process)"
                 + (f"; GPU current {gpu['current']:.0f} MiB, seed {gpu['seed']:.0f} MiB" if gpu else ""))
    lines.append(f"speed-up: {report['speedup']:.2f}x (current fps / seed fps)")
    return "\n".join(lines)


def _size_text(report: dict[str, Any]) -> str:
    """The style size of a report: the number, or what ``auto`` used while measuring."""
    auto = report.get("style_size_auto")
    if not auto:
        return str(report["style_size"])
    used = ", ".join(f"{size} ({count} frames)" for size, count in auto["sizes"].items())
    target = auto["target_fps"]
    # The measured rate includes capture resizing, which the controller does not see: allow 2 %.
    held = f"holding {target:g} fps" if report["fps"] >= 0.98 * target else \
        f"aiming at {target:g} fps, not reached at this size"
    return f"auto -> {used}; settled after {auto['warmup_frames']} warm-up frames, {held}"


def _size(network_size: list[int]) -> str:
    return f"{network_size[1]}x{network_size[0]}"


def _stage(side: dict[str, Any], stage: str) -> str:
    values = side["stage_ms"].get(stage)
    return "-" if values is None else f"{values['median']:.1f}"


# --- the seed baseline over a built scene --------------------------------------------------------


def prepared_style(path: Path, device: torch.device, side: int | None = None) -> torch.Tensor:
    """The style image at ``path`` as the seed prepared it once: ``1x3xSxS`` float32 RGB [0,1] on ``device``."""
    square = seed_style_square(load_rgb(path, "style image"), SEED_STYLE_SIDE if side is None else side)
    return to_tensor(square, device)


def region_style_path(config: Any, region_name: str) -> Path:
    """The first style image of a region that the configuration styles (the seed had one per region)."""
    region = getattr(config, region_name)
    if region.effect != "style" or not region.style:
        raise ConfigError(f"{region_name}.effect is {region.effect!r}; the seed always styled both regions",
                          hint="set person.effect and background.effect to style for --seed-baseline")
    if len(region.style) > 1:
        log.info("seed baseline: %s blends %d styles; the seed had one, using %s", region_name,
                 len(region.style), region.style[0].image)
    return Path(region.style[0].image)


def baseline_for_scene(scene: Any, config: Any, network_size: tuple[int, int] | None = None,
                       style_side: int | None = None, segmenter: Any = None) -> SeedBaseline:
    """The seed baseline over a built ``vcamstyle.pipeline.scene.Scene`` (its segmenter, stylizer, device), with
    the configured regions' first style images and strengths. ``segmenter``: the one to use when the scene
    has none (it needs no mask: the same style in both regions; the seed segments every frame anyway)."""
    check_seed_method(config.style.method)
    if scene.stylizer is None:
        raise ConfigError("the configuration styles no region", hint="set person.effect and background.effect to style")
    paths = [region_style_path(config, name) for name in ("person", "background")]
    styles = [prepared_style(path, scene.device, style_side) for path in paths]
    strengths = [float(config.person.strength), float(config.background.strength)]
    segmenter = segmenter if segmenter is not None else scene.segmenter
    if segmenter is None:
        raise ValueError("the scene has no segmenter: pass the one the seed baseline should use")
    return build_seed_baseline(config.style.method, scene.stylizer, segmenter, scene.device, styles,
                               strengths, network_size)
