"""Frame sources: the physical camera (OpenCV, V4L2 on Linux), or a video/image file standing in for it.

A grab thread keeps only the newest frame (no stale queue). When the camera fails or disappears the
thread reopens it with exponential backoff (never a busy loop) while ``latest()`` reports it as
unavailable, so the service can keep the virtual camera fed with a placeholder.

Frames leave this module as ``HxWx3 uint8 RGB`` numpy arrays.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Iterator
from pathlib import Path

import cv2
import numpy as np

from vcamstyle.errors import SourceError
from vcamstyle.paths import why_not_a_file

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 5.0


@dataclass(frozen=True)
class CameraSettings:
    """What to open and what to ask for. ``device``: ``auto``, ``/dev/videoN``, an index, a name
    substring, or a video/image file path."""

    device: str | int = "auto"
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    fourcc: str = "MJPG"
    mirror: bool = False


@dataclass(frozen=True)
class Frame:
    """One captured frame: ``image`` is ``HxWx3 uint8 RGB``; ``seq`` counts up; ``captured_at`` is
    ``time.monotonic()`` when it was grabbed."""

    image: np.ndarray
    seq: int
    captured_at: float


def is_file_source(device: str | int) -> bool:
    return isinstance(device, str) and not device.startswith("/dev/") and device != "auto" and (
        os.path.sep in device or Path(device).suffix != "")


def resolve_camera(device: str | int) -> str | int:
    """Turn the config value into what ``cv2.VideoCapture`` opens: a path or an index.

    ``auto`` picks the first capture device that is not a v4l2loopback node; a name substring is
    matched against the devices' card names.
    """
    if isinstance(device, int):
        return device
    if device.isdigit():
        return int(device)
    if device.startswith("/dev/") or is_file_source(device):
        return device
    from vcamstyle.devices import v4l2

    cameras = [d for d in v4l2.list_devices() if d.can_capture and not d.is_loopback]
    if device == "auto":
        if cameras:
            return cameras[0].path
        if sys.platform.startswith("linux"):
            raise SourceError("no camera found (no /dev/video* capture device)",
                              hint="plug in a webcam, or set camera.device to a video file; `vcamstyle doctor` lists devices")
        return 0
    matches = [d for d in cameras if device.lower() in d.card.lower()]
    if not matches:
        names = ", ".join(f"{d.path} ({d.card})" for d in cameras) or "none"
        raise SourceError(f"no camera named like {device!r}", hint=f"cameras found: {names}")
    return matches[0].path


class _FileReader:
    """Reads a video (looped, paced at its own frame rate) or a still image (repeated at ``fps``)."""

    def __init__(self, path: str, fps: float) -> None:
        self.path = path
        self.still: np.ndarray | None = None
        self.capture: cv2.VideoCapture | None = None
        problem = why_not_a_file(path)
        if problem is not None:
            raise SourceError(f"camera file {path} {problem}",
                              hint="set camera.device to a video or image file, a /dev/videoN device or auto")
        if Path(path).suffix.lower() in IMAGE_SUFFIXES:
            image = cv2.imread(path, cv2.IMREAD_COLOR)
            if image is None:
                raise SourceError(f"camera file {path} is not a readable image", hint="use a PNG/JPEG or a video file")
            self.still = image
            self.interval = 1.0 / fps
        else:
            self.capture = cv2.VideoCapture(path)
            if not self.capture.isOpened():
                raise SourceError(f"camera file {path} cannot be opened as a video", hint="use a video OpenCV can read (mp4, avi, mkv)")
            file_fps = self.capture.get(cv2.CAP_PROP_FPS)
            self.interval = 1.0 / (file_fps if 1 <= file_fps <= 240 else fps)
        self.granted = self._probe_size()

    def _probe_size(self) -> tuple[int, int, float]:
        if self.still is not None:
            return self.still.shape[1], self.still.shape[0], 1.0 / self.interval
        assert self.capture is not None
        return (int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                1.0 / self.interval)

    def read(self) -> np.ndarray | None:
        if self.still is not None:
            if not Path(self.path).exists():
                return None
            return self.still
        assert self.capture is not None
        ok, frame = self.capture.read()
        if not ok:
            if not Path(self.path).exists():
                return None
            self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.capture.read()
        return frame if ok else None

    def close(self) -> None:
        if self.capture is not None:
            self.capture.release()


class _DeviceReader:
    """A V4L2 (or platform default) camera through OpenCV: fourcc set before the size, one buffer."""

    def __init__(self, target: str | int, settings: CameraSettings) -> None:
        api = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        try:
            self.capture = cv2.VideoCapture(target, api)
        except (cv2.error, OverflowError, ValueError) as exc:  # e.g. an index that does not fit a C int
            reason = str(exc).strip().splitlines()[-1].lstrip("> -") if str(exc).strip() else type(exc).__name__
            raise SourceError(f"cannot open camera {target}: OpenCV refused it ({reason})",
                              hint="set camera.device to auto, /dev/videoN or a small index (0, 1, ...); "
                                   "`vcamstyle doctor` lists the cameras") from exc
        if not self.capture.isOpened():
            self.capture.release()
            raise SourceError(f"cannot open camera {target}",
                              hint="check that it exists and no other program holds it; `vcamstyle doctor` lists devices "
                                   "(permission denied: add yourself to the video group)")
        if settings.fourcc.upper() != "AUTO":
            self.capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*settings.fourcc.upper()[:4].ljust(4)))
        self.capture.set(cv2.CAP_PROP_FRAME_WIDTH, settings.width)
        self.capture.set(cv2.CAP_PROP_FRAME_HEIGHT, settings.height)
        self.capture.set(cv2.CAP_PROP_FPS, settings.fps)
        self.capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.interval = 0.0  # the device paces itself
        self.granted = (int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                        float(self.capture.get(cv2.CAP_PROP_FPS)))

    def read(self) -> np.ndarray | None:
        ok, frame = self.capture.read()
        return frame if ok else None

    def close(self) -> None:
        self.capture.release()


def camera_rgb(bgr: np.ndarray, mirror: bool) -> np.ndarray:
    """What the grab thread makes of a decoded camera frame: ``HxWx3 uint8 BGR`` -> ``RGB``, mirrored
    left-right when ``mirror`` (one pass each)."""
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(rgb[:, ::-1]) if mirror else rgb


def decoded_file_frames(path: str, fps: float = 30.0) -> Iterator[np.ndarray]:
    """Endless ``HxWx3 uint8 BGR`` frames of a camera file, decoded one by one as the grab thread decodes
    them (a video loops), without pacing: ``vcamstyle bench`` times the decoding this way."""
    reader = _FileReader(path, fps)
    try:
        while True:
            frame = reader.read()
            if frame is None:
                raise SourceError(f"{path} has no frames", hint="check the file plays in a video player")
            yield frame
    finally:
        reader.close()


class CameraSource:
    """Owns the grab thread. ``latest()`` returns the newest frame, or None while the camera is down.

    The first open happens in ``start()`` so that a bad ``camera.device`` fails fast with a clear
    ``SourceError``; later failures are retried in the background with backoff.
    """

    def __init__(self, settings: CameraSettings) -> None:
        self.settings = settings
        self._reader: _FileReader | _DeviceReader | None = None
        self._lock = threading.Lock()
        self._new_frame = threading.Condition(self._lock)
        self._frame: Frame | None = None
        self._seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.available = False
        self.last_error: str | None = None
        self.granted: tuple[int, int, float] | None = None

    def _open(self) -> None:
        target = resolve_camera(self.settings.device)
        if isinstance(target, str) and is_file_source(target):
            reader: _FileReader | _DeviceReader = _FileReader(target, self.settings.fps)
        else:
            reader = _DeviceReader(target, self.settings)
        self._reader = reader
        self.granted = reader.granted
        log.info("camera %s opened: %dx%d at %.1f fps (asked %dx%d at %.1f %s)", target, *reader.granted,
                 self.settings.width, self.settings.height, self.settings.fps, self.settings.fourcc)

    def start(self) -> "CameraSource":
        self._open()
        self.available = True
        self._thread = threading.Thread(target=self._run, name="camera-grab", daemon=True)
        self._thread.start()
        return self

    def start_retrying(self) -> "CameraSource":
        """Start the grab thread without a working camera: it keeps retrying with backoff."""
        self.available = False
        self._thread = threading.Thread(target=self._run, name="camera-grab", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        backoff = BACKOFF_START_S
        next_due = time.monotonic()
        while not self._stop.is_set():
            reader = self._reader
            reason = "camera stopped delivering frames"
            try:
                image = reader.read() if reader is not None else None
            except (cv2.error, OSError) as exc:  # a driver error is a camera failure: reopen with backoff
                log.debug("camera read failed: %s", exc)
                image, reason = None, f"reading the camera failed: {str(exc).strip() or type(exc).__name__}"
            if image is None:
                # with no reader, the last reopen failure is the real reason: keep it
                self._mark_down(reason if reader is not None else (self.last_error or reason))
                if self._stop.wait(backoff):
                    break
                backoff = min(BACKOFF_MAX_S, backoff * 2)
                self._reopen()
                continue
            backoff = BACKOFF_START_S
            self._publish(image)
            if reader is not None and reader.interval > 0:
                next_due += reader.interval
                delay = next_due - time.monotonic()
                if delay < -reader.interval:
                    next_due = time.monotonic()
                elif delay > 0 and self._stop.wait(delay):
                    break

    def _publish(self, bgr: np.ndarray) -> None:
        rgb = camera_rgb(bgr, self.settings.mirror)
        with self._new_frame:
            self._seq += 1
            self._frame = Frame(rgb, self._seq, time.monotonic())
            if not self.available:
                log.info("camera is back")
            self.available = True
            self.last_error = None
            self._new_frame.notify_all()

    def _mark_down(self, reason: str) -> None:
        with self._new_frame:
            if self.available:
                log.warning("camera unavailable: %s; reopening with backoff", reason)
            self.available = False
            self.last_error = reason
            self._new_frame.notify_all()

    def _reopen(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        try:
            self._open()
        except SourceError as exc:
            self.last_error = str(exc)
            log.debug("reopen failed: %s", exc)
        except Exception as exc:  # OpenCV's own errors: a failed reopen, retried with backoff
            self.last_error = f"cannot open camera {self.settings.device}: {exc}"
            log.debug("reopen failed: %s", exc)

    def wait_newer(self, seq: int, timeout: float) -> Frame | None:
        """The newest frame if it is newer than ``seq``; waits up to ``timeout`` s for one. None if none
        arrived or the camera is down."""
        with self._new_frame:
            if self.available and (self._frame is None or self._frame.seq <= seq):
                self._new_frame.wait(timeout)
            if not self.available or self._frame is None or self._frame.seq <= seq:
                return None
            return self._frame

    def close(self) -> None:
        self._stop.set()
        with self._new_frame:
            self._new_frame.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def placeholder_frame(width: int, height: int, message: str) -> np.ndarray:
    """A dark ``HxWx3 uint8 RGB`` frame with a short centred message (shown while the camera is down)."""
    frame = np.full((height, width, 3), 24, dtype=np.uint8)
    scale = max(0.4, width / 1280 * 0.9)
    thickness = max(1, int(round(scale * 2)))
    for i, line in enumerate(("vcamstyle", message)):
        (tw, th), _ = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        y = height // 2 + int((i - 0.5) * th * 2.2)
        cv2.putText(frame, line, ((width - tw) // 2, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (200, 200, 200), thickness, cv2.LINE_AA)
    return frame
