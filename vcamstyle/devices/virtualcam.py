"""Frame sinks: the virtual camera (pyvirtualcam; our own v4l2loopback backend on Linux, in
:mod:`vcamstyle.devices.loopback`), a video file or PNG directory, or nothing.

Every sink takes ``HxWx3 uint8 RGB`` numpy frames of the size it was opened with. Sinks open in their
constructor, raise :class:`~vcamstyle.errors.SinkError` (with the fix in ``hint``) when they cannot
open or write, and never block the frame loop beyond the write itself; :meth:`FrameSink.wait_next_frame`
is the separate, optional pacing call. Colour conversion lives in :mod:`vcamstyle.devices.pixfmt`; its names and
the loopback backend's are re-exported here.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np
import pyvirtualcam
from pyvirtualcam.camera import BACKENDS as PYVIRTUALCAM_BACKENDS

from vcamstyle.devices import v4l2
from vcamstyle.devices.consumers import ConsumerWatch

# Importing vcamstyle.devices.loopback registers LoopbackBackend with pyvirtualcam.
from vcamstyle.devices.loopback import LOOPBACK_BACKEND_NAME, LoopbackBackend
from vcamstyle.devices.pixfmt import (
    OUTPUT_FORMATS,
    PIXEL_FORMATS,
    check_format_size,
    rgb_to_i420,
    rgb_to_yuyv,
)
from vcamstyle.errors import SinkError

logger = logging.getLogger(__name__)

VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG"}
OBS_HINT = ("install OBS Studio (28 or newer on macOS, 26 or newer on Windows), click 'Start Virtual Camera' "
            "once, stop it again and close OBS")


# --- protocol and pacing ---------------------------------------------------------------------------------


@runtime_checkable
class FrameSink(Protocol):
    """Where finished frames go. Opens on construction; ``send`` takes ``HxWx3 uint8 RGB``."""

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    @property
    def fps(self) -> float: ...

    @property
    def frames_sent(self) -> int: ...

    def send(self, frame: np.ndarray) -> None:
        """Write one ``HxWx3 uint8 RGB`` frame of the sink's size; raises SinkError when the write fails."""
        ...

    def wait_next_frame(self) -> None:
        """Sleep until the next frame is due at ``fps`` (returns at once for unpaced sinks)."""
        ...

    def close(self) -> None:
        """Release the device or file; safe to call twice."""
        ...

    def describe(self) -> str:
        """One line for logs and ``status``: what the sink writes to, in which format and size."""
        ...


