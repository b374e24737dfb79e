"""A reproducible stand-in camera for the benchmarks: a video of a real person photo (scikit-image's
astronaut) moving slightly over a plain background, with sensor-like noise. Written once per size."""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np


def camera_video(width: int, height: int, fps: int = 30, frames: int = 60, directory: Path | None = None,
                 fourcc: str = "mp4v") -> Path:
    """Path of a video of ``frames`` frames at ``width x height`` (created if missing): an mp4, or with
    ``fourcc="MJPG"`` an MJPG avi, which costs what a webcam's MJPG stream costs to decode (the default
    configuration asks the camera for MJPG)."""
    import skimage.data

    directory = directory or Path(tempfile.gettempdir()) / "vcamstyle-bench"
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".avi" if fourcc == "MJPG" else ".mp4"
    path = directory / f"camera_{width}x{height}_{fps}fps_{frames}_{fourcc}{suffix}"
    if path.exists():
        return path
    person = cv2.resize(skimage.data.astronaut(), (height, height), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    for i in range(frames):
        canvas = np.full((height, width, 3), 100, np.uint8)
        x = max(0, (width - height) // 2 + int(round(width * 0.02 * np.sin(i / 8))))
        canvas[:, x:x + height] = person[:, : width - x]
        noisy = np.clip(canvas.astype(np.int16) + rng.integers(-4, 5, canvas.shape), 0, 255).astype(np.uint8)
        writer.write(cv2.cvtColor(noisy, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def bench_config(camera: Path, directory: Path, extra: str = "") -> Path:
    """A config file that reads ``camera`` and otherwise uses the defaults (plus ``extra`` YAML)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "bench.yaml"
    path.write_text(f"camera:\n  device: {camera}\n{extra}")
    return path
