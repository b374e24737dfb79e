"""A thin V4L2 layer: device discovery and the few ioctls a video *output* producer needs.

The ABI (structs, ioctl numbers) is in ``v4l2_abi``. Every device access goes through a
:class:`DeviceIO` object (open/close/ioctl/write), so tests and machines without ``/dev/video*`` can
swap in ``v4l2_sim.SimulatedDeviceIO``. Nothing here prints or exits; failures are ``OSError`` from the
device layer or :class:`~vcamstyle.errors.SinkError` where a user-facing message is due.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import logging
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

from vcamstyle.devices.consumers import ConsumerWatch, NodeWatch
from vcamstyle.devices.v4l2_abi import (
    V4L2_BUF_TYPE_VIDEO_OUTPUT,
    V4L2_CAP_DEVICE_CAPS,
    V4L2_CAP_META_CAPTURE,
    V4L2_CAP_TIMEPERFRAME,
    V4L2_CAP_VIDEO_CAPTURE,
    V4L2_CAP_VIDEO_CAPTURE_MPLANE,
    V4L2_CAP_VIDEO_M2M,
    V4L2_CAP_VIDEO_M2M_MPLANE,
    V4L2_CAP_VIDEO_OUTPUT,
    V4L2_CAP_VIDEO_OUTPUT_MPLANE,
    V4L2_COLORSPACE_SRGB,
    V4L2_FIELD_NONE,
    VIDIOC_G_FMT,
    VIDIOC_QUERYCAP,
    VIDIOC_S_FMT,
    VIDIOC_S_PARM,
    VIDIOC_STREAMOFF,
    VIDIOC_STREAMON,
    V4L2Capability,
    V4L2Format,
    V4L2StreamParm,
    fourcc_to_str,
)

logger = logging.getLogger(__name__)

LOOPBACK_DRIVER = "v4l2 loopback"

MODPROBE_COMMAND = "sudo modprobe v4l2loopback exclusive_caps=1 video_nr=10 card_label=vcamstyle"
INSTALL_COMMAND = "sudo apt install v4l2loopback-dkms"
VIDEO_GROUP_FIX = "sudo usermod -aG video $USER, then log out and back in"
#: The fix for "no v4l2loopback device": set the module up (now and at every boot), or by hand.
NO_LOOPBACK_HINT = ("run `vcamstyle setup loopback`: it loads the v4l2loopback module now and at every boot, and "
                    "names the package to install when the module is missing (by hand: "
                    f"`{INSTALL_COMMAND}` on Debian/Ubuntu, then `{MODPROBE_COMMAND}`)")



# --- device access ----------------------------------------------------------------------------------------


class DeviceIO(Protocol):
    """The system calls this module makes; every one raises ``OSError`` (with ``errno``) on failure."""

    def listdir(self, path: str) -> list[str]: ...

    def open(self, path: str, flags: int) -> int: ...

    def close(self, fd: int) -> None: ...

    def ioctl(self, fd: int, request: int, arg: ctypes.Structure | ctypes.c_int) -> None:
        """Run ``request`` on ``fd``; ``arg`` is read and filled in place."""
        ...

    def write(self, fd: int, data: memoryview) -> int: ...

    def watch(self, path: str) -> ConsumerWatch:
        """Open/close events and the other processes holding ``path`` (see ``consumers``)."""
        ...


class OsDeviceIO:
    """The real device layer: ``os.listdir``/``os.open``/``os.write`` and ``fcntl.ioctl``."""

    def listdir(self, path: str) -> list[str]:
        return os.listdir(path)

    def open(self, path: str, flags: int) -> int:
        return os.open(path, flags | os.O_CLOEXEC)

    def close(self, fd: int) -> None:
        os.close(fd)

    def ioctl(self, fd: int, request: int, arg: ctypes.Structure | ctypes.c_int) -> None:
        fcntl.ioctl(fd, request, arg, True)

    def write(self, fd: int, data: memoryview) -> int:
        return os.write(fd, data)

    def watch(self, path: str) -> ConsumerWatch:
        return NodeWatch(path)


def default_io() -> DeviceIO:
    """The device layer used when none is injected."""
    return OsDeviceIO()


def _c_string(raw: ctypes.Array) -> str:
    return bytes(raw).split(b"\0", 1)[0].decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Capability:
    """What ``VIDIOC_QUERYCAP`` says about a node; ``caps`` are the node's own (device_caps) bits."""

    driver: str
    card: str
    bus_info: str
    caps: int


def query_capability(io: DeviceIO, fd: int) -> Capability:
    """``VIDIOC_QUERYCAP``; uses ``device_caps`` when the driver fills it, else ``capabilities``."""
    cap = V4L2Capability()
    io.ioctl(fd, VIDIOC_QUERYCAP, cap)
    caps = cap.device_caps if cap.capabilities & V4L2_CAP_DEVICE_CAPS else cap.capabilities
    return Capability(_c_string(cap.driver), _c_string(cap.card), _c_string(cap.bus_info), int(caps))