class FramePacer:
    """Drift-free frame pacing: each deadline is the previous one plus ``1/fps``; when more than a frame
    late it resyncs to now instead of bursting to catch up."""

    def __init__(self, fps: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.period = 1.0 / fps
        self._clock = clock
        self._sleep = sleep
        self._deadline: float | None = None

    def wait(self) -> float:
        """Sleep until the next deadline; returns the seconds slept (0 when late)."""
        now = self._clock()
        if self._deadline is None:
            self._deadline = now + self.period
        slept = 0.0
        if now < self._deadline:
            slept = self._deadline - now
            self._sleep(slept)
        elif now - self._deadline > self.period:
            self._deadline = now
        self._deadline += self.period
        return slept


class _SinkBase(ABC):
    """Shared size checks, frame counting, pacing and context management."""

    def __init__(self, width: int, height: int, fps: float, *, pace: bool,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if width <= 0 or height <= 0:
            raise SinkError(f"invalid output size {width}x{height}", hint="set a positive output width and height")
        if fps <= 0:
            raise SinkError(f"invalid output frame rate {fps}", hint="set a positive output fps")
        self._width, self._height, self._fps = int(width), int(height), float(fps)
        self._pacer = FramePacer(fps, clock, sleep) if pace else None
        self._frames_sent = 0

    @property
    def width(self) -> int:
        return self._width

    @property
    def height(self) -> int:
        return self._height

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def frames_sent(self) -> int:
        return self._frames_sent

    def _check_frame(self, frame: np.ndarray) -> None:
        expected = (self._height, self._width, 3)
        if frame.dtype != np.uint8 or frame.shape != expected:
            raise ValueError(f"expected an HxWx3 uint8 frame of shape {expected}, got {frame.dtype} {frame.shape}")

    def wait_next_frame(self) -> None:
        if self._pacer is not None:
            self._pacer.wait()

    @abstractmethod
    def send(self, frame: np.ndarray) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def describe(self) -> str: ...

    def __enter__(self) -> "_SinkBase":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()



# --- sinks -------------------------------------------------------------------------------------------------


def _resolve_backend(backend: str | None) -> str:
    """Config backend name -> a name registered with pyvirtualcam."""
    system = platform.system()
    if backend in ("auto", "", None):
        if system == "Linux":
            name = LOOPBACK_BACKEND_NAME
        elif system in ("Darwin", "Windows"):
            name = "obs"
        else:
            raise SinkError(f"no virtual camera backend for {system}", hint="use output.kind file or null")
    elif backend == "v4l2loopback":
        if system != "Linux":
            raise SinkError(f"v4l2loopback is Linux-only (this is {system})", hint=f"use backend obs: {OBS_HINT}")
        name = LOOPBACK_BACKEND_NAME
    else:
        name = backend
    if name not in PYVIRTUALCAM_BACKENDS:
        available = ", ".join(sorted(PYVIRTUALCAM_BACKENDS)) or "none"
        hint = OBS_HINT if name == "obs" else f"use auto, or one of: {available}"
        raise SinkError(f"virtual camera backend {name!r} is not available on {system}", hint=hint)
    return name


class VirtualCamSink(_SinkBase):
    """A pyvirtualcam camera; frames are converted to ``pixel_format`` here, so the backend gets them as is.

    ``backend``: ``auto`` | ``v4l2loopback`` | ``obs`` | ``unitycapture`` | any name registered with
    ``pyvirtualcam.register_backend``. ``device``: ``auto`` or a backend-specific name (``/dev/videoN``).
    ``io``/``dev_dir`` reach our loopback backend only (tests, machines without devices).
    """

    def __init__(self, width: int, height: int, fps: float, *, pixel_format: str = "yuyv", backend: str = "auto",
                 device: str | None = "auto", io: v4l2.DeviceIO | None = None, dev_dir: str = "/dev",
                 pace: bool = True, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(width, height, fps, pace=pace, clock=clock, sleep=sleep)
        pixel_format = pixel_format.lower()
        check_format_size(pixel_format, width, height)
        self._pixel_format = pixel_format
        fmt, self._convert = PIXEL_FORMATS[pixel_format]
        self._backend_name = _resolve_backend(backend)
        self._io = io
        wanted_device = None if device in (None, "", "auto") else str(device)
        extra: dict[str, Any] = {}
        failures: list[BaseException] = []
        if self._backend_name == LOOPBACK_BACKEND_NAME:
            extra = {"io": io, "dev_dir": dev_dir, "failures": failures}
            if pixel_format == "rgb":
                logger.warning("rgb output shows black in some apps (Zoom); yuyv is the most compatible format")
        try:
            self._camera = pyvirtualcam.Camera(width, height, fps, fmt=fmt, device=wanted_device,
                                               backend=self._backend_name, **extra)
        except RuntimeError as exc:
            if failures and isinstance(failures[0], SinkError):
                raise failures[0] from exc
            raise SinkError(f"could not open the virtual camera ({self._backend_name}): {exc}",
                            hint=self._platform_hint()) from exc

    def _platform_hint(self) -> str:
        if self._backend_name == "obs":
            return OBS_HINT
        if self._backend_name == "unitycapture":
            return "install Unity Capture and register its DirectShow filter (Install.bat)"
        return "check the backend's device; `vcamstyle doctor` lists what is available"

    @property
    def backend(self) -> str:
        return self._backend_name

    @property
    def device(self) -> str:
        return self._camera.device

    @property
    def pixel_format(self) -> str:
        return self._pixel_format

    def consumer_watch(self) -> ConsumerWatch | None:
        """Open/close events and the apps holding our loopback node (``output.on_demand``); None for other
        backends (OBS, Unity Capture), whose consumers cannot be seen."""
        if self._backend_name != LOOPBACK_BACKEND_NAME or self._camera is None:
            return None
        return (self._io or v4l2.default_io()).watch(self._camera.device)

    def send(self, frame: np.ndarray) -> None:
        """Convert ``HxWx3 uint8 RGB`` to the output format and hand it to the backend."""
        self._check_frame(frame)
        if self._camera is None:
            raise SinkError("the virtual camera is closed", hint="reopen the output")
        out = self._convert(frame) if self._convert is not None else frame
        try:
            self._camera.send(out)
        except SinkError:
            raise
        except (RuntimeError, OSError) as exc:
            raise SinkError(f"writing to the virtual camera ({self._backend_name}) failed: {exc}",
                            hint=self._platform_hint()) from exc
        self._frames_sent += 1

    def close(self) -> None:
        camera, self._camera = getattr(self, "_camera", None), None
        if camera is not None:
            camera.close()

    def describe(self) -> str:
        device = self._camera.device if self._camera is not None else "closed"
        return (f"virtual camera {device} via {self._backend_name} "
                f"({self._pixel_format.upper()} {self._width}x{self._height} @ {self._fps:g} fps)")


class FileSink(_SinkBase):
    """Frames to a video file (``.mp4`` with mp4v, ``.avi`` with MJPG) or to numbered PNGs in a directory
    (a path that is an existing directory, ends with a separator, or has no suffix)."""

    def __init__(self, path: str | os.PathLike[str], width: int, height: int, fps: float, *, pace: bool = False,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(width, height, fps, pace=pace, clock=clock, sleep=sleep)
        raw = os.fspath(path)
        self._path = Path(raw).expanduser()
        self._writer: cv2.VideoWriter | None = None
        self._closed = False
        self._png_dir = self._path.is_dir() or raw.endswith(("/", os.sep)) or self._path.suffix == ""
        try:
            (self._path if self._png_dir else self._path.parent).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"cannot create the output directory for {self._path} ({v4l2.errno_text(exc)})",
                            hint="set output.path to a writable location") from exc
        if self._png_dir:
            return
        codec = VIDEO_CODECS.get(self._path.suffix.lower())
        if codec is None:
            raise SinkError(f"unsupported output file type {self._path.suffix!r} ({self._path})",
                            hint="use a .mp4 or .avi file, or a directory for PNG frames")
        self._codec = codec
        writer = cv2.VideoWriter(str(self._path), cv2.VideoWriter_fourcc(*codec), self._fps,
                                 (self._width, self._height), True)
        if not writer.isOpened():
            raise SinkError(f"the {codec} video writer refused {self._path} at {self._width}x{self._height}, "
                            f"{self._fps:g} fps",
                            hint="use a common size (e.g. 1280x720) and an fps of at least 1; check that the path "
                                 "is writable and OpenCV has video encoding (opencv-python)")
        self._writer = writer

    @property
    def path(self) -> Path:
        return self._path

    def send(self, frame: np.ndarray) -> None:
        """Append one ``HxWx3 uint8 RGB`` frame."""
        self._check_frame(frame)
        if self._closed:
            raise SinkError(f"{self._path} is closed", hint="reopen the output")
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        if self._png_dir:
            target = self._path / f"frame_{self._frames_sent:06d}.png"
            if not cv2.imwrite(str(target), bgr):
                raise SinkError(f"cannot write {target}", hint="check free disk space and permissions")
        else:
            assert self._writer is not None
            self._writer.write(bgr)
        self._frames_sent += 1

    def close(self) -> None:
        self._closed = True
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.release()

    def describe(self) -> str:
        what = f"PNG frames in {self._path}" if self._png_dir else f"{self._codec} video {self._path}"
        return f"{what} ({self._width}x{self._height} @ {self._fps:g} fps)"


class NullSink(_SinkBase):
    """Converts frames to ``pixel_format`` as the virtual camera would (the real sink's per-frame work,
    for benchmarks and ``output.backend: none``), then discards them; ``None`` skips the conversion."""

    def __init__(self, width: int, height: int, fps: float, *, pixel_format: str | None = "yuyv", pace: bool = False,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(width, height, fps, pace=pace, clock=clock, sleep=sleep)
        if pixel_format is not None:
            check_format_size(pixel_format.lower(), width, height)
        self._convert = PIXEL_FORMATS[pixel_format.lower()][1] if pixel_format is not None else None
        self.last: np.ndarray | None = None  # the last converted frame

    def send(self, frame: np.ndarray) -> None:
        self._check_frame(frame)
        self.last = self._convert(frame) if self._convert is not None else frame
        self._frames_sent += 1

    def close(self) -> None:
        """Nothing to release."""

    def describe(self) -> str:
        return f"null sink (discards {self._width}x{self._height} frames, {self._frames_sent} so far)"


# --- factory -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputSettings:
    """Plain output settings. ``kind``: ``virtual`` | ``file`` | ``null`` (``backend: file``/``null`` also
    selects those kinds). ``pace``: None = pace virtual cameras only."""

    kind: str = "virtual"
    backend: str = "auto"
    device: str | None = "auto"
    path: str | None = None
    format: str = "yuyv"
    pace: bool | None = None


SINK_KINDS = ("virtual", "file", "null")


def _settings_from(output: Any, overrides: Mapping[str, Any]) -> OutputSettings:
    """Read OutputSettings fields from a dataclass, pydantic model, mapping or None, then apply overrides.

    A field given as None keeps its default (so ``device: null`` means ``auto``).
    """
    names = [f.name for f in fields(OutputSettings)]
    unknown = set(overrides) - set(names)
    if unknown:
        raise TypeError(f"unknown output settings: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name in names:
        if isinstance(output, Mapping):
            value = output.get(name)
        else:
            value = getattr(output, name, None)
        if name in overrides:
            value = overrides[name]
        if value is not None:
            values[name] = value
    settings = OutputSettings(**values)
    if settings.backend in ("file", "null"):
        settings = replace(settings, kind=settings.backend)
    return settings


def create_sink(output: Any = None, width: int | None = None, height: int | None = None, fps: float | None = None,
                *, io: v4l2.DeviceIO | None = None, dev_dir: str = "/dev",
                clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                **settings: Any) -> FrameSink:
    """Open the sink the settings describe.

    ``output``: an :class:`OutputSettings`, any object or mapping with some of its field names (kind,
    backend, device, path, format, pace), or None; keyword ``settings`` override it. ``width``/``height``/
    ``fps`` default to the same-named attributes of ``output``.
    """
    def dimension(name: str, given: Any) -> Any:
        if given is not None:
            return given
        value = output.get(name) if isinstance(output, Mapping) else getattr(output, name, None)
        if value is None:
            raise TypeError(f"create_sink needs {name}")
        return value

    w, h, rate = int(dimension("width", width)), int(dimension("height", height)), float(dimension("fps", fps))
    s = _settings_from(output, settings)
    kind = s.kind.lower()
    if kind == "virtual":
        return VirtualCamSink(w, h, rate, pixel_format=s.format, backend=s.backend, device=s.device, io=io,
                              dev_dir=dev_dir, pace=True if s.pace is None else s.pace, clock=clock, sleep=sleep)
    if kind == "file":
        if not s.path:
            raise SinkError("output.path is not set for a file output",
                            hint="set output.path to a .mp4 or .avi file, or a directory")
        return FileSink(s.path, w, h, rate, pace=bool(s.pace), clock=clock, sleep=sleep)
    if kind == "null":
        return NullSink(w, h, rate, pixel_format=s.format, pace=bool(s.pace), clock=clock, sleep=sleep)
    raise SinkError(f"unknown output kind {s.kind!r}", hint=f"use one of {', '.join(SINK_KINDS)}")


__all__ = [
    "LOOPBACK_BACKEND_NAME", "OBS_HINT", "OUTPUT_FORMATS", "SINK_KINDS", "VIDEO_CODECS", "FileSink", "FramePacer",
    "FrameSink", "LoopbackBackend", "NullSink", "OutputSettings", "VirtualCamSink", "create_sink", "rgb_to_i420",
    "rgb_to_yuyv",
]
