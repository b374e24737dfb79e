"""Issue 26, found by the schema property: ``config check`` accepted ``output.path`` values the file sink
could not open, a trailing ``/`` (a PNG folder) was lost on the way to the sink, and a live reload
applied files ``config check`` refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vcamstyle.commands import check_config_files
from vcamstyle.config import VIDEO_FILE_SUFFIXES, ConfigValidationError, load_config
from vcamstyle.daemon.transaction import open_sink
from vcamstyle.devices.videofile import CONTAINERS


def config_check(folder: Path, text: str):
    path = folder / "config.yaml"
    path.write_text(text)
    config = load_config(path)
    check_config_files(config, path)
    return config


def test_the_config_knows_the_file_sinks_video_suffixes() -> None:
    assert set(VIDEO_FILE_SUFFIXES) == set(CONTAINERS)


@pytest.mark.parametrize("name", ["out.txt", "result.png"])
def test_a_file_output_that_is_neither_a_video_nor_a_folder_is_refused(tmp_path: Path, name: str) -> None:
    """It was accepted, and `run` then stopped on "unsupported video file type"."""
    with pytest.raises(ConfigValidationError) as caught:
        config_check(tmp_path, f"output:\n  backend: file\n  path: {name}\n")
    assert caught.value.problems == (
        f"output.path: expected a video file (.mp4, .mov, .mkv, .avi) or a folder for PNG frames (a name "
        f"ending in /), got '{name}' (line 3)",)


def test_a_folder_named_with_a_suffix_gets_png_frames(tmp_path: Path) -> None:
    """``frames.d/``: the trailing / was lost in the config's path and the sink refused '.d' as a video type."""
    config = config_check(tmp_path, "output:\n  backend: file\n  path: frames.d/\n")
    sink = open_sink(config, (32, 16, 10.0))
    sink.send(np.zeros((16, 32, 3), np.uint8))
    sink.close()
    assert sorted(p.name for p in (tmp_path / "frames.d").iterdir()) == ["frame_000000.png"]


def test_a_folder_named_like_a_video_is_refused(tmp_path: Path) -> None:
    """``rec.mp4/`` was accepted and recorded a video file named rec.mp4, not a folder."""
    with pytest.raises(ConfigValidationError) as caught:
        config_check(tmp_path, "output:\n  backend: file\n  path: rec.mp4/\n")
    assert caught.value.problems[0].startswith("output.path: expected a video file (.mp4, .mov, .mkv, .avi) or a "
                                               "folder for PNG frames, got 'rec.mp4/', a folder named like a .mp4 video")
    assert not (tmp_path / "rec.mp4").exists()


@pytest.mark.parametrize("path, problem", [
    ("notes.txt/out.mp4", "{folder}/notes.txt is a file, not a folder: the output cannot go in it"),
    ("notes.txt/frames/", "{folder}/notes.txt is a file, not a folder: the output cannot go in it"),
    ("/dev/null", "/dev/null is a character device, not a folder for PNG frames"),
    ("a" * 300 + ".mp4", "{folder}/" + "a" * 300 + ".mp4 cannot be used: File name too long"),
])
def test_a_file_output_that_cannot_be_made_is_refused_by_config_check(tmp_path: Path, path: str, problem: str) -> None:
    """These were accepted, and `run` stopped when the sink could not be created."""
    (tmp_path / "notes.txt").write_text("a file")
    with pytest.raises(ConfigValidationError) as caught:
        config_check(tmp_path, f"output:\n  backend: file\n  path: {path}\n")
    assert caught.value.problems == (f"output.path: {problem.format(folder=tmp_path)} (line 3)",)


def test_a_reload_refuses_what_config_check_refuses(tmp_path: Path, make_video, isolated_xdg) -> None:
    """``weights_dir`` naming a file: `config check` refused it, a live reload applied it."""
    from vcamstyle.daemon import Service

    video = make_video(tmp_path / "camera.mp4", frames=10, size=(64, 48))
    (tmp_path / "notes.txt").write_text("a file")
    good = f"camera:\n  device: {video}\noutput:\n  backend: none\nperson:\n  effect: original\n" \
           "background:\n  effect: color\ndevice: cpu\n"
    config_file = tmp_path / "config.yaml"
    config_file.write_text(good)
    service = Service(config_file, publish=False)
    service.start()
    service.watcher.stop()  # the test drives the reload itself
    try:
        config_file.write_text(good + "weights_dir: notes.txt\n")
        service._reload()
        assert service._pending is None and service.scene.config.weights_dir is None
        assert service.status()["last_error"].startswith(
            f"{config_file}: weights_dir: {tmp_path / 'notes.txt'} is a file, not a directory (line 10)")
    finally:
        service.shutdown()