@dataclass(frozen=True)
class PixFormat:
    """A single-planar pixel format as set or read with ``S_FMT``/``G_FMT``."""

    width: int
    height: int
    pixelformat: int
    bytesperline: int
    sizeimage: int

    @property
    def fourcc(self) -> str:
        return fourcc_to_str(self.pixelformat)


def set_output_format(io: DeviceIO, fd: int, width: int, height: int, pixelformat: int,
                      bytesperline: int, sizeimage: int) -> PixFormat:
    """``VIDIOC_S_FMT`` on the OUTPUT buffer type; returns the format the driver settled on."""
    fmt = V4L2Format()
    fmt.type = V4L2_BUF_TYPE_VIDEO_OUTPUT
    pix = fmt.fmt.pix
    pix.width, pix.height, pix.pixelformat = width, height, pixelformat
    pix.field = V4L2_FIELD_NONE
    pix.bytesperline, pix.sizeimage = bytesperline, sizeimage
    pix.colorspace = V4L2_COLORSPACE_SRGB
    io.ioctl(fd, VIDIOC_S_FMT, fmt)
    return _pix_of(fmt)


def get_format(io: DeviceIO, fd: int, buf_type: int = V4L2_BUF_TYPE_VIDEO_OUTPUT) -> PixFormat:
    """``VIDIOC_G_FMT`` for ``buf_type`` (OUTPUT by default)."""
    fmt = V4L2Format()
    fmt.type = buf_type
    io.ioctl(fd, VIDIOC_G_FMT, fmt)
    return _pix_of(fmt)


def _pix_of(fmt: V4L2Format) -> PixFormat:
    pix = fmt.fmt.pix
    return PixFormat(int(pix.width), int(pix.height), int(pix.pixelformat), int(pix.bytesperline), int(pix.sizeimage))


def _fill_pix(fmt: V4L2Format, pix_format: PixFormat) -> None:
    pix = fmt.fmt.pix
    pix.width, pix.height, pix.pixelformat = pix_format.width, pix_format.height, pix_format.pixelformat
    pix.bytesperline, pix.sizeimage = pix_format.bytesperline, pix_format.sizeimage


