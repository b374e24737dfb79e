"""The real daemon as a subprocess: video file as camera, PNG directory as the virtual camera."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from daemon_harness import FPS, SIZE, Daemon, corner_color

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def is_red(image: np.ndarray) -> bool:
    r, g, b = corner_color(image)
    return r > 200 and g < 60 and b < 60


def is_green(image: np.ndarray) -> bool:
    r, g, b = corner_color(image)
    return g > 200 and r < 60 and b < 60


def newest_image(d: Daemon) -> tuple[int, np.ndarray | None]:
    frames = d.frames()
    for path in reversed(frames[-3:]):
        image = d.read_frame(path)
        if image is not None:
            return int(path.stem.split("_")[1]), image
    return -1, None


def test_frames_arrive_with_the_camera_size_and_count(daemon: Daemon) -> None:
    daemon.start("--frames", "12")
    assert daemon.process.wait(timeout=120) == 0, daemon.output()
    frames = daemon.frames()
    assert len(frames) == 12
    image = daemon.read_frame(frames[-1])
    assert image.shape == (SIZE[1], SIZE[0], 3)
    assert is_red(image)  # background effect applied
    centre = image[SIZE[1] // 2 - 4:SIZE[1] // 2 + 4, SIZE[0] // 2 - 4:SIZE[0] // 2 + 4]
    assert not is_red(centre)  # the person stays the original


def test_live_reload_bad_yaml_and_sigterm(daemon: Daemon) -> None:
    daemon.start()
    daemon.wait_for(lambda: (daemon.status() or {}).get("ready") is True, what="ready")
    daemon.wait_for(lambda: len(daemon.frames()) >= 5, what="first frames")

    # 1. a colour change shows in the output within one second of video (FPS frames).
    edited_at_frame = len(daemon.frames())
    daemon.write_config(color="#00ff00")
    daemon.wait_for(lambda: (lambda f: f[1] is not None and is_green(f[1]))(newest_image(daemon)), timeout=30,
                    what="green background")
    first_green = next(i for i, path in enumerate(daemon.frames())
                       if (img := daemon.read_frame(path)) is not None and is_green(img))
    assert first_green - edited_at_frame <= FPS
    assert daemon.status()["last_error"] is None

    # 2. a broken YAML keeps the previous output and status shows the error with its key path.
    frames_before = len(daemon.frames())
    daemon.config.write_text(daemon.config.read_text().replace('color: "#00ff00"', "color: 12") + "background:\n  blurr: 3\n")
    daemon.wait_for(lambda: (daemon.status() or {}).get("last_error"), timeout=30, what="error in status")
    error = daemon.status()["last_error"]
    assert "config.yaml" in error
    daemon.wait_for(lambda: len(daemon.frames()) > frames_before + 10, what="more frames after the bad edit")
    assert is_green(newest_image(daemon)[1])
    assert daemon.process.poll() is None

    # 3. a good file clears the error.
    daemon.write_config(color="#ff0000")
    daemon.wait_for(lambda: is_red(newest_image(daemon)[1]) if newest_image(daemon)[1] is not None else False,
                    timeout=30, what="red again")
    daemon.wait_for(lambda: (daemon.status() or {}).get("last_error") is None, what="error cleared")

    # 4. SIGTERM stops it cleanly: exit 0, pidfile and status file removed.
    run_dir = daemon.config.parent / "run" / "vcamstyle"
    assert (run_dir / "vcamstyle.pid").exists()
    assert daemon.stop(signal.SIGTERM) == 0
    assert not (run_dir / "vcamstyle.pid").exists()
    assert not (run_dir / "status.json").exists()

    # 5. colour changes rebuilt only the effects: the camera was opened and the model loaded once.
    log = daemon.output()
    assert log.count("camera ") and log.count(" opened: ") == 1, log
    assert log.count("loading segmenter") == 1, log


def test_camera_file_vanishing_and_returning_is_survived(daemon: Daemon) -> None:
    daemon.start()
    daemon.wait_for(lambda: len(daemon.frames()) >= 5, what="first frames")
    hidden = daemon.camera.with_name("hidden.mp4")
    os.rename(daemon.camera, hidden)
    daemon.wait_for(lambda: (daemon.status() or {}).get("camera", {}).get("available") is False, timeout=30,
                    what="camera reported unavailable")
    count = len(daemon.frames())
    daemon.wait_for(lambda: len(daemon.frames()) > count + 5, what="placeholder frames keep coming")
    _, image = newest_image(daemon)
    assert image is not None and image.mean() < 60  # the dark placeholder, not a styled camera frame
    os.rename(hidden, daemon.camera)
    daemon.wait_for(lambda: (daemon.status() or {}).get("camera", {}).get("available") is True, timeout=30,
                    what="camera back")
    daemon.wait_for(lambda: (lambda f: f[1] is not None and is_red(f[1]))(newest_image(daemon)), timeout=30,
                    what="camera frames again")
    assert daemon.stop() == 0


def test_sigint_stops_too(daemon: Daemon) -> None:
    daemon.start()
    daemon.wait_for(lambda: len(daemon.frames()) >= 3, what="first frames")
    assert daemon.stop(signal.SIGINT) == 0


def vcamstyle(d: Daemon, *args: str, timeout: float = 120) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, "-m", "vcamstyle", *args], env=d.env, capture_output=True, text=True,
                          timeout=timeout)


def test_start_status_stop_through_the_cli(daemon: Daemon) -> None:
    config = ["--config", str(daemon.config)]
    assert vcamstyle(daemon, "status").returncode == 3

    started = vcamstyle(daemon, "start", *config)
    assert started.returncode == 0, started.stderr
    assert "running" in started.stdout
    try:
        status = vcamstyle(daemon, "status", "--json")
        assert status.returncode == 0
        info = json.loads(status.stdout.strip().splitlines()[-1])
        for key in ("pid", "uptime_s", "fps", "stage_ms", "config", "person", "background", "last_error"):
            assert key in info
        assert info["background"].startswith("color")
        assert info["config"] == str(daemon.config)
        run_dir = Path(daemon.env["XDG_RUNTIME_DIR"]) / "vcamstyle"
        assert oct((run_dir / "vcamstyle.pid").stat().st_mode & 0o777) == "0o600"
        assert oct(run_dir.stat().st_mode & 0o777) == "0o700"

        again = vcamstyle(daemon, "start", *config)
        assert again.returncode == 1
        assert "already running" in again.stderr
    finally:
        stopped = vcamstyle(daemon, "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert vcamstyle(daemon, "status").returncode == 3


def test_stale_pidfile_is_cleaned_up(daemon: Daemon) -> None:
    run_dir = Path(daemon.env["XDG_RUNTIME_DIR"]) / "vcamstyle"
    run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run_dir / "vcamstyle.pid").write_text(f"{dead.pid}\n")
    assert vcamstyle(daemon, "status").returncode == 3
    started = vcamstyle(daemon, "start", "--config", str(daemon.config))
    assert started.returncode == 0, started.stderr
    assert vcamstyle(daemon, "stop").returncode == 0


def test_sd_notify_ready_and_stopping(daemon: Daemon, tmp_path: Path) -> None:
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(60)
    daemon.env["NOTIFY_SOCKET"] = str(sock_path)
    try:
        daemon.start()
        messages: list[str] = []
        while not any("READY=1" in m for m in messages):
            messages.append(sock.recv(4096).decode())
        assert daemon.stop() == 0
        sock.settimeout(5)
        while not any("STOPPING=1" in m for m in messages):
            messages.append(sock.recv(4096).decode())
        assert any(m.startswith("STATUS=") or "\nSTATUS=" in m for m in messages)
    finally:
        sock.close()


def test_a_missing_style_image_at_reload_keeps_the_last_good_state(daemon: Daemon) -> None:
    daemon.start()
    daemon.wait_for(lambda: (daemon.status() or {}).get("ready") is True, what="ready")
    text = daemon.config.read_text().replace("effect: color", "effect: style\n  style: nowhere/missing.png")
    daemon.config.write_text(text)
    daemon.wait_for(lambda: "missing.png" in ((daemon.status() or {}).get("last_error") or ""), timeout=30,
                    what="style image error in status")
    count = len(daemon.frames())
    daemon.wait_for(lambda: len(daemon.frames()) > count + 5, what="frames keep flowing")
    assert is_red(newest_image(daemon)[1])
    assert daemon.stop() == 0


def test_live_reload_of_style_strength_and_effect(daemon: Daemon) -> None:
    daemon.start()
    daemon.wait_for(lambda: (daemon.status() or {}).get("ready") is True, what="ready")
    daemon.wait_for(lambda: is_red(newest_image(daemon)[1]) if newest_image(daemon)[1] is not None else False,
                    what="red background")

    # region effect color -> style (the offline default stylizer loads in the background)
    text = daemon.config.read_text().replace('effect: color\n  color: "#ff0000"',
                                             "effect: style\n  style: styles/waves.png\n  strength: 1.0")
    daemon.config.write_text(text)
    daemon.wait_for(lambda: (daemon.status() or {}).get("background", "").startswith("style waves.png"), timeout=60,
                    what="background style in status")
    daemon.wait_for(lambda: (lambda f: f[1] is not None and not is_red(f[1]))(newest_image(daemon)), timeout=30,
                    what="styled background in the output")
    assert daemon.status()["last_error"] is None

    # another style image and another person effect/strength
    text = daemon.config.read_text().replace("styles/waves.png", "styles/neon.png").replace(
        "person:\n  effect: original", "person:\n  effect: style\n  style: styles/mosaic.png\n  strength: 0.4")
    daemon.config.write_text(text)
    daemon.wait_for(lambda: (daemon.status() or {}).get("person", "").startswith("style mosaic.png"), timeout=60,
                    what="person style in status")
    status = daemon.status()
    assert status["background"].startswith("style neon.png")
    assert "0.4" in status["person"]
    assert status["last_error"] is None
    assert daemon.stop() == 0


def test_output_fps_below_the_camera_rate_drops_frames_evenly(daemon: Daemon) -> None:
    daemon.write_config(extra="")
    text = daemon.config.read_text().replace("output:\n", "output:\n  fps: 10\n")
    daemon.config.write_text(text)
    # camera frame i carries its index in the top-left block's brightness
    import cv2
    writer = cv2.VideoWriter(str(daemon.camera), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    for i in range(60):
        frame = np.full((SIZE[1], SIZE[0], 3), 0, np.uint8)
        frame[:32, :32] = i * 4
        writer.write(frame)
    writer.release()
    text = daemon.config.read_text().replace("effect: color", "effect: original")
    daemon.config.write_text(text)
    daemon.start("--frames", "12")
    assert daemon.process.wait(timeout=120) == 0, daemon.output()
    indices = [int(round(daemon.read_frame(p)[8:24, 8:24].mean() / 4)) for p in daemon.frames()]
    steps = np.diff(indices) % 60
    assert np.median(steps) >= 2  # about 3 camera frames per output frame at 30 -> 10 fps
