"""Pidfile for the non-systemd path (gunicorn semantics, written from its documented behaviour).

The daemon (``vcamstyle run``) records its own pid at start and removes the file at exit:

    with PidFile() as pidfile:      # create(): refuses if a live vcamstyle pid is recorded
        run_until_stopped()         # unlink() on exit: only if the file still holds our pid

Liveness of a recorded pid:

1. ``os.kill(pid, 0)``: ``ESRCH`` means the process is gone (stale), ``EPERM`` means it exists but
   belongs to someone else (alive).
2. A zombie (``Z`` in ``/proc/<pid>/stat``) has exited and counts as gone.
3. Pid reuse guard: where ``/proc/<pid>/cmdline`` is readable (Linux), the process counts only if one
   of its arguments contains the marker ``"vcamstyle"`` (``python -m vcamstyle run``,
   ``~/.local/bin/vcamstyle run``). After a crash and a reboot, an unrelated process may hold the old
   pid; without this check ``start`` would refuse forever. Where ``/proc`` is missing or unreadable
   the ``kill`` result alone decides.

Writes are atomic: a temp file in the same directory (``mkstemp``, mode 0600), then ``os.replace``,
so a reader never sees a half-written pid.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
from pathlib import Path
from types import TracebackType

from vcamstyle import paths
from vcamstyle.errors import ControlError

logger = logging.getLogger(__name__)

#: A live pid counts as vcamstyle only if an argument of its command line contains this.
PROCESS_MARKER = "vcamstyle"


def atomic_write_text(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically with the given permission bits.

    The temp file lives in the same directory so ``os.replace`` is a rename on one filesystem.
    On failure the temp file is removed and the previous content of ``path`` is untouched.
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


def process_cmdline(pid: int) -> list[str] | None:
    """The process's argument list from ``/proc/<pid>/cmdline``; None where unreadable."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError as exc:
        logger.debug("cannot read the command line of pid %d: %s", pid, exc)
        return None
    if not raw:  # kernel threads and zombies have an empty cmdline
        return None
    return [arg.decode("utf-8", "replace") for arg in raw.rstrip(b"\0").split(b"\0")]


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    # "pid (comm) S ...": comm may contain spaces and parentheses, the state follows the last ')'.
    fields = stat.rpartition(")")[2].split()
    return bool(fields) and fields[0] == "Z"


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


def is_vcamstyle_process(pid: int, marker: str = PROCESS_MARKER) -> bool:
    """True if ``pid`` is alive and, where ``/proc`` tells, runs vcamstyle (see the module doc)."""
    if not process_exists(pid):
        return False
    argv = process_cmdline(pid)
    if argv is None:
        return True  # cannot tell: trust the kill probe
    if any(marker in arg for arg in argv):
        return True
    logger.info("pid %d is alive but is not vcamstyle (%s): the pidfile is stale", pid, " ".join(argv)[:200])
    return False


def process_uptime(pid: int) -> float | None:
    """Seconds since ``pid`` started, from /proc; None where /proc does not tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        boot_uptime = float(Path("/proc/uptime").read_text(encoding="ascii").split()[0])
        start_ticks = int(stat.rpartition(")")[2].split()[19])  # field 22 of stat(5)
    except (OSError, ValueError, IndexError) as exc:
        logger.debug("cannot read the start time of pid %d: %s", pid, exc)
        return None
    return max(0.0, boot_uptime - start_ticks / os.sysconf("SC_CLK_TCK"))


class PidFile:
    """A pidfile at ``path`` (default ``paths.pidfile_path()``)."""

    def __init__(self, path: Path | None = None, *, marker: str = PROCESS_MARKER) -> None:
        self.path = Path(path) if path is not None else paths.pidfile_path()
        self.marker = marker
        self._written_pid: int | None = None

    def read(self) -> int | None:
        """The recorded pid; None when the file is missing, empty or not a positive integer."""
        try:
            text = self.path.read_text(encoding="ascii", errors="replace").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.debug("cannot read pidfile %s: %s", self.path, exc)
            return None
        try:
            pid = int(text)
        except ValueError:
            logger.debug("pidfile %s holds %r, not a pid", self.path, text[:40])
            return None
        return pid if pid > 0 else None

    def live_pid(self) -> int | None:
        """The recorded pid if that process is alive and is vcamstyle, else None."""
        pid = self.read()
        if pid is None:
            return None
        return pid if is_vcamstyle_process(pid, self.marker) else None

    def is_stale(self) -> bool:
        """True when the file exists but records no live vcamstyle process."""
        return self.path.exists() and self.live_pid() is None

    def create(self, pid: int | None = None) -> None:
        """Record ``pid`` (default: this process), replacing a stale file.

        Raises:
            ControlError: another live vcamstyle process is recorded.
        """
        pid = os.getpid() if pid is None else pid
        recorded = self.live_pid()
        if recorded is not None and recorded != pid:
            raise ControlError(
                f"vcamstyle is already running (pid {recorded})",
                hint=f"stop it with `vcamstyle stop`; if pid {recorded} is not vcamstyle, delete {self.path}",
            )
        if recorded is None and self.path.exists():
            logger.info("replacing stale pidfile %s (pid %s)", self.path, self.read())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, f"{pid}\n")
        self._written_pid = pid

    def unlink(self, pid: int | None = None) -> bool:
        """Remove the file if it still holds ``pid`` (default: the pid we wrote, else ours).

        Returns True if the file was removed. A file that another process has taken over is left alone.
        """
        expected = pid if pid is not None else (self._written_pid or os.getpid())
        if self.read() != expected:
            return False
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    def remove(self) -> None:
        """Remove the file whatever it holds (for cleaning a stale file)."""
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
