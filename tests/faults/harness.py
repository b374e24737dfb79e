"""The real daemon as a subprocess under faults: a video file as the camera, no sink (or a file sink
where the fault is about the output), a symlinked config as dotfile managers make, and helpers that
save the config the ways editors do, read status.json, and count the daemon's fds and threads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
FPS = 30

GOOD = """\
camera:
  device: {camera}
  fps: 30
output:
  backend: none
segmentation:
  smoothing: 0.0
person:
  effect: original
background:
  effect: color
  color: "{color}"
device: cpu
threads: 1
"""


def write_video(path: Path, size: tuple[int, int], frames: int = 30) -> Path:
    """A short mp4 (``size`` = width, height) with a moving bar: enough for the segmenter to run on."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, size)
    for i in range(frames):
        canvas = np.full((size[1], size[0], 3), 90, np.uint8)
        x = (i * 7) % max(1, size[0] - 20)
        canvas[:, x:x + 20] = (200, 160, 120)
        writer.write(canvas)
    writer.release()
    return path


@dataclass(frozen=True)
class Resources:
    fds: int
    threads: int


class FaultDaemon:
    """``vcamstyle run`` with its config at ``config`` (a symlink into ``dotfiles/``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1", VCAMSTYLE_NO_SYSTEMD="1")
        for var, sub in (("HOME", "home"), ("XDG_CONFIG_HOME", "config"), ("XDG_RUNTIME_DIR", "run"),
                         ("XDG_STATE_HOME", "state"), ("XDG_DATA_HOME", "data")):
            (root / sub).mkdir(mode=0o700, exist_ok=True)
            self.env[var] = str(root / sub)
        self.env.pop("NOTIFY_SOCKET", None)
        self.dotfiles = root / "dotfiles"
        self.dotfiles.mkdir(exist_ok=True)
        self.target = self.dotfiles / "config.yaml"
        self.config = root / "config" / "vcamstyle" / "config.yaml"
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.camera = write_video(root / "camera.mp4", (160, 96))
        self.camera_wide = write_video(root / "camera_wide.mp4", (192, 96))
        self.log = root / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._colors = iter(f"#{(i * 37) % 256:02x}{(i * 91) % 256:02x}{(200 + i) % 256:02x}" for i in range(1, 10_000))
        self.color = "#ff0000"
        self.camera_in_use = self.camera

    # ------------------------------------------------------------------ config text and saving
    def good_text(self, color: str | None = None, camera: Path | None = None) -> str:
        return GOOD.format(camera=camera or self.camera_in_use, color=color or self.color)

    def next_color(self) -> str:
        return next(self._colors)

    def save(self, text: str, style: str = "rename", path: Path | None = None) -> None:
        """Save ``text`` to the link's target as an editor would: ``rename`` (write a temp file, rename
        it over), ``inplace`` (overwrite the bytes, then cut the rest), ``truncate`` (empty the file,
        then write it in two parts), ``vim`` (move the old file to a backup, write a new one, delete
        the backup)."""
        target = path or self.target
        data = text.encode()
        if style == "rename":
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
        elif style == "inplace":
            with open(target, "r+b") as handle:
                handle.write(data)
                handle.truncate()
        elif style == "truncate":
            with open(target, "wb") as handle:
                handle.flush()
                time.sleep(0.15)  # longer than the watcher's debounce: the daemon sees the empty file
                half = len(data) // 2
                handle.write(data[:half])
                handle.flush()
                time.sleep(0.15)  # and the half-written one
                handle.write(data[half:])
        elif style == "vim":
            backup = target.with_name(target.name + "~")
            os.replace(target, backup)
            target.write_bytes(data)
            backup.unlink()
        else:
            raise ValueError(style)

    # ------------------------------------------------------------------ process
    def start(self, *args: str) -> None:
        self.target.write_text(self.good_text())
        if not self.config.is_symlink():
            self.config.symlink_to(self.target)
        log = open(self.log, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "vcamstyle", "run", "--config", str(self.config),
                                         *args], env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root)
        log.close()
        self.wait_for(lambda: (self.status() or {}).get("ready") is True, timeout=120, what="ready")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    # ------------------------------------------------------------------ observation
    @property
    def status_path(self) -> Path:
        return Path(self.env["XDG_RUNTIME_DIR"]) / "vcamstyle" / "status.json"

    def status(self) -> dict | None:
        try:
            data = json.loads(self.status_path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def frames(self) -> int:
        return int((self.status() or {}).get("frames") or 0)

    def resources(self) -> Resources:
        assert self.process is not None
        pid = self.process.pid
        return Resources(len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task")))

    def wait_for(self, predicate: Callable[[], object], timeout: float, what: str) -> float:
        """Poll ``predicate`` until true; returns the seconds it took. Fails if the daemon exits."""
        start = time.monotonic()
        while True:
            if predicate():
                return time.monotonic() - start
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"daemon exited ({self.process.returncode}) waiting for {what}:\n"
                                     f"{self.log_text()[-4000:]}")
            if time.monotonic() - start > timeout:
                raise AssertionError(f"no {what} within {timeout:g} s; status: {self.status()}\n"
                                     f"{self.log_text()[-3000:]}")
            time.sleep(0.05)

    def frames_flow(self, count: int = 10, timeout: float = 10.0) -> None:
        """The frame counter (placeholder frames count) grows by ``count``."""
        before = self.frames()
        self.wait_for(lambda: self.frames() >= before + count, timeout, f"{count} more frames (from {before})")

    def applied(self, color: str) -> bool:
        data = self.status() or {}
        return data.get("background") == f"color {color}" and data.get("last_error") is None

    def save_good(self, style: str = "rename", camera: Path | None = None) -> float:
        """Save a good config with a new background colour; returns the seconds until status shows it applied."""
        self.color = self.next_color()
        if camera is not None:
            self.camera_in_use = camera
        self.save(self.good_text(), style)
        return self.wait_for(lambda: self.applied(self.color), timeout=20.0, what=f"colour {self.color} applied")

    def settle_resources(self, baseline: Resources, timeout: float = 10.0) -> Resources:
        """Wait until fds and threads are back at (or below) ``baseline``; returns what was counted."""
        seen: list[Resources] = []

        def back() -> bool:
            seen.append(self.resources())
            return seen[-1].fds <= baseline.fds and seen[-1].threads <= baseline.threads

        try:
            self.wait_for(back, timeout, f"fds/threads back to {baseline}")
        except AssertionError as exc:
            raise AssertionError(f"resources grew: {baseline} -> {seen[-1]}") from exc
        return seen[-1]
