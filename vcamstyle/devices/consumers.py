"""Who has the virtual camera open: the consumer watch behind ``output.on_demand`` and ``doctor``.

v4l2loopback 0.12.x sends no event when an app opens the device, so a watch combines two sources:

- inotify on the device node (``IN_OPEN``, ``IN_CLOSE_*``): wakes us when any process opens or closes
  it, at no cost in between;
- a count of the processes whose ``/proc/<pid>/fd`` holds the node (compared by device number, so
  ``/dev/v4l/by-id`` links and bind mounts match), leaving out our own process: the producer's own
  descriptor is never a consumer.

v4l2loopback 0.13+ also sends ``V4L2_EVENT_PRI_CLIENT_USAGE``; it is not used: the two sources above work
on every version, and an event would not say which apps hold the device (``status``, ``doctor``).

Not seen: processes whose ``/proc/<pid>/fd`` we may not read (another user's, unless the daemon runs as
root) and processes in a PID namespace that is not below ours. Their opens still fire inotify events,
but they are not counted, so they do not wake the daemon (set ``output.on_demand: false`` there).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import select
import stat
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

IN_OPEN = 0x00000020
IN_CLOSE_WRITE = 0x00000008
IN_CLOSE_NOWRITE = 0x00000010
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000


@dataclass(frozen=True)
class Holder:
    """A process that has the node open: its id and command name (``/proc/<pid>/comm``)."""

    pid: int
    command: str


class ConsumerWatch(Protocol):
    """Open/close notifications and the current consumers of one device node."""

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for an open or close of the node; True if one happened."""
        ...

    def holders(self) -> list[Holder]:
        """The other processes that have the node open now (never our own)."""
        ...

    def interrupt(self) -> None:
        """Make a blocked ``wait`` (in another thread) return now."""
        ...

    def close(self) -> None:
        """Release the watch (after the waiting thread has finished)."""
        ...


def _command(proc_root: str, pid: str) -> str:
    try:
        with open(os.path.join(proc_root, pid, "comm"), encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return "?"


def holders(path: str, proc_root: str = "/proc", exclude_pid: int | None = None) -> list[Holder]:
    """Processes (other than ``exclude_pid``, default: ours) with an open descriptor on the character device
    ``path``, by device number; processes whose descriptors we may not read are skipped (not counted)."""
    exclude = os.getpid() if exclude_pid is None else exclude_pid
    try:
        target = os.stat(path)
    except OSError as exc:
        log.debug("cannot stat %s: %s", path, exc)
        return []
    if not stat.S_ISCHR(target.st_mode):
        return []
    found: list[Holder] = []
    try:
        pids = [name for name in os.listdir(proc_root) if name.isdigit()]
    except OSError as exc:
        log.debug("cannot list %s: %s", proc_root, exc)
        return []
    for pid in pids:
        if int(pid) == exclude:
            continue
        fd_dir = os.path.join(proc_root, pid, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # another user's process, or it just exited
            continue
        for fd in fds:
            link = os.path.join(fd_dir, fd)
            try:
                if not os.readlink(link).startswith("/dev/"):
                    continue
                info = os.stat(link)
            except OSError:  # closed meanwhile
                continue
            if stat.S_ISCHR(info.st_mode) and info.st_rdev == target.st_rdev:
                found.append(Holder(int(pid), _command(proc_root, pid)))
                break
    return sorted(found, key=lambda h: h.pid)


class _Inotify:
    """A non-blocking inotify descriptor watching one path for opens and closes (Linux, through libc)."""

    def __init__(self, path: str) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), "inotify_init1")
        mask = IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE
        if libc.inotify_add_watch(fd, os.fsencode(path), mask) < 0:
            code = ctypes.get_errno()
            os.close(fd)
            raise OSError(code, os.strerror(code), path)
        self.fd = fd

    def drain(self) -> bool:
        """Read every pending event; True if there was at least one."""
        seen = False
        while True:
            try:
                data = os.read(self.fd, 4096)
            except BlockingIOError:
                return seen
            if not data:
                return seen
            seen = True

    def close(self) -> None:
        os.close(self.fd)


class NodeWatch:
    """:class:`ConsumerWatch` for a real device node: inotify events, holders from ``/proc``.

    Without inotify (another OS, or the watch limit reached) ``wait`` sleeps the full timeout and returns
    True, so the caller counts at its own pace instead of on events.
    """

    def __init__(self, path: str, proc_root: str = "/proc") -> None:
        self.path = path
        self._proc_root = proc_root
        self._wake_r, self._wake_w = os.pipe()
        try:
            self._inotify: _Inotify | None = _Inotify(path)
        except (OSError, AttributeError) as exc:  # AttributeError: no inotify_init1 in this libc
            log.warning("cannot watch %s for opens (%s); counting its consumers every few seconds instead", path, exc)
            self._inotify = None

    def wait(self, timeout: float) -> bool:
        readable = [self._wake_r] + ([self._inotify.fd] if self._inotify else [])
        try:
            ready, _, _ = select.select(readable, [], [], max(0.0, timeout))
        except OSError as exc:
            if exc.errno != errno.EINTR:
                raise
            return False
        if self._inotify is None:
            return True
        return self._inotify.fd in ready and self._inotify.drain()

    def holders(self) -> list[Holder]:
        return holders(self.path, self._proc_root)

    def interrupt(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError as exc:
            log.debug("waking the consumer watch: %s", exc)

    def close(self) -> None:
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
