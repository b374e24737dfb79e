"""A simulated V4L2 device layer: fake ``/dev/videoN`` nodes that answer the producer's ioctls like
v4l2loopback and record every call. The test double for machines without video devices; never used
by default.
"""

from __future__ import annotations

import ctypes
import errno
import os
from dataclasses import dataclass, field
from pathlib import Path

from vcamstyle.devices.v4l2 import (
    LOOPBACK_DRIVER,
    PixFormat,
    _fill_pix,
    _pix_of,
)
from vcamstyle.devices.v4l2_abi import (
    IOCTL_NAMES,
    V4L2_BUF_TYPE_VIDEO_OUTPUT,
    V4L2_CAP_DEVICE_CAPS,
    V4L2_CAP_READWRITE,
    V4L2_CAP_STREAMING,
    V4L2_CAP_VIDEO_OUTPUT,
    VIDIOC_G_FMT,
    VIDIOC_QUERYCAP,
    VIDIOC_S_FMT,
    VIDIOC_S_PARM,
    VIDIOC_STREAMOFF,
    VIDIOC_STREAMON,
    V4L2Capability,
    V4L2Format,
    V4L2StreamParm,
)

# --- a simulated device layer -----------------------------------------------------------------------------


@dataclass
class SimulatedNode:
    """One fake ``/dev/videoN`` for :class:`SimulatedDeviceIO`.

    ``fail`` maps an operation ("open", "QUERYCAP", "S_FMT", "S_PARM", "STREAMON", "STREAMOFF", "write")
    to the errno it raises; ``fail_write_after`` lets that many writes succeed before ``write`` fails;
    ``fixed_format`` is a format S_FMT answers with whatever was asked (like ``keep_format`` or a consumer
    holding the device).
    """

    driver: str = LOOPBACK_DRIVER
    card: str = "vcamstyle"
    caps: int = V4L2_CAP_VIDEO_OUTPUT | V4L2_CAP_READWRITE | V4L2_CAP_STREAMING
    fail: dict[str, int] = field(default_factory=dict)
    fail_write_after: int = 0
    fixed_format: PixFormat | None = None
    format: PixFormat | None = None
    timeperframe: tuple[int, int] | None = None
    streaming: bool = False
    frames: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class SimulatedCall:
    """One recorded call: operation, node path and, for ioctls, a copy of the argument bytes as passed."""

    op: str
    path: str
    arg: bytes = b""


class SimulatedDeviceIO:
    """An in-memory device layer that answers the ioctls above like a V4L2 driver and records every call.

    A test double for machines without ``/dev/video*`` (unit and integration tests); never used by default.
    """

    def __init__(self, nodes: dict[str, SimulatedNode] | None = None) -> None:
        self.nodes: dict[str, SimulatedNode] = dict(nodes or {})
        self.calls: list[SimulatedCall] = []
        self._open: dict[int, str] = {}
        self._next_fd = 100

    def listdir(self, path: str) -> list[str]:
        root = Path(path)
        return [Path(p).name for p in self.nodes if Path(p).parent == root]

    def ops(self, path: str | None = None) -> list[str]:
        """Operation names in call order (optionally for one node)."""
        return [c.op for c in self.calls if path is None or c.path == path]

    def _raise_if(self, node: SimulatedNode, op: str, path: str) -> None:
        if op in node.fail:
            code = node.fail[op]
            raise OSError(code, os.strerror(code), path)

    def open(self, path: str, flags: int) -> int:
        self.calls.append(SimulatedCall("open", path))
        node = self.nodes.get(path)
        if node is None:
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        self._raise_if(node, "open", path)
        fd = self._next_fd
        self._next_fd += 1
        self._open[fd] = path
        return fd

    def close(self, fd: int) -> None:
        path = self._open.pop(fd, None)
        if path is None:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        self.calls.append(SimulatedCall("close", path))

    def _node(self, fd: int) -> tuple[str, SimulatedNode]:
        path = self._open.get(fd)
        if path is None:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return path, self.nodes[path]

    def ioctl(self, fd: int, request: int, arg: ctypes.Structure | ctypes.c_int) -> None:
        path, node = self._node(fd)
        op = IOCTL_NAMES.get(request, f"ioctl {request:#x}")
        self.calls.append(SimulatedCall(op, path, bytes(arg)))
        self._raise_if(node, op, path)
        if request == VIDIOC_QUERYCAP and isinstance(arg, V4L2Capability):
            ctypes.memset(ctypes.addressof(arg), 0, ctypes.sizeof(arg))
            for name, text in (("driver", node.driver), ("card", node.card), ("bus_info", f"platform:{node.card}")):
                target = getattr(arg, name)
                raw = text.encode()[: len(target) - 1]
                target[: len(raw)] = raw
            arg.capabilities = node.caps | V4L2_CAP_DEVICE_CAPS
            arg.device_caps = node.caps
        elif request == VIDIOC_S_FMT and isinstance(arg, V4L2Format):
            if arg.type != V4L2_BUF_TYPE_VIDEO_OUTPUT or not node.caps & V4L2_CAP_VIDEO_OUTPUT:
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
            node.format = node.fixed_format or _pix_of(arg)
            _fill_pix(arg, node.format)
        elif request == VIDIOC_G_FMT and isinstance(arg, V4L2Format):
            if node.format is None:
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
            _fill_pix(arg, node.format)
        elif request == VIDIOC_S_PARM and isinstance(arg, V4L2StreamParm):
            tpf = arg.parm.output.timeperframe
            node.timeperframe = (int(tpf.numerator), int(tpf.denominator))
        elif request == VIDIOC_STREAMON:
            node.streaming = True
        elif request == VIDIOC_STREAMOFF:
            node.streaming = False

    def write(self, fd: int, data: memoryview) -> int:
        path, node = self._node(fd)
        self.calls.append(SimulatedCall("write", path))
        if "write" in node.fail and len(node.frames) >= node.fail_write_after:
            self._raise_if(node, "write", path)
        node.frames.append(bytes(data))
        return len(data)