def fps_to_timeperframe(fps: float) -> tuple[int, int]:
    """Frames per second -> ``(numerator, denominator)`` seconds per frame (30 -> (1, 30), 29.97 -> (100, 2997))."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    rate = Fraction(fps).limit_denominator(1001)
    return rate.denominator, rate.numerator


def set_output_frame_rate(io: DeviceIO, fd: int, fps: float) -> tuple[int, int]:
    """``VIDIOC_S_PARM`` on OUTPUT with ``timeperframe = 1/fps``; returns the time per frame the driver kept."""
    parm = V4L2StreamParm()
    parm.type = V4L2_BUF_TYPE_VIDEO_OUTPUT
    out = parm.parm.output
    out.capability = V4L2_CAP_TIMEPERFRAME
    out.timeperframe.numerator, out.timeperframe.denominator = fps_to_timeperframe(fps)
    io.ioctl(fd, VIDIOC_S_PARM, parm)
    return int(out.timeperframe.numerator), int(out.timeperframe.denominator)


def stream_on(io: DeviceIO, fd: int, buf_type: int = V4L2_BUF_TYPE_VIDEO_OUTPUT) -> None:
    """``VIDIOC_STREAMON`` for ``buf_type``."""
    io.ioctl(fd, VIDIOC_STREAMON, ctypes.c_int(buf_type))


def stream_off(io: DeviceIO, fd: int, buf_type: int = V4L2_BUF_TYPE_VIDEO_OUTPUT) -> None:
    """``VIDIOC_STREAMOFF`` for ``buf_type``."""
    io.ioctl(fd, VIDIOC_STREAMOFF, ctypes.c_int(buf_type))


# --- discovery --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoDevice:
    """One ``/dev/videoN`` node as seen by ``VIDIOC_QUERYCAP`` (or the error that prevented it)."""

    path: str
    card: str = ""
    driver: str = ""
    bus_info: str = ""
    caps: int = 0
    error: str | None = None

    @property
    def is_loopback(self) -> bool:
        return self.driver == LOOPBACK_DRIVER

    @property
    def can_capture(self) -> bool:
        return bool(self.caps & (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_CAPTURE_MPLANE))

    @property
    def can_output(self) -> bool:
        return bool(self.caps & (V4L2_CAP_VIDEO_OUTPUT | V4L2_CAP_VIDEO_OUTPUT_MPLANE))

    @property
    def is_stuck(self) -> bool:
        """A loopback node that offers neither CAPTURE nor OUTPUT: left so by a producer that closed without
        STREAMOFF (v4l2loopback 0.12.x, issues #442/#504); :func:`unstick_loopback` repairs it."""
        return self.is_loopback and not self.can_output and not self.can_capture

    @property
    def role(self) -> str:
        """``loopback``, ``camera``, ``metadata``, ``codec``, ``output``, ``other`` or ``unreadable``."""
        if self.error is not None:
            return "unreadable"
        if self.is_loopback:
            return "loopback"
        if self.caps & (V4L2_CAP_VIDEO_M2M | V4L2_CAP_VIDEO_M2M_MPLANE):
            return "codec"
        if self.can_capture:
            return "camera"
        if self.caps & V4L2_CAP_META_CAPTURE:
            return "metadata"
        if self.can_output:
            return "output"
        return "other"

    def summary(self) -> str:
        """One line: path, role, card, driver and, for loopbacks, whether a producer can attach."""
        if self.error is not None:
            return f"{self.path}: cannot query ({self.error})"
        text = f"{self.path}: {self.role}, \"{self.card}\" (driver {self.driver})"
        if self.is_loopback:
            if self.can_output:
                text += ", ready for output"
            elif self.is_stuck:
                text += (", stuck after a producer that did not stop streaming (`vcamstyle start` repairs it)")
            else:
                text += ", no output capability now (another program is probably writing to it)"
        elif self.role == "metadata":
            text += ", metadata node of a camera (not a video stream)"
        return text


_VIDEO_NODE = re.compile(r"^video(\d+)$")


def scan_video_nodes(dev_dir: str | os.PathLike[str] = "/dev", io: DeviceIO | None = None) -> list[str]:
    """Paths of ``videoN`` entries in ``dev_dir``, sorted by N; empty when there are none."""
    io = io or default_io()
    root = Path(dev_dir)
    try:
        names = io.listdir(str(root))
    except FileNotFoundError:
        return []
    numbered = [(int(m.group(1)), name) for name in names if (m := _VIDEO_NODE.match(name))]
    return [str(root / name) for _, name in sorted(numbered)]


def probe_device(path: str, io: DeviceIO | None = None) -> VideoDevice:
    """Open ``path`` read-only, ``VIDIOC_QUERYCAP`` it, close it; an OSError becomes ``VideoDevice.error``."""
    io = io or default_io()
    try:
        fd = io.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        logger.debug("cannot open %s: %s", path, exc)
        return VideoDevice(path=path, error=errno_text(exc))
    try:
        cap = query_capability(io, fd)
    except OSError as exc:
        logger.debug("QUERYCAP failed on %s: %s", path, exc)
        return VideoDevice(path=path, error=errno_text(exc))
    finally:
        io.close(fd)
    return VideoDevice(path=path, card=cap.card, driver=cap.driver, bus_info=cap.bus_info, caps=cap.caps)


def list_devices(io: DeviceIO | None = None, dev_dir: str | os.PathLike[str] = "/dev") -> list[VideoDevice]:
    """Every ``videoN`` node under ``dev_dir``, probed; an empty list when there are none."""
    io = io or default_io()
    return [probe_device(path, io) for path in scan_video_nodes(dev_dir, io)]


def find_loopback(devices: list[VideoDevice]) -> VideoDevice | None:
    """The first v4l2loopback node that accepts a producer now (has the OUTPUT capability), else the first
    stuck one (repairable, see :func:`unstick_loopback`), else None."""
    for device in devices:
        if device.is_loopback and device.can_output:
            return device
    for device in devices:
        if device.is_stuck:
            return device
    return None


def unstick_loopback(io: DeviceIO, path: str) -> None:
    """Give a stuck v4l2loopback 0.12.x node back its OUTPUT capability without reloading the module.

    A producer that only write()s and closes (plain pyvirtualcam, ffmpeg) leaves the node with neither
    CAPTURE nor OUTPUT. ``open(O_WRONLY)`` + ``VIDIOC_STREAMON(OUTPUT)`` + ``close`` resets the driver's
    producer state; the STREAMON itself fails with EINVAL there (no format or buffers yet), which is
    expected and ignored. Other errors (the open) propagate as ``OSError``.
    """
    fd = io.open(path, os.O_WRONLY)
    try:
        stream_on(io, fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            logger.debug("%s: STREAMON during the repair failed with %s", path, errno_text(exc))
    finally:
        io.close(fd)


def loopback_paths(devices: list[VideoDevice]) -> list[str]:
    """Paths of all v4l2loopback nodes, busy or not."""
    return [d.path for d in devices if d.is_loopback]


def describe_devices(devices: list[VideoDevice]) -> str:
    """A short multi-line text: which node is a camera and which is a loopback (for errors and ``doctor``)."""
    if not devices:
        return "no /dev/video* devices (no camera connected, and the v4l2loopback module is not loaded)"
    lines = [device.summary() for device in devices]
    if not loopback_paths(devices):
        lines.append(f"no v4l2loopback device: {NO_LOOPBACK_HINT}")
    return "\n".join(lines)


def errno_text(exc: OSError) -> str:
    """``OSError`` -> "EACCES: Permission denied" (errno name and reason)."""
    name = errno.errorcode.get(exc.errno or 0, "")
    reason = exc.strerror or str(exc)
    return f"{name}: {reason}" if name else reason
