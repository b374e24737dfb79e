"""Helpers for the end-to-end tests that run inside ``loopback-vm`` (the real v4l2loopback 0.12.7 driver):
the real daemon driven through the ``vcamstyle`` CLI, and real consumers (``v4l2-ctl``, ffmpeg).

Everything here shells out or reads files; nothing imports torch (the guest is emulated and slow).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

DEVICE = os.environ.get("VCAMSTYLE_E2E_DEVICE", "/dev/video10")
EXCLUSIVE_CAPS = int(os.environ.get("VCAMSTYLE_E2E_EXCLUSIVE_CAPS", "1"))
CARD_LABEL = os.environ.get("VCAMSTYLE_E2E_CARD_LABEL", "vcamstyle")
WIDTH, HEIGHT, FPS = 320, 240, 10
#: The guest is emulated (5-20x slower than the host) and imports torch in about a minute: limits here
#: only turn a hang into a failure, they do not measure anything.
START_LIMIT_S = 900
STEP_LIMIT_S = 300


def camera_image(path: Path) -> np.ndarray:
    """A ``HEIGHTxWIDTHx3 uint8 RGB`` still written to ``path`` (PNG): smooth gradients, colour patches and
    sharp edges, so chroma subsampling shows but a wrong layout or channel order would be unmistakable."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    image = np.stack([x * 255 // (WIDTH - 1), y * 255 // (HEIGHT - 1), (x + y) * 255 // (WIDTH + HEIGHT - 2)], -1)
    image = image.astype(np.uint8)
    image[40:100, 40:120] = (230, 40, 40)
    image[140:200, 180:280] = (40, 60, 220)
    image[20:60, 220:300] = (250, 250, 250)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return image


def config_text(camera: Path, *, fmt: str = "yuyv", on_demand: bool = False, grace_s: float = 3.0,
                width: int = WIDTH, height: int = HEIGHT) -> str:
    """A light config: the still as the camera, the person and the background unchanged (``original``),
    so the pipeline's output is the camera picture and the check is about the device path."""
    return (f"camera:\n  device: {camera}\n  fps: {FPS}\n"
            f"output:\n  backend: v4l2loopback\n  device: {DEVICE}\n  format: {fmt}\n"
            f"  width: {width}\n  height: {height}\n  fps: {FPS}\n"
            f"  on_demand: {'true' if on_demand else 'false'}\n  on_demand_grace_s: {grace_s}\n"
            "segmentation:\n  smoothing: 0.0\nperson:\n  effect: original\nbackground:\n  effect: original\n"
            "threads: 1\ndevice: cpu\n")


def wait_for(predicate: Callable[[], bool], what: str, limit_s: float = STEP_LIMIT_S) -> None:
    end = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.2)


