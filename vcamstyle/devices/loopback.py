"""Our v4l2loopback producer backend for pyvirtualcam (Linux), registered as ``vcamstyle-v4l2``.

Sets the format and frame rate on the loopback node, calls STREAMON/STREAMOFF, writes frames already in
the negotiated format, and raises :class:`~vcamstyle.errors.SinkError` with the fix in ``hint`` (the
loopback devices that exist, the modprobe line, the video group) when it cannot open or write.
"""

from __future__ import annotations

import errno
import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyvirtualcam
from pyvirtualcam.util import decode_fourcc

from vcamstyle.devices import v4l2, v4l2_abi
from vcamstyle.devices.pixfmt import OUTPUT_FORMATS
from vcamstyle.errors import SinkError

logger = logging.getLogger(__name__)

LOOPBACK_BACKEND_NAME = "vcamstyle-v4l2"


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
    return f"no v4l2loopback device exists: {v4l2.NO_LOOPBACK_HINT}"


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
        raise SinkError("no v4l2loopback device found", hint=v4l2.NO_LOOPBACK_HINT)

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
        pixelformat = v4l2_abi.v4l2_fourcc(layout.v4l2_fourcc)
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
