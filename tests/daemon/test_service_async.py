"""The daemon with the style network on its own thread (``style.schedule: async``, the CPU's default):
status shows the network's rate, a live reload swaps the worker, shutdown stops its thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from vcamstyle.daemon import threads
from vcamstyle.daemon.service import Service


def _style_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "vcamstyle-style" and t.is_alive()]


@pytest.fixture
def config_file(tmp_path: Path, make_video, isolated_xdg) -> Path:
    video = make_video(tmp_path / "camera.mp4", frames=20, size=(160, 96))
    path = tmp_path / "config.yaml"
    path.write_text(f"camera:\n  device: {video}\noutput:\n  backend: none\ndevice: cpu\n"
                    "style:\n  size: 64\n  schedule: auto\n")
    return path


def test_async_daemon_reports_the_network_rate_and_stops_its_thread(config_file: Path) -> None:
    seen: dict = {}

    def look(service: Service) -> None:
        if service.frames == 6:
            seen.update(service.status())
            seen["alive"] = len(_style_threads())

    before = len(_style_threads())
    service = Service(config_file, max_frames=8, publish=False, on_frame=look)
    assert service.run() == 0
    assert service.pipeline.worker is not None  # auto on the CPU: async
    assert seen["alive"] == before + 1 and isinstance(seen["network_fps"], float)
    assert "network" in seen["stage_ms"] and "network_age" in seen["stage_ms"]
    assert len(_style_threads()) == before  # the shutdown joined it
    assert not service.pipeline.worker.alive


def test_every_frame_schedule_has_no_worker_and_no_network_rate(config_file: Path) -> None:
    config_file.write_text(config_file.read_text().replace("schedule: auto", "schedule: every_frame"))
    service = Service(config_file, max_frames=3, publish=False)
    assert service.run() == 0
    assert service.pipeline.worker is None and service.status()["network_fps"] is None


def test_a_reload_swaps_the_worker_and_stops_the_old_one(config_file: Path) -> None:
    service = Service(config_file, publish=False)
    service.start()
    service.watcher.stop()  # the test drives the reload itself
    try:
        frame = service._next_frame()[0]
        service.pipeline.process(frame)
        old = service.pipeline
        config_file.write_text(config_file.read_text().replace("size: 64", "size: 96"))
        service._reload()
        service._apply_pending()
        assert service.pipeline is not old and service.pipeline.worker is not old.worker
        old.worker.stop()  # (the reload only signalled it; joining here makes the check deterministic)
        assert not old.worker.alive
        service.pipeline.process(frame)  # the new worker paints the first frame after the swap itself
        assert service.pipeline.worker.runs >= 1 and service.pipeline.worker.latest() is not None
    finally:
        service.shutdown()
    assert not service.pipeline.worker.alive


def test_threads_auto_keeps_a_core_for_the_frame_loop_when_async() -> None:
    assert threads.thread_counts("auto", cores=2, reserve=1) == [1]
    assert threads.thread_counts("auto", cores=6, reserve=1) == [1, 2, 4, 5]
    assert threads.thread_counts("auto", cores=1, reserve=1) == [1]
    assert threads.thread_counts(2, cores=2, reserve=1) == [2]  # a number is the user's choice
