"""The daemon's recording (``output.backend: file``) in-process: a live edit of the size keeps what was
recorded (the new size goes to a numbered file beside it, and the log says where), and a file that
exists before the daemon starts is never truncated."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from avfiles import contents
from vcamstyle.daemon.service import Service


def _config(path: Path, camera: Path, recording: Path, size: tuple[int, int]) -> Path:
    path.write_text(f"camera:\n  device: {camera}\noutput:\n  backend: file\n  path: {recording}\n"
                    f"  width: {size[0]}\n  height: {size[1]}\nperson:\n  effect: original\n"
                    "background:\n  effect: color\ndevice: cpu\n")
    return path


@pytest.fixture
def camera(tmp_path: Path, make_video) -> Path:
    return make_video(tmp_path / "camera.mp4", frames=20, size=(160, 96))


def test_a_live_size_edit_keeps_the_first_part(tmp_path: Path, camera: Path, isolated_xdg,
                                               caplog: pytest.LogCaptureFixture) -> None:
    recording = tmp_path / "rec.mkv"
    config = _config(tmp_path / "config.yaml", camera, recording, (64, 48))
    edited: dict[str, int] = {}

    def on_frame(service: Service) -> None:
        if service.frames == 6 and not edited:
            if service.watcher is not None:  # this reload is the test's own
                service.watcher.stop()
            _config(config, camera, recording, (128, 96))
            service._reload()
            edited["at"] = service.frames
        if edited and service.frames >= edited["at"] + 6:
            service.stop_event.set()

    with caplog.at_level(logging.INFO):
        service = Service(config, publish=False, on_frame=on_frame)
        assert service.run() == 0
    first, second = contents(recording), contents(tmp_path / "rec-1.mkv")
    assert first.size == (64, 48) and first.frames >= 6
    assert second.size == (128, 96) and second.frames >= 4
    assert f"output.path {recording} exists and is kept: recording to {tmp_path / 'rec-1.mkv'}" in caplog.text


def test_the_daemon_never_truncates_a_file_it_did_not_create(tmp_path: Path, camera: Path, isolated_xdg) -> None:
    recording = tmp_path / "rec.mp4"
    recording.write_bytes(b"yesterday's recording")
    service = Service(_config(tmp_path / "config.yaml", camera, recording, (64, 48)), max_frames=5, publish=False)
    assert service.run() == 0
    assert recording.read_bytes() == b"yesterday's recording"
    assert contents(tmp_path / "rec-1.mp4").frames == 5
