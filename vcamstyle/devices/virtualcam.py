"""Frame sinks: the virtual camera (pyvirtualcam; our own v4l2loopback backend on Linux, in
:mod:`vcamstyle.devices.loopback`), a video file or PNG directory (:mod:`vcamstyle.devices.filesink`),
or nothing.

Every sink takes ``HxWx3 uint8 RGB`` numpy frames of the size it was opened with. Sinks open in their
constructor, raise :class:`~vcamstyle.errors.SinkError` (with the fix in ``hint``) when they cannot
open or write, and never block the frame loop beyond the write itself; :meth:`FrameSink.wait_next_frame`
is the separate, optional pacing call. Colour conversion lives in :mod:`vcamstyle.devices.pixfmt`; its names and
the loopback backend's are re-exported here.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

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
from vcamstyle.devices.sinkbase import FramePacer, FrameSink, SinkBase
from vcamstyle.devices.filesink import FileSink
from vcamstyle.errors import SinkError

logger = logging.getLogger(__name__)

OBS_HINT = ("install OBS Studio (28 or newer on macOS, 26 or newer on Windows), click 'Start Virtual Camera' "
            "once, stop it again and close OBS")


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


class VirtualCamSink(SinkBase):
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


class NullSink(SinkBase):
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
                            hint="set output.path to a .mp4, .mkv, .mov or .avi file, or a directory")
        return FileSink(s.path, w, h, rate, pace=bool(s.pace), clock=clock, sleep=sleep)
    if kind == "null":
        return NullSink(w, h, rate, pixel_format=s.format, pace=bool(s.pace), clock=clock, sleep=sleep)
    raise SinkError(f"unknown output kind {s.kind!r}", hint=f"use one of {', '.join(SINK_KINDS)}")


__all__ = [
    "LOOPBACK_BACKEND_NAME", "OBS_HINT", "OUTPUT_FORMATS", "SINK_KINDS", "FileSink", "FramePacer",
    "FrameSink", "LoopbackBackend", "NullSink", "OutputSettings", "VirtualCamSink", "create_sink", "rgb_to_i420",
    "rgb_to_yuyv",
]
