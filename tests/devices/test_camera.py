"""vcamstyle.devices.camera: video/image files as the camera, RGB order, mirror, the grab thread's newest-frame
hand-over, and surviving the camera going away (backoff, no busy loop, recovery)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
import pytest

from vcamstyle.devices import camera, v4l2, v4l2_abi
from vcamstyle.devices.camera import (
    CameraSettings,
    CameraSource,
    placeholder_frame,
    resolve_camera,
)
from vcamstyle.errors import SourceError


@pytest.fixture
def opened() -> Iterator[Callable[[CameraSettings], CameraSource]]:
    """Opens sources and closes every one of them after the test."""
    started: list[CameraSource] = []

    def open_source(settings: CameraSettings) -> CameraSource:
        source = CameraSource(settings)
        started.append(source)
        return source.start()

    yield open_source
    for source in started:
        source.close()


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Polls ``condition`` until true or ``timeout`` s passed (a generous upper bound, not a speed test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def write_png(path: Path, rgb: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def halves(height: int = 48, width: int = 64) -> np.ndarray:
    """``HxWx3 uint8 RGB``: red on the left half, blue on the right half."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2] = (255, 0, 0)
    image[:, width // 2:] = (0, 0, 255)
    return image


# ------------------------------------------------------------------------------------------ files as the camera

def test_video_file_delivers_rgb_frames(tmp_path: Path, opened) -> None:
    path = tmp_path / "red.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15, (64, 48))
    for _ in range(5):
        writer.write(np.full((48, 64, 3), (0, 0, 255), np.uint8))  # pure red, in OpenCV's BGR order
    writer.release()
    source = opened(CameraSettings(device=str(path)))
    frame = source.wait_newer(0, timeout=5.0)
    assert frame is not None
    assert frame.image.shape == (48, 64, 3) and frame.image.dtype == np.uint8
    r, g, b = (float(frame.image[..., c].mean()) for c in range(3))
    assert r > 230 and g < 25 and b < 25  # red comes out red in RGB
    assert source.granted is not None and source.granted[:2] == (64, 48)
    assert source.available and source.last_error is None


def test_video_file_matches_the_source_photo(tmp_path: Path, opened, astronaut_rgb: np.ndarray) -> None:
    photo = cv2.resize(astronaut_rgb, (128, 128), interpolation=cv2.INTER_AREA)
    path = tmp_path / "astronaut.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15, (128, 128))
    for _ in range(3):
        writer.write(cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    writer.release()
    frame = opened(CameraSettings(device=str(path))).wait_newer(0, timeout=5.0)
    assert frame is not None and frame.image.shape == photo.shape
    error = np.abs(frame.image.astype(np.int16) - photo).mean()
    swapped = np.abs(frame.image[..., ::-1].astype(np.int16) - photo).mean()
    assert error < 8  # compression only
    assert swapped > 3 * error  # and the channel order matters on this photo


def test_video_frames_keep_coming_and_loop(tmp_path: Path, opened, make_video) -> None:
    path = make_video(tmp_path / "clip.mp4", frames=3, size=(64, 48), fps=30)
    source = opened(CameraSettings(device=str(path)))
    seq = 0
    for _ in range(8):  # more frames than the file has: it loops
        frame = source.wait_newer(seq, timeout=5.0)
        assert frame is not None and frame.seq > seq
        seq = frame.seq
    assert seq >= 8


def test_image_file_as_camera(tmp_path: Path, opened) -> None:
    image = halves()
    source = opened(CameraSettings(device=str(write_png(tmp_path / "still.png", image)), fps=20))
    frame = source.wait_newer(0, timeout=5.0)
    assert frame is not None
    np.testing.assert_array_equal(frame.image, image)  # PNG is lossless; RGB in, RGB out
    newer = source.wait_newer(frame.seq, timeout=5.0)  # repeated at the configured rate
    assert newer is not None and newer.seq > frame.seq
    assert source.granted == (64, 48, pytest.approx(20.0))


def test_mirror_flips_left_right(tmp_path: Path, opened) -> None:
    image = halves()
    source = opened(CameraSettings(device=str(write_png(tmp_path / "still.png", image)), mirror=True))
    frame = source.wait_newer(0, timeout=5.0)
    assert frame is not None
    np.testing.assert_array_equal(frame.image, image[:, ::-1])
    assert frame.image[0, 0].tolist() == [0, 0, 255]
    assert frame.image.flags.c_contiguous


def test_missing_file_raises_source_error(tmp_path: Path) -> None:
    source = CameraSource(CameraSettings(device=str(tmp_path / "gone.mp4")))
    with pytest.raises(SourceError, match="does not exist") as info:
        source.start()
    assert info.value.hint
    source.close()


def test_unreadable_image_raises_source_error(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"not an image")
    source = CameraSource(CameraSettings(device=str(tmp_path / "bad.png")))
    with pytest.raises(SourceError, match="not a readable image"):
        source.start()
    source.close()


def test_wait_newer_returns_none_without_a_newer_frame(tmp_path: Path, opened) -> None:
    # One frame every 10 s: after the first one nothing newer arrives within the short wait.
    source = opened(CameraSettings(device=str(write_png(tmp_path / "still.png", halves())), fps=0.1))
    first = source.wait_newer(0, timeout=5.0)
    assert first is not None
    assert source.wait_newer(first.seq, timeout=0.1) is None
    assert source.wait_newer(first.seq - 1, timeout=0.1) is first  # but an older seq gets the newest frame


# ------------------------------------------------------------------------------------------ losing the camera

class CountingReader:
    """Stands in for the file/device reader: counts ``read`` calls (across reopenings) and delivers
    frames only while ``alive`` is set; like a device, it paces itself (``interval`` 0)."""

    reads = 0
    opens = 0
    alive = threading.Event()
    lock = threading.Lock()

    def __init__(self, path: str, fps: float) -> None:
        with CountingReader.lock:
            CountingReader.opens += 1
        if not CountingReader.alive.is_set():
            raise SourceError(f"camera file {path} does not exist", hint="test")
        self.interval = 0.0
        self.granted = (32, 24, fps)

    def read(self) -> np.ndarray | None:
        with CountingReader.lock:
            CountingReader.reads += 1
        if not CountingReader.alive.is_set():
            return None
        time.sleep(0.005)
        return np.zeros((24, 32, 3), np.uint8)

    def close(self) -> None:
        pass


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(camera, "BACKOFF_START_S", 0.05)
    monkeypatch.setattr(camera, "BACKOFF_MAX_S", 0.2)


def test_no_busy_loop_while_the_camera_is_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_backoff,
                                               opened) -> None:
    monkeypatch.setattr(camera, "_FileReader", CountingReader)
    CountingReader.reads = CountingReader.opens = 0
    CountingReader.alive.set()
    source = opened(CameraSettings(device=str(tmp_path / "camera.mp4")))
    assert source.wait_newer(0, timeout=5.0) is not None

    CountingReader.alive.clear()  # the camera stops delivering
    assert wait_for(lambda: not source.available)
    assert source.wait_newer(0, timeout=0.05) is None  # down: no frame, even an old one
    assert source.last_error
    reads, opens = CountingReader.reads, CountingReader.opens
    time.sleep(1.0)
    attempts = (CountingReader.reads - reads) + (CountingReader.opens - opens)
    # Backoff 0.05 s doubling to 0.2 s allows about 8 tries in a second; a busy loop makes thousands.
    assert attempts <= 25
    assert attempts >= 2  # but it does keep trying

    CountingReader.alive.set()  # the camera comes back
    assert wait_for(lambda: source.available)
    frame = source.wait_newer(0, timeout=5.0)
    assert frame is not None
    assert source.last_error is None


def test_file_vanishing_and_coming_back(tmp_path: Path, fast_backoff, opened) -> None:
    image = halves()
    path = write_png(tmp_path / "camera.png", image)
    source = opened(CameraSettings(device=str(path), fps=30))
    first = source.wait_newer(0, timeout=5.0)
    assert first is not None and source.available

    data = path.read_bytes()
    path.unlink()
    assert wait_for(lambda: not source.available)
    assert source.wait_newer(first.seq, timeout=0.05) is None
    assert source.last_error

    path.write_bytes(data)
    assert wait_for(lambda: source.available)
    back = source.wait_newer(first.seq, timeout=5.0)
    assert back is not None and back.seq > first.seq
    np.testing.assert_array_equal(back.image, image)


def test_default_backoff_values_are_sane() -> None:
    assert 0 < camera.BACKOFF_START_S <= camera.BACKOFF_MAX_S <= 10


def test_close_stops_the_grab_thread(tmp_path: Path) -> None:
    source = CameraSource(CameraSettings(device=str(write_png(tmp_path / "s.png", halves())), fps=50)).start()
    thread = source._thread
    assert thread is not None and thread.is_alive()
    source.close()
    assert not thread.is_alive()


# ------------------------------------------------------------------------------------------ helpers

@pytest.mark.parametrize("width, height", [(1280, 720), (640, 360), (320, 240)])
def test_placeholder_frame(width: int, height: int) -> None:
    frame = placeholder_frame(width, height, "camera unavailable")
    assert frame.shape == (height, width, 3) and frame.dtype == np.uint8
    assert np.median(frame) == 24  # dark background
    assert int(frame.max()) >= 150  # with visible text
    bright_rows = np.nonzero(frame.max(axis=(1, 2)) > 100)[0]
    assert height * 0.2 < bright_rows.mean() < height * 0.8  # roughly centred


@pytest.mark.parametrize("value, expected", [
    ("0", 0), ("2", 2), (3, 3),
    ("/dev/video4", "/dev/video4"),
    ("clip.mp4", "clip.mp4"),
    ("/home/me/clip.mp4", "/home/me/clip.mp4"),
    ("videos/camera", "videos/camera"),
    ("still.png", "still.png"),
])
def test_resolve_camera_paths_and_indices(value: str | int, expected: str | int) -> None:
    assert resolve_camera(value) == expected


CAMERA = v4l2.VideoDevice("/dev/video0", card="Integrated Webcam", driver="uvcvideo", caps=v4l2_abi.V4L2_CAP_VIDEO_CAPTURE)
SECOND = v4l2.VideoDevice("/dev/video2", card="Logitech BRIO", driver="uvcvideo", caps=v4l2_abi.V4L2_CAP_VIDEO_CAPTURE)
LOOPBACK = v4l2.VideoDevice("/dev/video10", card="vcamstyle", driver=v4l2.LOOPBACK_DRIVER,
                            caps=v4l2_abi.V4L2_CAP_VIDEO_CAPTURE | v4l2_abi.V4L2_CAP_VIDEO_OUTPUT)


def test_resolve_camera_auto_skips_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(v4l2, "list_devices", lambda *a, **k: [LOOPBACK, CAMERA, SECOND])
    assert resolve_camera("auto") == "/dev/video0"


def test_resolve_camera_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(v4l2, "list_devices", lambda *a, **k: [LOOPBACK, CAMERA, SECOND])
    assert resolve_camera("brio") == "/dev/video2"
    with pytest.raises(SourceError, match="no camera named like") as info:
        resolve_camera("vcamstyle")  # the loopback is never a camera
    assert "/dev/video0 (Integrated Webcam)" in (info.value.hint or "")


@pytest.mark.skipif(not camera.sys.platform.startswith("linux"), reason="Linux reports a missing camera")
def test_resolve_camera_auto_without_cameras(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(v4l2, "list_devices", lambda *a, **k: [LOOPBACK])
    with pytest.raises(SourceError, match="no camera found") as info:
        resolve_camera("auto")
    assert "video file" in (info.value.hint or "")
