"""Frame sinks: the virtual camera (pyvirtualcam; our own v4l2loopback backend on Linux), a video file
or PNG directory, or nothing.

Every sink takes ``HxWx3 uint8 RGB`` numpy frames of the size it was opened with. Sinks open in their
constructor, raise :class:`~vcamstyle.errors.SinkError` (with the fix in ``hint``) when they cannot
open or write, and never block the frame loop beyond the write itself; :meth:`FrameSink.wait_next_frame`
is the separate, optional pacing call.
"""

from __future__ import annotations

import errno
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
from pyvirtualcam.util import decode_fourcc

from vcamstyle import v4l2
from vcamstyle.errors import SinkError

logger = logging.getLogger(__name__)

LOOPBACK_BACKEND_NAME = "vcamstyle-v4l2"
OUTPUT_FORMATS = ("yuyv", "i420", "rgb")
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


# --- colour conversion -------------------------------------------------------------------------------------


def rgb_to_yuyv(frame: np.ndarray) -> np.ndarray:
    """``HxWx3 uint8 RGB`` -> packed YUYV 4:2:2, ``HxWx2 uint8`` (BT.601, limited range); W must be even."""
    return cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_YUYV)


def rgb_to_i420(frame: np.ndarray) -> np.ndarray:
    """``HxWx3 uint8 RGB`` -> planar I420, ``(H*3/2)xW uint8``: Y plane, then U, then V at half resolution
    (BT.601, limited range); W and H must be even."""
    return cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)


_PIXEL_FORMATS: dict[str, tuple[pyvirtualcam.PixelFormat, Callable[[np.ndarray], np.ndarray] | None]] = {
    "yuyv": (pyvirtualcam.PixelFormat.YUYV, rgb_to_yuyv),
    "i420": (pyvirtualcam.PixelFormat.I420, rgb_to_i420),
    "rgb": (pyvirtualcam.PixelFormat.RGB, None),
}


def _check_format_size(pixel_format: str, width: int, height: int) -> None:
    if pixel_format not in _PIXEL_FORMATS:
        raise SinkError(f"unknown output format {pixel_format!r}", hint=f"use one of {', '.join(OUTPUT_FORMATS)}")
    if pixel_format in ("yuyv", "i420") and width % 2:
        raise SinkError(f"{pixel_format} output needs an even width, got {width}", hint="use an even output width")
    if pixel_format == "i420" and height % 2:
        raise SinkError(f"i420 output needs an even height, got {height}", hint="use an even output height")


# --- our v4l2loopback backend for pyvirtualcam ----------------------------------------------------------------


@dataclass(frozen=True)
class _V4L2Layout:
    v4l2_fourcc: str
    bytes_per_pixel_line: float  # bytesperline / width
    bytes_per_pixel_image: float  # sizeimage / (width * height)


# libyuv fourcc (pyvirtualcam.PixelFormat value) -> V4L2 pixel format and its buffer layout.
_V4L2_LAYOUTS: dict[str, _V4L2Layout] = {
    "YUY2": _V4L2Layout("YUYV", 2, 2),
    "UYVY": _V4L2Layout("UYVY", 2, 2),
    "I420": _V4L2Layout("YU12", 1, 1.5),
    "NV12": _V4L2Layout("NV12", 1, 1.5),
    "raw ": _V4L2Layout("RGB3", 3, 3),
    "24BG": _V4L2Layout("BGR3", 3, 3),
    "J400": _V4L2Layout("GREY", 1, 1),
}


def _loopback_choices(io: v4l2.DeviceIO, dev_dir: str, exclude: str | None = None) -> str:
    """The fix that names the loopback devices that exist, or the modprobe line when there are none."""
    devices = v4l2.list_devices(io, dev_dir)
    paths = [p for p in v4l2.loopback_paths(devices) if p != exclude]
    if paths:
        return f"set output.device to a v4l2loopback device: {', '.join(paths)} (or to auto)"
    return f"no v4l2loopback device exists: run `{v4l2.MODPROBE_COMMAND}` ({v4l2.PERSISTENT_SETUP})"


def _open_error(path: str, exc: OSError, io: v4l2.DeviceIO, dev_dir: str) -> SinkError:
    reason = v4l2.errno_text(exc)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return SinkError(f"permission denied opening {path} ({reason})",
                         hint=f"add your user to the video group: {v4l2.VIDEO_GROUP_FIX}")
    if exc.errno in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return SinkError(f"{path} does not exist ({reason})", hint=_loopback_choices(io, dev_dir, exclude=path))
    if exc.errno == errno.EBUSY:
        return SinkError(f"{path} is busy ({reason})",
                         hint="another program holds it; find it with `fuser -v " + path + "` and close it")
    return SinkError(f"cannot open {path} ({reason})", hint=_loopback_choices(io, dev_dir, exclude=path))


