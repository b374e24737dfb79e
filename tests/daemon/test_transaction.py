"""A reload as a transaction: every new part opened before the old ones go, and closed again when a
later part fails; a busy device swapped release-first with the old one put back on failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vcamstyle.config import override, parse_config
from vcamstyle.daemon import transaction
from vcamstyle.daemon.transaction import Running, open_camera, open_sink, prepare, swap_exclusive
from vcamstyle.errors import SinkError, SourceError


class Part:
    def __init__(self, name: str, granted=(160, 96, 30.0)) -> None:
        self.name, self.granted, self.closed = name, granted, False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def base():
    return override(parse_config("", Path("config.yaml")),
                    {"camera.device": "old.mp4", "output.backend": "file", "output.path": "old.avi"})


def running(config) -> Running:
    return Running(config, Part("old camera"), Part("old sink"), (160, 96, 30.0))


def test_a_failing_sink_closes_the_camera_this_reload_opened(base, monkeypatch: pytest.MonkeyPatch) -> None:
    new_camera = Part("new camera", granted=(320, 180, 30.0))
    monkeypatch.setattr(transaction, "open_camera", lambda config: new_camera)

    def refuse(config, geometry):
        raise SinkError("the writer refused 8192x16")

    monkeypatch.setattr(transaction, "open_sink", refuse)
    config = override(base, {"camera.device": "new.mp4", "output.path": "new.avi"})
    now = running(base)
    with pytest.raises(SinkError):
        prepare(config, frozenset({"camera", "output"}), now, lambda c, size: "scene")
    assert new_camera.closed
    assert not now.source.closed and not now.sink.closed  # what runs was never touched


def test_a_failing_scene_build_closes_the_new_parts(base, monkeypatch: pytest.MonkeyPatch) -> None:
    new_camera = Part("new camera")
    monkeypatch.setattr(transaction, "open_camera", lambda config: new_camera)

    def broken(config, size):
        raise RuntimeError("model failed to build")

    with pytest.raises(RuntimeError):
        prepare(override(base, {"camera.device": "new.mp4"}), frozenset({"camera"}), running(base), broken)
    assert new_camera.closed


def test_everything_new_is_open_before_the_handover(base, monkeypatch: pytest.MonkeyPatch) -> None:
    new_camera, new_sink = Part("new camera", granted=(320, 180, 25.0)), Part("new sink")
    monkeypatch.setattr(transaction, "open_camera", lambda config: new_camera)
    monkeypatch.setattr(transaction, "open_sink", lambda config, geometry: new_sink)
    sizes = []
    prepared = prepare(override(base, {"camera.device": "new.mp4"}), frozenset({"camera"}), running(base),
                       lambda c, size: sizes.append(size) or "scene")
    assert (prepared.source, prepared.sink, prepared.geometry) == (new_camera, new_sink, (320, 180, 25.0))
    assert sizes == [(180, 320)]  # built once, at the new camera's size
    assert not (prepared.reopen_camera or prepared.reopen_sink)
    prepared.discard()
    assert new_camera.closed and new_sink.closed


def test_a_busy_same_device_is_left_to_a_release_first_swap(base, monkeypatch: pytest.MonkeyPatch) -> None:
    def busy_camera(config):
        raise SourceError("device busy")

    def busy_sink(config, geometry):
        raise SinkError("device busy")

    monkeypatch.setattr(transaction, "open_camera", busy_camera)
    monkeypatch.setattr(transaction, "open_sink", busy_sink)
    same_devices = override(base, {"camera.width": 640, "output.format": "i420"})
    prepared = prepare(same_devices, frozenset({"camera", "output"}), running(base), lambda c, size: "scene")
    assert prepared.reopen_camera and prepared.reopen_sink
    other_camera = override(base, {"camera.device": "other.mp4"})
    with pytest.raises(SourceError):  # another device that cannot open: the reload fails
        prepare(other_camera, frozenset({"camera"}), running(base), lambda c, size: "scene")


def test_swap_exclusive_puts_the_old_part_back_when_the_new_one_fails() -> None:
    events: list[str] = []

    def open_new():
        events.append("open new")
        raise SinkError("refused")

    with pytest.raises(SinkError):
        swap_exclusive(lambda: events.append("release old"), open_new, lambda: events.append("reopen old"))
    assert events == ["release old", "open new", "reopen old"]
    assert swap_exclusive(lambda: None, lambda: "new", lambda: pytest.fail("not needed")) == "new"


def test_opencvs_own_errors_become_source_and_sink_errors(base, tmp_path: Path) -> None:
    """Fault 3: ``camera.device: 2147483648`` raised cv2.error; an fps the writer refuses."""
    with pytest.raises(SourceError, match="2147483648"):
        open_camera(override(base, {"camera.device": "2147483648"}))
    config = override(base, {"output.path": str(tmp_path / "out.mp4")})
    with pytest.raises(SinkError, match="refused"):
        open_sink(config, (320, 192, 0.001))
    fifo = tmp_path / "out.avi"
    os.mkfifo(fifo)  # a writer would block on it until a reader came
    with pytest.raises(SinkError, match="is a FIFO.*, not a video file"):
        open_sink(override(base, {"output.path": str(fifo)}), (320, 192, 30.0))
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(SinkError, match="output directory"):
        open_sink(override(base, {"output.path": str(blocker / "sub" / "out.avi")}), (320, 192, 30.0))
