"""Benchmarks that run the real daemon loop in-process (threads, camera pacing, sink): end-to-end
latency and a soak run. Used by ``vcamstyle bench --latency/--soak`` and ``benchmarks/*.py``."""

from __future__ import annotations

import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from vcamstyle.daemon import Service, percentile


def rss_mb() -> float:
    """Resident set size of this process now, in MiB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _null_output(config_path: Path, directory: Path, extra: dict[str, Any] | None = None) -> Path:
    """A copy of the config with ``output.backend: none`` (and ``extra`` merged in) in ``directory``."""
    data = yaml.safe_load(Path(config_path).read_text()) or {}
    data.setdefault("output", {})["backend"] = "none"
    for key, value in (extra or {}).items():
        section, _, leaf = key.partition(".")
        if leaf:
            data.setdefault(section, {})[leaf] = value
        else:
            data[section] = value
    camera = data.get("camera", {}).get("device")
    if isinstance(camera, str) and not os.path.isabs(camera) and (Path(config_path).parent / camera).exists():
        data["camera"]["device"] = str((Path(config_path).parent / camera).resolve())
    out = directory / "config.yaml"
    out.write_text(yaml.safe_dump(data))
    return out


def run_latency(config_path: Path, frames: int = 300, warmup: int = 30) -> dict[str, Any]:
    """Run the daemon loop over the configured camera (paced at its frame rate) into a null sink.

    Reports per frame: ``frame_age`` (how long the newest frame waited before processing began),
    ``processing`` (pipeline + sink) and ``latency`` (capture to sink write), median and p95, and the
    camera's frame interval. With a grab thread that keeps only the newest frame, ``frame_age`` stays
    below one frame interval and latency is about the processing time.
    """
    with tempfile.TemporaryDirectory() as tmp:
        service = Service(_null_output(config_path, Path(tmp)), max_frames=warmup + frames, publish=False,
                          stats_window=warmup + frames)
        service.run()
    samples = {k: list(v)[warmup:] for k, v in service.stage_times.samples.items()}
    processing = [sum(parts) for parts in zip(*(samples[k] for k in ("segment", "mask", "style", "composite", "sink")))]
    interval_ms = 1000.0 / service._geometry[2]

    def stats(values: list[float]) -> dict[str, float]:
        return {"median": round(statistics.median(values), 2), "p95": round(percentile(values, 95), 2),
                "max": round(max(values), 2)}
    return {"frames": len(processing), "frame_interval_ms": round(interval_ms, 2), "fps": service.rate.rate(),
            "frame_age_ms": stats(samples["frame_age"]), "processing_ms": stats(processing),
            "latency_ms": stats(samples["latency"]),
            "stage_ms": {name: round(statistics.median(values), 2) for name, values in samples.items() if values},
            "threads": service.threads.current if service.threads else None,
            "frames_waiting_longer_than_one_interval": sum(a > interval_ms for a in samples["frame_age"])}


def run_soak(config_path: Path, frames: int = 10_000, reload_every: int = 500,
             styles: tuple[str, str] = ("styles/mosaic.png", "styles/waves.png")) -> dict[str, Any]:
    """``frames`` frames through the daemon loop with a config reload every ``reload_every`` frames
    (alternating the background style); reports resident memory and open file descriptors at the
    start (after the first reload cycle) and at the end."""
    with tempfile.TemporaryDirectory() as tmp:
        config = _null_output(config_path, Path(tmp))
        marks: dict[str, Any] = {"reloads": 0}

        def on_frame(service: Service) -> None:
            if service.frames % reload_every == 0:
                data = yaml.safe_load(config.read_text())
                data.setdefault("background", {})["style"] = styles[marks["reloads"] % 2]
                config.write_text(yaml.safe_dump(data))
                marks["reloads"] += 1
            if service.frames == 2 * reload_every:
                marks["start"] = (rss_mb(), open_fds(), time.monotonic())

        service = Service(config, max_frames=frames, publish=False, on_frame=on_frame)
        started = time.monotonic()
        service.run()
    rss_start, fds_start, t_start = marks.get("start", (rss_mb(), open_fds(), started))
    return {"frames": service.frames, "reloads": marks["reloads"], "seconds": round(time.monotonic() - started, 1),
            "rss_mb": {"start": rss_start, "end": rss_mb()}, "open_fds": {"start": fds_start, "end": open_fds()},
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "last_error": service.last_error}
