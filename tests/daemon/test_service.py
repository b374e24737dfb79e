"""The daemon loop in-process (file camera, null sink): failures on one frame never end the video."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from vcamstyle.daemon.service import Service, output_geometry
from vcamstyle.pipeline.core import Pipeline


@pytest.fixture
def config_file(tmp_path: Path, make_video, isolated_xdg) -> Path:
    video = make_video(tmp_path / "camera.mp4", frames=20, size=(160, 96))
    path = tmp_path / "config.yaml"
    path.write_text(f"camera:\n  device: {video}\noutput:\n  backend: none\nperson:\n  effect: original\n"
                    "background:\n  effect: color\ndevice: cpu\n")
    return path


def _opencv_error(message: str) -> Exception:
    import cv2

    return cv2.error(message)


@pytest.mark.parametrize("make_error", [RuntimeError, _opencv_error], ids=["model-error", "opencv-error"])
def test_a_frame_the_pipeline_cannot_process_goes_out_unprocessed(config_file: Path, monkeypatch, make_error) -> None:
    """One bad frame never ends the video, whatever it raises (OpenCV's cv2.error is not a RuntimeError)."""
    real = Pipeline.process
    calls = {"n": 0}

    def flaky(self: Pipeline, frame: np.ndarray):
        calls["n"] += 1
        if calls["n"] == 2:
            raise make_error("simulated model failure")
        return real(self, frame)

    monkeypatch.setattr(Pipeline, "process", flaky)
    service = Service(config_file, max_frames=5, publish=False)
    assert service.run() == 0
    assert service.frames == 5
    assert service.sink is None or service.sink.frames_sent == 5
    assert "simulated model failure" in service.last_error


def test_output_geometry_prefers_configured_values() -> None:
    from vcamstyle.config import override, parse_config

    config = parse_config("", Path("config.yaml"))
    assert output_geometry(config, (640, 480, 15.0)) == (640, 480, 15.0)
    config = override(config, {"output.width": 320, "output.height": 180, "output.fps": 10})
    assert output_geometry(config, (640, 480, 15.0)) == (320, 180, 10.0)


def test_threads_setting_reaches_torch_and_status(config_file: Path, monkeypatch) -> None:
    import torch

    from vcamstyle.daemon import threads

    applied: list[int] = []
    monkeypatch.setattr(threads, "set_network_threads", applied.append)
    before = torch.get_num_threads()
    config_file.write_text(config_file.read_text() + "threads: 1\n")
    fixed = Service(config_file, max_frames=3, publish=False)
    assert fixed.run() == 0
    assert fixed.threads is not None and fixed.threads.counts == [1]
    assert fixed.status()["threads"] == 1 and applied == [1, before]  # set, then restored at shutdown

    config_file.write_text(config_file.read_text().replace("threads: 1\n", "threads: auto\n"))
    auto = Service(config_file, max_frames=3, publish=False)
    assert auto.run() == 0
    assert auto.threads is not None and auto.threads.counts == threads.thread_counts("auto")
    assert max(auto.threads.counts) in applied  # started with the most threads
    assert applied[-1] == before  # shutdown restored the count torch had before
    assert torch.get_num_threads() == before


def test_a_status_file_that_cannot_be_written_is_logged_and_survived(config_file: Path, monkeypatch,
                                                                      caplog) -> None:
    """Issue 10, fault 10: ENOSPC from the status write used to end the frame loop."""
    import errno

    from vcamstyle.daemon import statusfile

    def full(data, path=None):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(statusfile, "write_status", full)
    # One report per WRITE_FAILURE_LOG_S: make that window outlast the run however slow the machine is.
    monkeypatch.setattr("vcamstyle.daemon.service.WRITE_FAILURE_LOG_S", 1e9)
    service = Service(config_file, max_frames=20, publish=True)
    with caplog.at_level("ERROR", logger="vcamstyle.daemon.service"):
        assert service.run() == 0
    assert service.frames == 20
    assert "No space left on device" in service.last_error
    assert caplog.text.count("cannot write the status file") == 1  # reported, not once per frame


def _swap_camera_at(frame: int, config_file: Path, old: Path, new: Path, frames_after: int,
                    each: Callable[[Service, dict], None] | None = None) -> tuple[Callable[[Service], None], dict]:
    """An ``on_frame`` that, after output frame ``frame``, points the config at camera ``new`` and reloads
    at once, then stops ``frames_after`` frames later; ``each(service, swapped)`` runs first every frame.
    Returns it and ``swapped`` (``at``: the frame count at the swap)."""
    swapped: dict[str, int | None] = {"at": None, "first_seq": None}

    def on_frame(s: Service) -> None:
        if each is not None:
            each(s, swapped)
        if s.frames == frame and swapped["at"] is None:
            if s.watcher is not None:  # this reload is the test's: the watcher's own of the same edit would race it
                s.watcher.stop()
            config_file.write_text(config_file.read_text().replace(str(old), str(new)))
            s._reload()
            swapped["at"] = s.frames
        if swapped["at"] is not None and s.frames >= swapped["at"] + frames_after:
            s.stop_event.set()

    return on_frame, swapped


def test_a_camera_swap_restarts_the_frame_counter(config_file: Path, make_video, tmp_path: Path) -> None:
    """Issue 10, fault 1: after a camera change the loop waited for the new camera's counter to pass
    the old one's. A reload that opens another camera must deliver its frames at once."""
    from vcamstyle.config import load_config

    service = Service(config_file, max_frames=200, publish=False)
    other = make_video(tmp_path / "other.mp4", frames=20, size=(192, 96))

    def first_seq(s: Service, swapped: dict) -> None:
        if swapped["at"] is not None and swapped["first_seq"] is None:
            swapped["first_seq"] = s._last_seq  # the sequence number of the first frame after the swap

    on_frame, swapped = _swap_camera_at(40, config_file, tmp_path / "camera.mp4", other, 10, first_seq)
    service.on_frame = on_frame
    assert service.run() == 0
    assert swapped["at"] == 40
    assert service.reloads_applied == 1
    assert swapped["first_seq"] is not None and swapped["first_seq"] <= 5  # the new camera's own first frames
    assert service.source is None or service.source.settings.device == str(other)  # closed at shutdown
    assert load_config(config_file).camera.device == str(other)
    assert service.frames >= 50


def test_auto_style_size_follows_frame_times_and_shows_in_status(config_file: Path, monkeypatch) -> None:
    """``style.size: auto`` (the default): slow frames make the pipeline run at a smaller size, and
    ``status`` shows it; a fixed size has no controller. Frame times are injected."""
    from vcamstyle.daemon import service as service_module

    # every frame: the frame time decides (async, the CPU's default, goes by the network's own time:
    # test_daemon_style_size)
    config_file.write_text(config_file.read_text().replace("person:\n  effect: original\n", "person:\n  effect: style\n")
                           + "style:\n  schedule: every_frame\n")
    clock = {"t": 0.0}

    def fake_perf_counter() -> float:  # every call advances 40 ms: each frame "takes" 40 ms at any size
        clock["t"] += 0.040
        return clock["t"]

    monkeypatch.setattr(service_module.time, "perf_counter", fake_perf_counter)
    service = Service(config_file, max_frames=70, publish=False)
    assert service.run() == 0
    controller = service.style_size.controller
    assert controller is not None
    status = service.status()
    assert status["style_size_auto"] is True and status["style_size"] == controller.size
    assert controller.size < 256 and service.pipeline.settings.style_size == controller.size

    config_file.write_text(config_file.read_text().replace("style:\n", "style:\n  size: 200\n"))
    fixed = Service(config_file, max_frames=3, publish=False)
    assert fixed.run() == 0
    assert fixed.style_size.controller is None and fixed.status()["style_size"] == 200 and not fixed.status()["style_size_auto"]


def test_status_names_the_segmenter_that_auto_chose(config_file: Path) -> None:
    """``segmentation.model: auto`` (the default) shows the model in use, not the word auto."""
    service = Service(config_file, max_frames=2, publish=False)
    assert service.run() == 0
    assert service.scene is not None and service.scene.config.segmentation.model == "auto"
    assert service.status()["segmentation"] == "selfie_landscape (auto)"  # a wide output: the 16:9 model


def test_no_segmenter_until_a_reload_needs_the_mask(config_file: Path, caplog) -> None:
    """Both regions ``original``: no segmentation model is loaded and status says so; a reload to a
    background blur builds it in the reload thread and status names it."""
    import logging

    plain = config_file.read_text().replace("effect: color", "effect: original")
    config_file.write_text(plain)
    service = Service(config_file, publish=False)
    with caplog.at_level(logging.INFO, logger="vcamstyle.pipeline"):
        service.start()
    service.watcher.stop()  # the test drives the reload itself; the watcher's own would race it (another thread)
    try:
        assert service.scene is not None and service.scene.segmenter is None and service.pipeline.segmenter is None
        assert service.status()["segmentation"] == "none (not needed)"
        assert not any("loading segmenter" in r.getMessage() for r in caplog.records)

        config_file.write_text(plain.replace("background:\n  effect: original", "background:\n  effect: blur"))
        with caplog.at_level(logging.INFO, logger="vcamstyle.pipeline"):
            service._reload()
        assert service._pending is not None and service._pending.stages == frozenset({"effects"})
        assert service.status()["segmentation"] == "none (not needed)"  # not swapped in yet
        service._apply_pending()
        assert any("loading segmenter selfie_landscape" in r.getMessage() for r in caplog.records)
        assert service.pipeline.segmenter is service.scene.segmenter is not None and service.pipeline.uses_mask
        assert service.status()["segmentation"] == "selfie_landscape (auto)"  # 160x96: the 16:9 model
    finally:
        service.shutdown()


def test_a_config_saved_while_the_daemon_starts_is_reloaded(config_file: Path, monkeypatch) -> None:
    """The models load for a while after the file is read: a save in that time must not be lost (the
    watcher's first look at the file comes after the load)."""
    real = Service._build_scene
    edited = {"done": False}

    def build_then_save(self: Service, config, size):
        scene = real(self, config, size)
        if not edited["done"]:
            edited["done"] = True
            config_file.write_text(config_file.read_text().replace("effect: color", "effect: blur"))
        return scene

    monkeypatch.setattr(Service, "_build_scene", build_then_save)
    service = Service(config_file, max_frames=300, publish=False,
                      on_frame=lambda s: s.stop_event.set() if s.reloads_applied else None)
    assert service.run() == 0
    assert service.reloads_applied == 1
    assert service.scene.config.background.effect == "blur"


def test_a_camera_swap_restarts_the_content_vector(config_file: Path, make_video, tmp_path: Path, monkeypatch) -> None:
    """The Magenta content vector (predicted every 30 styled frames) comes from the new camera's first
    frame after a reload that opens another camera, not from the old camera's for up to a second."""
    from vcamstyle.models.magenta import stylizer as magenta

    styled = tmp_path / "style.png"
    import cv2

    cv2.imwrite(str(styled), np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    config_file.write_text(config_file.read_text().replace(
        "person:\n  effect: original\nbackground:\n  effect: color\n",
        f"person:\n  effect: style\n  style: {styled}\n  strength: 0.5\n"
        f"background:\n  effect: style\n  style: {styled}\n  strength: 0.5\nstyle:\n  size: 64\n"))
    predicted_at: list[int] = []
    real = magenta.MagentaStylizer._content_vector

    def recording(self, content):
        calls_before = self._calls_since_content_code
        vector = real(self, content)
        if self._calls_since_content_code == 0 and (calls_before or self._content_latest is not None):
            predicted_at.append(service.frames)
        return vector

    monkeypatch.setattr(magenta.MagentaStylizer, "_content_vector", recording)
    other = make_video(tmp_path / "other.mp4", frames=20, size=(192, 96))
    service = Service(config_file, max_frames=300, publish=False)
    on_frame, _ = _swap_camera_at(40, config_file, tmp_path / "camera.mp4", other, 5)
    service.on_frame = on_frame
    assert service.run() == 0
    assert service.reloads_applied >= 1
    assert any(40 <= frame <= 42 for frame in predicted_at), predicted_at


def test_the_networks_sessions_are_made_for_the_configured_thread_count(config_file: Path, tmp_path: Path) -> None:
    """The thread count applies before the models load: onnxruntime sessions made while building (the
    Magenta transformer's, its predictor's) are the ones the frames use, not ones for torch's default."""
    import cv2

    style = tmp_path / "style.png"
    cv2.imwrite(str(style), np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    config_file.write_text(config_file.read_text().replace(
        "person:\n  effect: original\n", f"person:\n  effect: style\n  style: {style}\n")
        + "threads: 1\nprecision: float32\nstyle:\n  size: 64\n")
    service = Service(config_file, max_frames=3, publish=False)
    assert service.run() == 0
    stylizer = service.scene.stylizer
    assert stylizer.runtime == "onnxruntime"
    assert set(stylizer.run._sessions) == {1}
    assert set(stylizer.predictor._sessions) == {1}


def test_a_reload_drops_a_thread_comparison_under_way(config_file: Path) -> None:
    """A reload changes the work per frame (another model, precision, effects): a ``threads: auto`` trial
    begun before it would compare frame times of two different pipelines."""
    config_file.write_text(config_file.read_text() + "threads: auto\nstyle:\n  size: 192\n")
    service = Service(config_file, max_frames=2, publish=False)
    assert service.run() == 0
    tuner = service.threads
    tuner.counts = [1, 2]  # whatever this machine has
    tuner.current, tuner._phase, tuner._candidate, tuner._samples = 2, "trial", 1, [5.0] * 4
    service._set_threads(service.scene.config)
    assert service.threads is tuner and tuner.threads == 2 and tuner._samples == []


def test_a_failed_reload_names_its_key_in_status(config_file: Path, monkeypatch) -> None:
    """Issue 26: on a live reload of two 1.0e+308 weights `status` said "internal error"; a reload
    that fails on a bug names the keys the save changed."""
    good = config_file.read_text()
    service = Service(config_file, publish=False)
    service.start()
    service.watcher.stop()  # the test drives the reload itself
    try:
        config_file.write_text(good.replace("person:\n  effect: original\n",
                                            "person:\n  effect: style\n  style:\n"
                                            "    - {image: styles/waves.png, weight: 1.0e+308}\n"
                                            "    - {image: styles/neon.png, weight: 1.0e+308}\n"))
        service._reload()
        error = service.status()["last_error"]
        assert "person.style: expected weights whose sum is a finite number" in error and "(line 7)" in error
        assert "internal error" not in error

        def broken(self, config, size):
            raise ValueError("a bug while building")

        monkeypatch.setattr(Service, "_build_scene", broken)
        config_file.write_text(good.replace("effect: color", "effect: color\n  color: '#00ff00'"))
        service._reload()
        error = service.status()["last_error"]
        assert error.startswith("background.color: could not be applied (ValueError: a bug while building)")
        assert service.scene.config.background.color == "#202020"  # the running configuration is kept
    finally:
        service.shutdown()


def test_shutdown_closes_every_part_however_long_one_takes(config_file: Path, monkeypatch) -> None:
    """Issue 26: shutdown skipped the remaining close steps once 2.5 s had passed. Here the camera's
    close makes the clock jump an hour: the output is still closed."""
    import types

    from vcamstyle.daemon import service as service_module

    offset = {"s": 0.0}
    real_time = service_module.time
    monkeypatch.setattr(service_module, "time", types.SimpleNamespace(
        monotonic=lambda: real_time.monotonic() + offset["s"], time=real_time.time,
        perf_counter=real_time.perf_counter, sleep=real_time.sleep))
    closed: list[str] = []

    def on_frame(service: Service) -> None:
        if service.frames == 1:
            camera_close, sink_close = service.source.close, service.sink.close
            service.source.close = lambda: (offset.__setitem__("s", 3600.0), closed.append("camera"), camera_close())[-1]
            service.sink.close = lambda: (closed.append("output"), sink_close())[-1]

    service = Service(config_file, max_frames=3, publish=False, on_frame=on_frame)
    assert service.run() == 0
    assert closed == ["camera", "output"]
