"""Pidfile for the non-systemd path: a lock the daemon holds, not a number to guess from.

The daemon (``vcamstyle run``) opens the pidfile, takes an exclusive ``flock`` on it and keeps the
file open for its whole life; it writes ``"<pid> <start ticks>"`` (the start time of the process, field
22 of ``/proc/<pid>/stat``). The kernel drops the lock when the daemon exits, however it exits.

Another process asks "is the daemon alive?" (``PidFile.live_pid``) like this:

1. The file must be a regular file owned by the caller (opened ``O_NOFOLLOW | O_NONBLOCK``, read
   bounded). Anything else is not trusted: a symlink, a FIFO, another user's file.
2. If a shared ``flock`` can be taken, nobody holds the lock: the daemon is gone (stale file).
3. The lock is held: the recorded pid counts only if that process still exists and, where ``/proc``
   tells, its start time equals the recorded one. A pid reused by an unrelated program (``tail -f
   vcamstyle.log``) has another start time and is never taken for the daemon; no command-line
   matching is involved.

``atomic_write_text`` (temp file in the same directory, then ``os.replace``) is used for status.json.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from vcamstyle import paths
from vcamstyle.daemon.safefile import UntrustedFileError, open_regular
from vcamstyle.errors import ControlError

logger = logging.getLogger(__name__)

#: A pidfile is one short line; anything longer is not ours.
MAX_PIDFILE_BYTES = 128
#: How long ``create`` retries the lock (a reader holds its shared lock for microseconds).
LOCK_RETRY_S = 1.0


def atomic_write_text(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically with the given permission bits.

    The temp file lives in the same directory so ``os.replace`` is a rename on one filesystem.
    On failure (ENOSPC, EACCES) the temp file is removed, the previous content of ``path`` is
    untouched and the ``OSError`` propagates.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


def _is_zombie(pid: int) -> bool:
    stat_fields = _stat_fields(pid)
    return bool(stat_fields) and stat_fields[0] == "Z"


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (field 3 onwards); None where unreadable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # "pid (comm) S ...": comm may contain spaces and parentheses, the state follows the last ')'.
    return text.rpartition(")")[2].split()


def process_start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat`` field 22); None where unknown."""
    fields = _stat_fields(pid)
    try:
        return int(fields[19]) if fields else None
    except (IndexError, ValueError):
        return None


def process_exists(pid: int) -> bool:
    """True if a (non-zombie) process with this pid exists, whoever owns it."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # EPERM: it exists, it is just not ours to signal
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return False
        raise
    return not _is_zombie(pid)


def process_uptime(pid: int) -> float | None:
    """Seconds since ``pid`` started, from /proc; None where /proc does not tell."""
    start_ticks = process_start_ticks(pid)
    try:
        boot_uptime = float(Path("/proc/uptime").read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError) as exc:
        logger.debug("cannot read /proc/uptime: %s", exc)
        return None
    if start_ticks is None:
        return None
    return max(0.0, boot_uptime - start_ticks / os.sysconf("SC_CLK_TCK"))


@dataclass(frozen=True)
class PidRecord:
    """What a pidfile says: the daemon's pid and its start time (None in a file without one)."""

    pid: int
    start_ticks: int | None


def parse_record(text: str) -> PidRecord | None:
    """``"<pid> [<start ticks>]"`` -> PidRecord; None for anything else."""
    parts = text.split()
    if not parts or len(parts) > 2 or not all(p.isdigit() for p in parts):
        return None
    pid = int(parts[0])
    if pid <= 0:
        return None
    return PidRecord(pid, int(parts[1]) if len(parts) == 2 else None)


def _open_trusted(path: Path, flags: int) -> int | None:
    """An fd for ``path`` if it is a regular file owned by us (never follows a symlink, never blocks on
    a FIFO); None when it is missing or is anything else (logged)."""
    try:
        return open_regular(path, flags)
    except OSError as exc:
        logger.warning("not trusting pidfile %s: %s", path, exc.strerror or exc)
        return None


def _read_fd(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, MAX_PIDFILE_BYTES + 1)[:MAX_PIDFILE_BYTES + 1].decode("ascii", "replace")


