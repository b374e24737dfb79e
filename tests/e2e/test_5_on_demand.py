"""On demand against the real driver: idle while nobody watches (camera released, device still listed),
a brief probe wakes nothing, a consumer wakes it with real frames, idle again after the grace period.
The guest is emulated: only the order of events is checked, never their timing."""

from __future__ import annotations

import subprocess

import numpy as np
from vm import (
    DEVICE,
    EXCLUSIVE_CAPS,
    HEIGHT,
    WIDTH,
    HeldConsumer,
    config_text,
    device_info,
    psnr,
    wait_for,
    yuyv_to_rgb,
)

FRAME = WIDTH * HEIGHT * 2
IDLE = "idle: no app has the virtual camera open; camera released"
WAKE = "on demand: waking up"
SLEEP = "on demand: going idle"


def positions(log: str, line: str) -> list[int]:
    found, start = [], 0
    while (at := log.find(line, start)) >= 0:
        found.append(at)
        start = at + 1
    return found


def test_idle_wake_idle(vm_daemon, still, tmp_path):
    path, image = still
    vm_daemon.ensure(config_text(path, on_demand=True, grace_s=3.0))  # started by test_4 (after the repair)
    wait_for(lambda: vm_daemon.state() == "idle", "idle with nobody watching")
    status = vm_daemon.status()
    assert status["consumers"] == 0 and status["camera"]["available"] is False
    if EXCLUSIVE_CAPS:
        assert "Video Capture" in device_info()  # still listed for apps while idle

    # a probe like Chrome's device listing (open, QUERYCAP, close): under emulation it may last longer than
    # the 0.2 s settle time, so whether it wakes the daemon is timing (the unit tests check that); here it
    # only must not break the order of events below
    subprocess.run(["v4l2-ctl", "-d", DEVICE, "--info"], capture_output=True, timeout=120, check=True)
    frames_before = vm_daemon.status()["frames"]

    consumer = HeldConsumer(tmp_path / "held.raw")
    try:
        wait_for(lambda: vm_daemon.state() == "streaming", "streaming once a consumer opened the device")
        wait_for(lambda: (vm_daemon.status() or {}).get("frames", 0) > frames_before + 2, "processed frames")
        status = vm_daemon.status()
        assert status["consumers"] >= 1 and any("v4l2-ctl" in app for app in status["consumer_apps"])
        size = consumer.size()
        wait_for(lambda: consumer.size() >= size + 2 * FRAME, "real frames for the consumer")
        data = (tmp_path / "held.raw").read_bytes()
        last = data[(len(data) // FRAME - 1) * FRAME:][:FRAME]
        assert psnr(yuyv_to_rgb(last), image) >= 40.0  # the camera picture, not the placeholder
    finally:
        consumer.close()
    wait_for(lambda: vm_daemon.state() == "idle", "idle again after the grace period")

    log = vm_daemon.log()[max(0, vm_daemon.log().rfind("vcamstyle is running")):]
    idles, wakes, sleeps = positions(log, IDLE), positions(log, WAKE), positions(log, SLEEP)
    assert wakes and sleeps, log[-3000:]
    assert idles[0] < wakes[0] < sleeps[-1] < idles[-1], log[-3000:]  # idle -> wake -> idle, in that order
    assert max(wakes[-1], sleeps[-1]) == sleeps[-1]  # it ended asleep
    assert "Traceback" not in log


def test_placeholder_is_not_the_camera_picture(still):
    from vcamstyle.devices import placeholder_frame
    _, image = still
    assert psnr(placeholder_frame(WIDTH, HEIGHT, "starting the camera"), image) < 20.0
    assert np.asarray(image).std() > 30  # the still has enough contrast for the checks above to mean something