class VmDaemon:
    """The real daemon, started and stopped with the ``vcamstyle`` CLI (pidfile mode: no systemd in the guest)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = dict(os.environ)
        for var, sub in (("HOME", "home"), ("XDG_CONFIG_HOME", "config"), ("XDG_RUNTIME_DIR", "run"),
                         ("XDG_STATE_HOME", "state"), ("XDG_DATA_HOME", "data")):
            (root / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
            self.env[var] = str(root / sub)
        self.env["VCAMSTYLE_NO_SYSTEMD"] = "1"
        self.env.pop("NOTIFY_SOCKET", None)
        self.config = root / "config.yaml"
        self.log_path = root / "state" / "vcamstyle" / "vcamstyle.log"
        self.running_config: str | None = None

    def ensure(self, text: str) -> None:
        """Have the daemon running with config ``text`` (restarting it only when it runs another one)."""
        if self.running_config == text and self.status() is not None:
            return
        if self.running_config is not None:
            self.stop()
        self.start_ok(text)

    def cli(self, *args: str, limit_s: float = START_LIMIT_S) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "vcamstyle", *args], env=self.env, capture_output=True,
                              text=True, timeout=limit_s)

    def start(self, text: str) -> subprocess.CompletedProcess[str]:
        self.config.write_text(text)
        return self.cli("start", "--config", str(self.config), "--timeout", str(START_LIMIT_S))

    def start_ok(self, text: str) -> None:
        result = self.start(text)
        self.running_config = text if result.returncode == 0 else None
        assert result.returncode == 0, f"start failed:\n{result.stdout}\n{result.stderr}\n{self.log()[-3000:]}"

    def stop(self) -> None:
        result = self.cli("stop", "--timeout", "60")
        self.running_config = None
        assert result.returncode == 0, result.stdout + result.stderr

    def status(self) -> dict | None:
        try:
            return json.loads((Path(self.env["XDG_RUNTIME_DIR"]) / "vcamstyle" / "status.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def state(self) -> str | None:
        data = self.status()
        return data.get("state") if data else None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


# --- consumers -------------------------------------------------------------------------------------------


def device_info() -> str:
    return subprocess.run(["v4l2-ctl", "-d", DEVICE, "--info"], capture_output=True, text=True, timeout=60).stdout


def device_caps() -> int:
    match = re.search(r"Device Caps\s*:\s*(0x[0-9a-fA-F]+)", device_info())
    assert match, device_info()
    return int(match.group(1), 16)


def capture_format() -> dict[str, str]:
    """``v4l2-ctl --get-fmt-video`` as a dict (Width/Height, Pixel Format, Size Image, ...)."""
    out = subprocess.run(["v4l2-ctl", "-d", DEVICE, "--get-fmt-video"], capture_output=True, text=True,
                         timeout=60).stdout
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out.splitlines() if ":" in line)}


def v4l2_frames(count: int, target: Path) -> bytes:
    """``count`` frames read by ``v4l2-ctl --stream-mmap`` (the raw bytes, frames back to back)."""
    result = subprocess.run(["v4l2-ctl", "-d", DEVICE, "--stream-mmap", "--stream-count", str(count),
                             "--stream-to", str(target)], capture_output=True, text=True, timeout=STEP_LIMIT_S)
    assert result.returncode == 0, result.stdout + result.stderr
    return target.read_bytes()


def ffmpeg_frames(count: int, target: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """ffmpeg ``-f v4l2`` reading ``count`` frames, written as raw RGB24 to ``target``."""
    return subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "v4l2", *extra,
                           "-i", DEVICE, "-frames:v", str(count), "-f", "rawvideo", "-pix_fmt", "rgb24", "-y",
                           str(target)], capture_output=True, text=True, timeout=STEP_LIMIT_S)


class HeldConsumer:
    """A ``v4l2-ctl`` that keeps streaming from the device into a file until closed."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.process = subprocess.Popen(["v4l2-ctl", "-d", DEVICE, "--stream-mmap", "--stream-count", "100000000",
                                         "--stream-to", str(target)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)

    def size(self) -> int:
        try:
            return self.target.stat().st_size
        except FileNotFoundError:
            return 0

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def write_only_producer(frames: int = 5) -> None:
    """ffmpeg writing to the device with plain write() and no STREAMON/STREAMOFF (leaves 0.12.7 stuck)."""
    result = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi", "-i",
                             f"testsrc=size={WIDTH}x{HEIGHT}:rate={FPS}", "-frames:v", str(frames), "-pix_fmt",
                             "yuyv422", "-f", "v4l2", DEVICE], capture_output=True, text=True, timeout=STEP_LIMIT_S)
    assert result.returncode == 0, result.stderr


# --- comparisons -----------------------------------------------------------------------------------------


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def yuyv_to_rgb(raw: bytes, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    return cv2.cvtColor(np.frombuffer(raw, np.uint8).reshape(height, width, 2), cv2.COLOR_YUV2RGB_YUYV)


def i420_to_rgb(raw: bytes, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    return cv2.cvtColor(np.frombuffer(raw, np.uint8).reshape(height * 3 // 2, width), cv2.COLOR_YUV2RGB_I420)
