"""The daemon in-process on the simulated device layer: idle (camera released, no network, placeholder
frames) while no app holds the virtual camera, streaming once one opens it, idle again after the grace
period; file and none sinks never idle."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from vcamstyle.daemon.service import Service
from vcamstyle.devices import v4l2
from vcamstyle.devices.v4l2_sim import SimulatedDeviceIO, SimulatedNode
from vcamstyle.pipeline.core import Pipeline

NODE = "/dev/video10"
APP_PID = 4242


def wait_for(predicate, what: str, limit_s: float = 60.0) -> None:
    """Poll until ``predicate()``; the limit only turns a hang into a failure message."""
    end = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


@pytest.fixture
def sim_io(monkeypatch) -> SimulatedDeviceIO:
    io = SimulatedDeviceIO({NODE: SimulatedNode()})
    monkeypatch.setattr(v4l2, "default_io", lambda: io)
    return io


def write_config(tmp_path: Path, make_video, output: str) -> Path:
    video = make_video(tmp_path / "camera.mp4", frames=20, size=(160, 96))
    path = tmp_path / "config.yaml"
    path.write_text(f"camera:\n  device: {video}\noutput:\n{output}person:\n  effect: original\n"
                    "background:\n  effect: color\ndevice: cpu\n")
    return path


@pytest.fixture
def running(tmp_path, make_video, isolated_xdg, sim_io, monkeypatch):
    processed: list[float] = []
    real = Pipeline.process

    def counting(self, frame):
        processed.append(time.monotonic())
        return real(self, frame)
    monkeypatch.setattr(Pipeline, "process", counting)

    def start(output: str) -> Service:
        service = Service(write_config(tmp_path, make_video, output), publish=False)

        def run() -> None:  # Service.run without the signal handlers (those need the main thread)
            try:
                service.start()
                service.phase = "running"
                service.loop()
            finally:
                service.shutdown()
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        started.append((service, thread))
        return service
    started: list[tuple[Service, threading.Thread]] = []
    yield start, processed
    for service, thread in started:
        service.stop_event.set()
        thread.join(10)
        assert not thread.is_alive()


def test_idle_wake_idle_on_the_simulated_loopback(running, sim_io):
    start, processed = running
    service = start(f"  backend: v4l2loopback\n  device: {NODE}\n  on_demand_grace_s: 0.5\n")
    node = sim_io.nodes[NODE]

    wait_for(lambda: service.status()["state"] == "idle" and service.source is None, "idle with nobody watching")
    assert service.source is None  # the camera is released
    assert service.status()["consumers"] == 0
    assert service._status_line().startswith("idle:")  # what sd_notify STATUS says
    frames_before = len(node.frames)
    processed.clear()
    wait_for(lambda: len(node.frames) >= frames_before + 2, "placeholder frames while idle")
    assert processed == []  # no network while idle
    assert node.streaming  # the device stays announced

    sim_io.consumer_open(NODE, APP_PID)
    wait_for(lambda: len(processed) >= 3, "stylized frames after an app opened the device")
    assert service.status()["state"] == "streaming" and service.source is not None
    status = service.status()
    assert status["consumers"] == 1 and status["consumer_apps"] == [f"consumer-{APP_PID} (pid {APP_PID})"]
    assert service._status_line().startswith("streaming:")

    sim_io.consumer_close(NODE, APP_PID)
    wait_for(lambda: service.status()["state"] == "idle" and service.source is None, "idle again after the grace period")
    assert service.source is None

    sim_io.consumer_open(NODE, APP_PID)  # and it wakes again
    count = len(processed)
    wait_for(lambda: len(processed) > count + 2, "streaming again")
    sim_io.consumer_close(NODE, APP_PID)


def test_on_demand_off_streams_with_nobody_watching(running, sim_io):
    start, processed = running
    service = start(f"  backend: v4l2loopback\n  device: {NODE}\n  on_demand: false\n")
    wait_for(lambda: len(processed) >= 5, "frames without any consumer")
    assert service.status()["state"] == "streaming" and service.status()["consumers"] is None


def test_none_sink_has_no_on_demand(running):
    start, processed = running
    service = start("  backend: none\n")
    wait_for(lambda: len(processed) >= 5, "frames to the none sink")
    assert service.status()["state"] == "streaming" and service.status()["consumers"] is None