class LoopbackBackend:
    """A pyvirtualcam backend for v4l2loopback that sets the format and frame rate, calls STREAMON/STREAMOFF
    (the producer-restart workaround for v4l2loopback 0.12.5-0.12.7 with exclusive_caps=1) and raises
    :class:`SinkError` when a write fails.

    Sequence: open -> QUERYCAP -> S_FMT -> S_PARM -> STREAMON -> write()... -> STREAMOFF -> close.
    Extra keyword arguments (through ``pyvirtualcam.Camera(**kw)``): ``io`` (a :class:`v4l2.DeviceIO`),
    ``dev_dir`` (where to look for loopback nodes), ``failures`` (a list the opening SinkError is appended
    to, because pyvirtualcam flattens backend errors into a RuntimeError string).
    """

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None,
                 io: v4l2.DeviceIO | None = None, dev_dir: str = "/dev",
                 failures: list[BaseException] | None = None, **kw: Any) -> None:
        if kw:
            raise TypeError(f"unexpected arguments for {LOOPBACK_BACKEND_NAME}: {sorted(kw)}")
        self._io = io or v4l2.default_io()
        self._dev_dir = dev_dir
        self._fd: int | None = None
        self._streaming = False
        self._fourcc = fourcc
        try:
            self._path = device or self._find_device()
            self._open(width, height, fps, fourcc)
        except SinkError as exc:
            if failures is not None:
                failures.append(exc)
            raise

    def _find_device(self) -> str:
        devices = v4l2.list_devices(self._io, self._dev_dir)
        found = v4l2.find_loopback(devices)
        if found is not None:
            return found.path
        denied = [d.path for d in devices if d.error and d.error.startswith(("EACCES", "EPERM"))]
        busy = v4l2.loopback_paths(devices)
        if denied and not busy:
            raise SinkError(f"no readable v4l2loopback device: permission denied on {', '.join(denied)}",
                            hint=f"add your user to the video group: {v4l2.VIDEO_GROUP_FIX}")
        if busy:
            raise SinkError(f"every v4l2loopback device is in use by another producer: {', '.join(busy)}",
                            hint="stop the other program writing to it (see `fuser -v /dev/video*`), "
                                 "or add a device with devices=2 in the module options")
        raise SinkError("no v4l2loopback device found",
                        hint=f"run `{v4l2.MODPROBE_COMMAND}`; {v4l2.PERSISTENT_SETUP}")

    def _open(self, width: int, height: int, fps: float, fourcc: int) -> None:
        libyuv_code = decode_fourcc(fourcc)
        layout = _V4L2_LAYOUTS.get(libyuv_code)
        if layout is None:
            raise SinkError(f"pixel format {libyuv_code!r} is not supported by {LOOPBACK_BACKEND_NAME}",
                            hint=f"use one of {', '.join(OUTPUT_FORMATS)}")
        path = self._path
        try:
            self._fd = self._io.open(path, os.O_WRONLY)
        except OSError as exc:
            raise _open_error(path, exc, self._io, self._dev_dir) from exc
        try:
            self._configure(width, height, fps, layout)
        except BaseException:
            self.close()
            raise

    def _configure(self, width: int, height: int, fps: float, layout: _V4L2Layout) -> None:
        path, io, fd = self._path, self._io, self._fd
        assert fd is not None
        try:
            cap = v4l2.query_capability(io, fd)
        except OSError as exc:
            raise SinkError(f"{path} is not a V4L2 device ({v4l2.errno_text(exc)})",
                            hint=_loopback_choices(io, self._dev_dir, exclude=path)) from exc
        node = v4l2.VideoDevice(path=path, card=cap.card, driver=cap.driver, bus_info=cap.bus_info, caps=cap.caps)
        if not node.can_output:
            if node.is_loopback:
                raise SinkError(f"{path} (v4l2loopback \"{node.card}\") does not accept a producer now: "
                                "another program is probably writing to it",
                                hint=f"stop that program (`fuser -v {path}`), or "
                                     + _loopback_choices(io, self._dev_dir, exclude=path))
            raise SinkError(f"{path} is not a v4l2loopback device but a {node.role} (\"{node.card}\", "
                            f"driver {node.driver})", hint=_loopback_choices(io, self._dev_dir, exclude=path))
        if not node.is_loopback:
            logger.warning("%s is an output device with driver %r, not v4l2loopback; trying it anyway",
                           path, node.driver)

        bytesperline = int(width * layout.bytes_per_pixel_line)
        sizeimage = int(width * height * layout.bytes_per_pixel_image)
        pixelformat = v4l2.v4l2_fourcc(layout.v4l2_fourcc)
        try:
            got = v4l2.set_output_format(io, fd, width, height, pixelformat, bytesperline, sizeimage)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise SinkError(
                    f"Errno 22 (EINVAL) setting {width}x{height} {layout.v4l2_fourcc} on {path}: this is almost "
                    "always the wrong /dev/videoN (a real camera), or an app opened the loopback device first "
                    "with another format",
                    hint=_loopback_choices(io, self._dev_dir) + "; close apps that use the camera, then start again",
                ) from exc
            if exc.errno == errno.EBUSY:
                raise SinkError(f"{path} is busy: a consumer holds another format ({v4l2.errno_text(exc)})",
                                hint="close the apps that use the virtual camera, then start again") from exc
            raise SinkError(f"setting the format on {path} failed ({v4l2.errno_text(exc)})",
                            hint=_loopback_choices(io, self._dev_dir, exclude=path)) from exc
        if (got.width, got.height, got.pixelformat) != (width, height, pixelformat):
            raise SinkError(f"{path} kept {got.width}x{got.height} {got.fourcc} instead of "
                            f"{width}x{height} {layout.v4l2_fourcc}",
                            hint="another program fixed the format (or keep_format is set): close the apps using "
                                 "the device, or set the output size and format to match it")
        if got.sizeimage and got.sizeimage < sizeimage:
            raise SinkError(f"{path} takes {got.sizeimage}-byte frames, ours have {sizeimage}: frames would be cut",
                            hint="set output.format to yuyv, the format v4l2loopback handles everywhere")
        if got.sizeimage > sizeimage:
            logger.warning("%s: driver frame size %d is larger than ours (%d); apps may show padding",
                           path, got.sizeimage, sizeimage)
        try:
            v4l2.set_output_frame_rate(io, fd, fps)
        except OSError as exc:
            logger.warning("%s: could not set the frame rate to %g fps (%s); consumers see the driver default",
                           path, fps, v4l2.errno_text(exc))
        try:
            v4l2.stream_on(io, fd)
            self._streaming = True
        except OSError as exc:
            logger.warning("%s: STREAMON failed (%s); frames are still written, but on v4l2loopback 0.12.5-0.12.7 "
                           "with exclusive_caps=1 a restart may need the module reloaded", path, v4l2.errno_text(exc))
        logger.info("opened %s (\"%s\") for %dx%d %s at %g fps", path, node.card, width, height,
                    layout.v4l2_fourcc, fps)

    def send(self, frame: np.ndarray) -> None:
        """Write one frame (a 1-D C-contiguous uint8 array in the negotiated format)."""
        if self._fd is None:
            raise SinkError(f"{self._path} is closed", hint="reopen the virtual camera")
        data = memoryview(np.ascontiguousarray(frame)).cast("B")
        try:
            written = self._io.write(self._fd, data)
        except OSError as exc:
            raise self._write_error(exc) from exc
        if written != len(data):
            raise SinkError(f"short write to {self._path}: {written} of {len(data)} bytes",
                            hint="another program changed the device format; restart vcamstyle")

    def _write_error(self, exc: OSError) -> SinkError:
        reason = v4l2.errno_text(exc)
        if exc.errno in (errno.ENODEV, errno.ENXIO, errno.EIO, errno.EPIPE, errno.EBADF):
            hint = ("the device went away (v4l2loopback unloaded?); check with `vcamstyle doctor` and "
                    f"`{v4l2.MODPROBE_COMMAND}`")
        elif exc.errno == errno.EINVAL:
            hint = "the device format changed under us (another producer?); restart vcamstyle"
        else:
            hint = "check the device with `vcamstyle doctor`"
        return SinkError(f"writing a frame to {self._path} failed ({reason})", hint=hint)

    def close(self) -> None:
        """STREAMOFF (if streaming) then close; errors are logged, the descriptor is always released."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if self._streaming:
                v4l2.stream_off(self._io, fd)
        except OSError as exc:
            logger.warning("%s: STREAMOFF failed (%s)", self._path, v4l2.errno_text(exc))
        finally:
            self._streaming = False
            try:
                self._io.close(fd)
            except OSError as exc:
                logger.warning("%s: close failed (%s)", self._path, v4l2.errno_text(exc))

    def device(self) -> str:
        return self._path

    def native_fourcc(self) -> int | None:
        return self._fourcc


pyvirtualcam.register_backend(LOOPBACK_BACKEND_NAME, LoopbackBackend)


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
        _check_format_size(pixel_format, width, height)
        self._pixel_format = pixel_format
        fmt, self._convert = _PIXEL_FORMATS[pixel_format]
        self._backend_name = _resolve_backend(backend)
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
            raise SinkError(f"cannot open a {codec} video writer for {self._path}",
                            hint="check that the path is writable and OpenCV has video encoding (opencv-python)")
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
    """Counts and discards frames (benchmarks, headless tests)."""

    def __init__(self, width: int, height: int, fps: float, *, pace: bool = False,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(width, height, fps, pace=pace, clock=clock, sleep=sleep)

    def send(self, frame: np.ndarray) -> None:
        self._check_frame(frame)
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
        return NullSink(w, h, rate, pace=bool(s.pace), clock=clock, sleep=sleep)
    raise SinkError(f"unknown output kind {s.kind!r}", hint=f"use one of {', '.join(SINK_KINDS)}")
