"""Harness for tests that run the real daemon as a subprocess: a video file as the camera and a
PNG-directory file sink as the virtual camera."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

FPS = 30
SIZE = (320, 192)  # width, height of the fake camera


def write_camera_video(path: Path, frames: int = 45) -> Path:
    """A small mp4 of a real person photo (scikit-image's astronaut) moving slightly."""
    import skimage.data

    person = cv2.resize(skimage.data.astronaut(), (SIZE[1], SIZE[1]))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    for i in range(frames):
        canvas = np.full((SIZE[1], SIZE[0], 3), 110, np.uint8)
        x = (SIZE[0] - SIZE[1]) // 2 + int(round(6 * np.sin(i / 6)))
        canvas[:, x:x + SIZE[1]] = person
        writer.write(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


CONFIG = """\
camera:
  device: {camera}
  fps: 30
output:
  backend: file
  path: {out}/
segmentation:
  smoothing: 0.0
person:
  effect: original
background:
  effect: color
  color: "{color}"
device: cpu
"""


class Daemon:
    """A ``vcamstyle run`` subprocess plus helpers to inspect what it writes."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.config = root / "config.yaml"
        self.camera = root / "camera.mp4"
        self.out = root / "out"
        self.process: subprocess.Popen[bytes] | None = None

    def write_config(self, color: str = "#ff0000", extra: str = "") -> None:
        text = CONFIG.format(camera=self.camera, out=self.out, color=color) + extra
        tmp = self.config.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.config)  # editors save by renaming, too

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        self.process = subprocess.Popen([sys.executable, "-m", "vcamstyle", "run", "--config", str(self.config), *args],
                                        env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return self.process

    def frames(self) -> list[Path]:
        return sorted(self.out.glob("frame_*.png")) if self.out.exists() else []

    def read_frame(self, path: Path) -> np.ndarray | None:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def status(self) -> dict | None:
        path = Path(self.env["XDG_RUNTIME_DIR"]) / "vcamstyle" / "status.json"
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.process is not None and self.process.poll() is not None:
                output = self.process.stdout.read().decode(errors="replace") if self.process.stdout else ""
                raise AssertionError(f"daemon exited ({self.process.returncode}) while waiting for {what}:\n{output}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        assert self.process is not None
        return self.process.stdout.read().decode(errors="replace") if self.process.stdout else ""




def corner_color(image: np.ndarray) -> np.ndarray:
    """Mean RGB of the top-left 12x12 corner (always background in the test video)."""
    return image[:12, :12].reshape(-1, 3).mean(axis=0)
