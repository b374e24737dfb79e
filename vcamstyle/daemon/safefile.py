"""Opening the daemon's runtime files (pidfile, status.json, the log) when anything may sit at their
paths: never following a planted symlink, never blocking on a FIFO or a device, never believing a file
of another user, never reading more than a bound.

``open_regular`` returns an fd for a regular file of ours, or None when the path is missing; anything
else raises ``UntrustedFileError`` (an ``OSError``, so callers that survive a vanished file survive
this too) with the reason.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from vcamstyle.paths import describe_kind


class UntrustedFileError(OSError):
    """The path holds something other than a regular file of ours."""


def open_regular(path: Path, flags: int = os.O_RDONLY, mode: int = 0o600) -> int | None:
    """An fd for ``path`` if it is a regular file owned by this user (``O_NOFOLLOW | O_NONBLOCK``;
    the fd is left non-blocking, which changes nothing for regular files). None when it is missing
    (and ``O_CREAT`` is not in ``flags``).

    Raises:
        UntrustedFileError: a symlink, a FIFO, a device, a directory, or another user's file.
        OSError: any other failure to open (permissions, ENOSPC on create).
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0), mode)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):  # a symlink; a directory; a FIFO for writing
            raise UntrustedFileError(exc.errno, f"{path} is not a regular file ({exc.strerror})") from exc
        raise
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = f"{path} is {describe_kind(info.st_mode)}, not a regular file"
    elif info.st_uid != os.geteuid():
        problem = f"{path} belongs to uid {info.st_uid}, not to you"
    if problem:
        os.close(fd)
        raise UntrustedFileError(errno.EPERM, problem)
    return fd


def read_bounded(path: Path, max_bytes: int) -> bytes | None:
    """At most ``max_bytes + 1`` bytes of a regular file of ours (so a caller can tell "too long");
    None when it is missing. Raises ``OSError`` (``UntrustedFileError`` included) otherwise."""
    fd = open_regular(path)
    if fd is None:
        return None
    try:
        chunks: list[bytes] = []
        remaining = max_bytes + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
