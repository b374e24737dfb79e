"""The daemon with users' own pictures and cameras: shapes kept, pictures replaced in place re-read."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from vcamstyle import paths
from vcamstyle.daemon.service import Service
from vcamstyle.daemon.watcher import ConfigWatcher

STYLES = paths.bundled_styles_dir()


def _circle_camera(path: Path) -> Path:
    """A 640x480 (4:3) still: a white disc of radius 100 px on black, centred."""
    frame = np.zeros((480, 640, 3), np.uint8)
    cv2.circle(frame, (320, 240), 100, (255, 255, 255), -1)
    cv2.imwrite(str(path), frame)
    return path


def _run_and_capture(config: Path, frames: int = 4) -> tuple[Service, list[np.ndarray]]:
    service = Service(config, max_frames=frames, publish=False)
    sent: list[np.ndarray] = []
    real = service._send

    def capture(image: np.ndarray) -> None:
        sent.append(image.copy())
        real(image)

    service._send = capture  # type: ignore[method-assign]
    assert service.run() == 0
    return service, sent


def _disc_extent(image: np.ndarray) -> tuple[int, int]:
    """(height, width) in pixels of the bright disc."""
    ys, xs = np.nonzero(image[..., 0] > 127)
    return int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)


@pytest.mark.parametrize("fit", ["cover", "contain"])
def test_a_4_3_camera_in_a_16_9_output_is_not_stretched(tmp_path: Path, isolated_xdg, caplog, fit: str) -> None:
    camera = _circle_camera(tmp_path / "camera.png")
    config = tmp_path / "config.yaml"
    config.write_text(f"camera:\n  device: {camera}\noutput:\n  backend: none\n  width: 320\n  height: 180\n"
                      f"  fit: {fit}\nperson:\n  effect: original\nbackground:\n  effect: original\ndevice: cpu\n")
    with caplog.at_level(logging.INFO, logger="vcamstyle.pipeline"):
        _, sent = _run_and_capture(config)
    out = sent[-1]
    assert out.shape == (180, 320, 3)
    height, width = _disc_extent(out)
    assert abs(width - height) <= 2  # a disc stays a disc (a stretch makes it 33 % wider)
    if fit == "cover":
        assert height == pytest.approx(100, abs=3)  # 640x360 centre band at half size
    else:
        assert height == pytest.approx(75, abs=3)  # the whole 640x480 at 0.375
        assert out[:, :15].max() == 0 and out[:, -15:].max() == 0  # black bars left and right
    logged = [r for r in caplog.records if "differs in shape" in r.getMessage()]
    assert len(logged) == 1 and f"output.fit: {fit}" in logged[0].getMessage()


@pytest.fixture
def picture_config(tmp_path: Path, make_video, isolated_xdg, astronaut_rgb: np.ndarray) -> tuple[Path, Path]:
    video = make_video(tmp_path / "camera.mp4", frames=20, size=(160, 96))
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    background = pictures / "bg.png"
    Image.fromarray(astronaut_rgb).save(background)
    config = tmp_path / "config.yaml"
    config.write_text(f"camera:\n  device: {video}\noutput:\n  backend: none\nperson:\n  effect: original\n"
                      f"background:\n  effect: image\n  image: {background}\ndevice: cpu\n")
    return config, background


def test_reload_re_reads_a_background_replaced_in_place(picture_config, grace_hopper_rgb: np.ndarray, caplog) -> None:
    config, background = picture_config
    service = Service(config, publish=False)
    service.start()
    service.watcher.stop()  # this test drives the reloads itself: the watcher's own reload of the picture
    # (test_the_watcher_sees_a_referenced_picture_in_another_folder) would race it, reading a half-written file
    try:
        before = service.scene.settings.background.image
        service._reload()
        assert service._pending is None  # nothing changed: "config reloaded: no change"
        Image.fromarray(grace_hopper_rgb).save(background)  # cp new.png bg.png
        with caplog.at_level(logging.INFO, logger="vcamstyle.pipeline"):
            service._reload()
        assert service._pending is not None and service._pending.stages == frozenset({"effects"})
        assert any("referenced files changed: background.image" in r.getMessage() for r in caplog.records)
        service._apply_pending()
        after = service.scene.settings.background.image
        assert np.abs(after.astype(int) - before).mean() > 10
    finally:
        service.shutdown()


def test_a_bad_picture_on_reload_keeps_the_running_style(tmp_path: Path, make_video, isolated_xdg) -> None:
    """A 1200x3 strip copied over the style image: a clear error in status, the running style stays."""
    video = make_video(tmp_path / "camera.mp4", frames=20, size=(160, 96))
    style = tmp_path / "style.png"
    shutil.copy(STYLES / "waves.png", style)
    config = tmp_path / "config.yaml"
    config.write_text(f"camera:\n  device: {video}\noutput:\n  backend: none\nperson:\n  effect: original\n"
                      f"background:\n  effect: style\n  style: {style}\ndevice: cpu\n")
    service = Service(config, publish=False)
    service.start()
    try:
        code = service.scene.settings.background.style.code
        Image.new("RGB", (1200, 3), (200, 30, 30)).save(style)
        service._reload()
        assert service._pending is None
        assert "1200x3" in service.last_error and "too thin" in service.last_error
        assert service.scene.settings.background.style.code is code
    finally:
        service.shutdown()


def test_the_watcher_sees_a_referenced_picture_in_another_folder(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("device: cpu\n")
    pictures = tmp_path / "elsewhere"
    pictures.mkdir()
    picture = pictures / "bg.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(picture)
    other = pictures / "unrelated.txt"
    changed = threading.Event()
    named = [picture]
    watcher = ConfigWatcher(config, changed.set, debounce_ms=20, extra_paths=lambda: list(named)).start()

    def wait_until_watching(path: Path) -> None:
        for _ in range(100):
            if Path(os.path.abspath(path)) in watcher._signatures:
                break
            threading.Event().wait(0.05)
        threading.Event().wait(0.3)

    try:
        wait_until_watching(picture)
        other.write_text("not watched")
        assert not changed.wait(0.8)
        Image.new("RGB", (8, 8), (9, 9, 9)).save(picture)
        assert changed.wait(10)
        # A reload names another picture in the same folder: it is watched from then on.
        changed.clear()
        named[:] = [other]
        wait_until_watching(other)
        other.write_text("now it is the picture")
        assert changed.wait(10)
    finally:
        watcher.stop()
