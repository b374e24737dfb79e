"""A simulated V4L2 device layer: fake ``/dev/videoN`` nodes that answer the producer's ioctls like
v4l2loopback and record every call. The test double for machines without video devices; never used
by default.
"""

from __future__ import annotations

import ctypes
import errno
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vcamstyle.devices.consumers import Holder

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
    V4L2_CAP_VIDEO_CAPTURE,
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

    v4l2loopback 0.12.x's restart bug: a producer that wrote frames and closed without STREAMOFF leaves the
    node ``stuck`` (QUERYCAP shows neither CAPTURE nor OUTPUT). STREAMON on a stuck node fails with EINVAL
    and, when ``repairable``, clears the stuck state (what the real 0.12.7 driver does).
    ``holders`` counts open descriptors per process id (the producer's under the simulated own pid,
    consumers' under theirs).
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
    stuck: bool = False
    repairable: bool = True
    holders: dict[int, int] = field(default_factory=dict)

    @property
    def announced_caps(self) -> int:
        """The capabilities QUERYCAP reports now (no CAPTURE or OUTPUT while stuck)."""
        return self.caps & ~(V4L2_CAP_VIDEO_OUTPUT | V4L2_CAP_VIDEO_CAPTURE) if self.stuck else self.caps


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

    def __init__(self, nodes: dict[str, SimulatedNode] | None = None, pid: int | None = None) -> None:
        self.nodes: dict[str, SimulatedNode] = dict(nodes or {})
        self.calls: list[SimulatedCall] = []
        self.pid = os.getpid() if pid is None else pid
        self._open: dict[int, str] = {}
        self._fd_state: dict[int, _FdState] = {}
        self._next_fd = 100
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str, str], None]] = []

    # --- other processes (consumers) and open/close events -----------------------------------------------

    def subscribe(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(event, path)`` ("open" or "close") on every open and close of any node."""
        self._listeners.append(listener)

    def _notify(self, event: str, path: str) -> None:
        for listener in list(self._listeners):
            listener(event, path)

    def _hold(self, node: SimulatedNode, pid: int, delta: int) -> None:
        with self._lock:
            count = node.holders.get(pid, 0) + delta
            if count > 0:
                node.holders[pid] = count
            else:
                node.holders.pop(pid, None)

    def consumer_open(self, path: str, pid: int) -> None:
        """Another process (``pid``) opens ``path`` for reading, as an app using the camera does."""
        self._hold(self.nodes[path], pid, +1)
        self._notify("open", path)

    def consumer_close(self, path: str, pid: int) -> None:
        """That process closes its descriptor again."""
        self._hold(self.nodes[path], pid, -1)
        self._notify("close", path)

    def other_holders(self, path: str) -> dict[int, int]:
        """Process id -> open descriptors on ``path``, without this (simulated) process's own."""
        node = self.nodes.get(path)
        with self._lock:
            return {pid: n for pid, n in (node.holders if node else {}).items() if pid != self.pid}

    def watch(self, path: str) -> "SimulatedConsumerWatch":
        """A consumer watch on ``path`` fed by this layer's open/close events."""
        return SimulatedConsumerWatch(self, path)

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
        self._fd_state[fd] = _FdState()
        self._hold(node, self.pid, +1)
        self._notify("open", path)
        return fd

    def close(self, fd: int) -> None:
        path = self._open.pop(fd, None)
        if path is None:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        self.calls.append(SimulatedCall("close", path))
        state = self._fd_state.pop(fd)
        node = self.nodes[path]
        if state.wrote and not state.streamed and node.driver == LOOPBACK_DRIVER:
            node.stuck = True  # v4l2loopback 0.12.x #442: a write-only producer leaves the node stuck
        self._hold(node, self.pid, -1)
        self._notify("close", path)

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
            arg.capabilities = node.announced_caps | V4L2_CAP_DEVICE_CAPS
            arg.device_caps = node.announced_caps
        elif request == VIDIOC_S_FMT and isinstance(arg, V4L2Format):
            if arg.type != V4L2_BUF_TYPE_VIDEO_OUTPUT or not node.announced_caps & V4L2_CAP_VIDEO_OUTPUT:
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
            if node.stuck:
                node.stuck = not node.repairable
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
            node.streaming = True
            self._fd_state[fd].streamed = True
        elif request == VIDIOC_STREAMOFF:
            node.streaming = False

    def write(self, fd: int, data: memoryview) -> int:
        path, node = self._node(fd)
        self.calls.append(SimulatedCall("write", path))
        if "write" in node.fail and len(node.frames) >= node.fail_write_after:
            self._raise_if(node, "write", path)
        node.frames.append(bytes(data))
        self._fd_state[fd].wrote = True
        return len(data)


@dataclass
class _FdState:
    wrote: bool = False
    streamed: bool = False


class SimulatedConsumerWatch:
    """A :class:`~vcamstyle.devices.consumers.ConsumerWatch` over a :class:`SimulatedDeviceIO` node: open and
    close events come from the layer, holders from its bookkeeping (the simulated own pid left out)."""

    def __init__(self, io: SimulatedDeviceIO, path: str) -> None:
        self._io = io
        self.path = path
        self._event = threading.Event()
        io.subscribe(self._on_event)

    def _on_event(self, event: str, path: str) -> None:
        if path == self.path:
            self._event.set()

    def wait(self, timeout: float) -> bool:
        happened = self._event.wait(max(0.0, timeout))
        self._event.clear()
        return happened

    def holders(self) -> list[Holder]:
        return [Holder(pid, f"consumer-{pid}") for pid in sorted(self._io.other_holders(self.path))]

    def interrupt(self) -> None:
        self._event.set()

    def close(self) -> None:
        """Nothing to release."""