class PidFile:
    """A pidfile at ``path`` (default ``paths.pidfile_path()``)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.pidfile_path()
        self._fd: int | None = None  # set while this process holds the lock (the daemon)
        self._written_pid: int | None = None

    # ------------------------------------------------------------ reading (any process)
    def read_record(self) -> PidRecord | None:
        """The recorded pid and start time; None when missing, untrusted or not a pid line."""
        fd = _open_trusted(self.path, os.O_RDONLY)
        if fd is None:
            return None
        try:
            text = _read_fd(fd)
        finally:
            os.close(fd)
        if len(text) > MAX_PIDFILE_BYTES:
            logger.debug("pidfile %s is too long to be a pidfile", self.path)
            return None
        record = parse_record(text)
        if record is None:
            logger.debug("pidfile %s holds %r, not a pid", self.path, text[:40])
        return record

    def read(self) -> int | None:
        """The recorded pid; None when the file is missing, untrusted, empty or not a positive integer."""
        record = self.read_record()
        return record.pid if record else None

    def lock_held(self) -> bool | None:
        """True while some process holds the daemon's lock; False when nobody does; None when the
        file is missing or untrusted."""
        if self._fd is not None:
            return True
        fd = _open_trusted(self.path, os.O_RDONLY)
        if fd is None:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError as exc:  # a filesystem without flock: cannot tell
            logger.debug("cannot test the lock on %s: %s", self.path, exc)
            return None
        finally:
            os.close(fd)  # closing drops a shared lock we may have taken
        return False

    def live_pid(self) -> int | None:
        """The daemon's pid if it is alive (lock held, same process as recorded), else None."""
        if self._fd is not None:
            return self._written_pid
        record = self.read_record()
        if record is None:
            return None
        held = self.lock_held()
        if held is False:
            return None
        if not process_exists(record.pid):
            return None
        actual = process_start_ticks(record.pid)
        if record.start_ticks is not None and actual is not None and actual != record.start_ticks:
            logger.info("pid %d now belongs to another process (started at tick %d, not %d): the pidfile is stale",
                        record.pid, actual, record.start_ticks)
            return None
        if held is None and record.start_ticks is None:
            logger.debug("pidfile %s: no lock and no start time to check; trusting that pid %d exists",
                         self.path, record.pid)
        return record.pid

    def is_stale(self) -> bool:
        """True when the file exists but records no live daemon."""
        return os.path.lexists(self.path) and self.live_pid() is None

    # ------------------------------------------------------------ the daemon's side
    def _acquire(self) -> int:
        """Open the file (created 0600), lock it exclusively; returns the fd. Raises ControlError."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        deadline = time.monotonic() + LOCK_RETRY_S
        while True:
            try:
                fd = open_regular(self.path, os.O_RDWR | os.O_CREAT)
            except UntrustedFileError as exc:
                raise ControlError(f"refusing to use the pidfile: {exc.strerror}",
                                   hint=f"remove {self.path}; it was not written by vcamstyle") from exc
            assert fd is not None  # O_CREAT
            info = os.fstat(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                recorded = self.read()
                raise ControlError(f"vcamstyle is already running (pid {recorded})",
                                   hint="stop it with `vcamstyle stop`; `vcamstyle status` shows it") from None
            # The file we locked must still be the one at the path (a stopping daemon unlinks it).
            try:
                same = os.stat(self.path, follow_symlinks=False).st_ino == info.st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)

    def create(self, pid: int | None = None) -> None:
        """Take the lock and record ``pid`` (default: this process) with its start time.

        Raises:
            ControlError: another daemon holds the lock, or the path is not a regular file of ours.
        """
        pid = os.getpid() if pid is None else pid
        if self._fd is not None:
            return
        fd = self._acquire()
        try:
            previous = _read_fd(fd).strip()
            if previous:
                logger.info("replacing stale pidfile %s (%s)", self.path, previous[:40])
            start = process_start_ticks(pid)
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, (f"{pid} {start}\n" if start is not None else f"{pid}\n").encode("ascii"))
            os.fchmod(fd, 0o600)
        except OSError as exc:
            os.close(fd)
            raise ControlError(f"cannot write the pidfile {self.path}: {exc.strerror or exc}",
                               hint="free space in the runtime directory, or check its permissions") from exc
        self._fd = fd
        self._written_pid = pid

    def ensure(self) -> bool:
        """For the daemon: put the pidfile back if it vanished or was replaced (the runtime directory
        cleaned under a running daemon), so ``status``/``stop`` still find it. True if it was rewritten.

        Raises:
            ControlError: another daemon has taken the pidfile meanwhile, or it cannot be written.
        """
        if self._fd is None:
            return False
        try:
            if os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(self._fd).st_ino:
                return False
        except FileNotFoundError:
            pass
        pid = self._written_pid
        os.close(self._fd)
        self._fd = None
        logger.warning("the pidfile %s vanished or was replaced; writing it again", self.path)
        self.create(pid)
        return True

    def unlink(self, pid: int | None = None) -> bool:
        """Remove the file: the daemon removes its own (then drops the lock); another process removes
        it only when it records ``pid`` and nobody holds the lock. True if the file was removed."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                same = os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
                if same:
                    self.path.unlink()
                return same
            except FileNotFoundError:
                return False
            finally:
                os.close(fd)
        expected = pid if pid is not None else (self._written_pid or os.getpid())
        if self.read() != expected or self.lock_held():
            return False
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    def remove(self) -> None:
        """Remove a stale file whatever it holds (never one whose lock is held)."""
        if self.lock_held():
            return
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> PidFile:
        self.create()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.unlink()
