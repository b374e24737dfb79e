"""What ``vcamstyle stop`` did, and how concurrent stops agree on it.

A stop is SIGTERM, then a wait of up to ``STOP_TIMEOUT_S`` (the documented stop timeout, the same as
the unit's ``TimeoutStopSec``) for the daemon's orderly shutdown, then SIGKILL, which is said: in the
result, in a warning and as a line in the daemon's log (a killed daemon cannot write its own last
line). Stops are serialised by an exclusive ``flock`` on ``stop.lock`` in the runtime directory; each
one records its outcome in ``last-stop.json``. A stop that had to wait for another one reports that
one's outcome (same pid, same "stopped" or "killed") instead of "was not running": every concurrent
``stop`` tells the same truth, after the same end.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from vcamstyle import paths
from vcamstyle.daemon.pidfile import atomic_write_text
from vcamstyle.daemon.safefile import open_regular

logger = logging.getLogger("vcamstyle.daemon.control")

#: Seconds ``stop`` waits for the orderly shutdown before SIGKILL (``systemd/vcamstyle.service`` has
#: ``TimeoutStopSec=10`` to match).
STOP_TIMEOUT_S = 10.0
#: Seconds a killed daemon is given to vanish (it can only hang in the kernel).
KILL_WAIT_S = 5.0
#: Beyond the stop itself, how long a second ``stop`` waits for the first one's lock.
LOCK_MARGIN_S = 5.0
STOPPED, KILLED, NOT_RUNNING = "stopped", "killed", "not running"


@dataclass(frozen=True)
class StopResult:
    """``outcome``: ``stopped`` (orderly shutdown, exit by itself), ``killed`` (SIGKILL after
    ``timeout_s``) or ``not running``; ``pid`` of the daemon stopped; ``joined``: this ``stop`` waited
    for another one that was already stopping it and reports that one's outcome."""

    outcome: str
    pid: int | None = None
    timeout_s: float = STOP_TIMEOUT_S
    waited_s: float = 0.0
    via_systemd: bool = False
    finished_at: float = 0.0
    joined: bool = False

    @property
    def was_running(self) -> bool:
        return self.outcome != NOT_RUNNING

    def describe(self) -> str:
        """One line for the user."""
        if self.outcome == NOT_RUNNING:
            return "vcamstyle was not running"
        who = f"pid {self.pid}" if self.pid else "the systemd unit"
        also = "; another `vcamstyle stop` was already stopping it, this one waited for the same end" \
            if self.joined else ""
        if self.outcome == KILLED:
            return (f"vcamstyle ({who}) did not finish its shutdown within {self.timeout_s:g} s of SIGTERM and was "
                    f"killed (SIGKILL): a recording may be unfinished and the loopback device may need its "
                    f"producer restarted{also}")
        return f"vcamstyle stopped ({who}, orderly shutdown in {self.waited_s:.1f} s){also}"


def lock_path() -> Path:
    return paths.runtime_dir() / "stop.lock"


def record_path() -> Path:
    return paths.runtime_dir() / "last-stop.json"


@contextlib.contextmanager
def stop_lock(wait_s: float) -> Iterator[bool]:
    """Hold the stop lock (True), waiting up to ``wait_s`` for a stop under way; False when it could not
    be had in time or at all (the stop then goes on unserialised, logged)."""
    try:
        fd = open_regular(lock_path(), os.O_RDWR | os.O_CREAT)
    except OSError as exc:
        logger.warning("cannot open the stop lock %s (%s): stopping without it", lock_path(), exc.strerror or exc)
        yield False
        return
    assert fd is not None  # O_CREAT
    try:
        os.fchmod(fd, 0o600)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    logger.warning("another `vcamstyle stop` has held the stop lock for %g s: stopping without it",
                                   wait_s)
                    yield False
                    return
                time.sleep(0.05)
        yield True
    finally:
        os.close(fd)


def read_record() -> StopResult | None:
    """The last stop's result, None when there is none (or it is not ours to trust)."""
    try:
        fd = open_regular(record_path(), os.O_RDONLY)
    except OSError as exc:
        logger.debug("not reading %s: %s", record_path(), exc)
        return None
    if fd is None:
        return None
    try:
        data = json.loads(os.read(fd, 4096).decode("utf-8", "replace"))
        return StopResult(**{key: data[key] for key in StopResult.__dataclass_fields__ if key in data})
    except (ValueError, TypeError, OSError) as exc:
        logger.debug("ignoring an unreadable %s: %s", record_path(), exc)
        return None
    finally:
        os.close(fd)


def write_record(result: StopResult) -> None:
    """Record ``result`` for stops waiting on the lock (a failure is logged: they then stop themselves)."""
    try:
        atomic_write_text(record_path(), json.dumps(asdict(result)))
    except OSError as exc:
        logger.warning("cannot record the stop's result in %s: %s", record_path(), exc)


def serialised(stop_now: Callable[[], StopResult], timeout: float) -> StopResult:
    """Run ``stop_now()`` (returning a ``StopResult``) under the stop lock; a stop that finished while
    this one waited for the lock is reported instead (``joined``), without stopping again."""
    asked_at = time.time()
    with stop_lock(timeout + KILL_WAIT_S + LOCK_MARGIN_S):
        previous = read_record()
        if previous is not None and previous.was_running and previous.finished_at >= asked_at:
            return replace(previous, joined=True)
        result = stop_now()
        if result.was_running:
            result = replace(result, finished_at=time.time())
            write_record(result)
        return result


def note_kill_in_log(pid: int, timeout: float) -> None:
    """A line in the daemon's log where its own last line is missing (it was killed)."""
    line = (f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} vcamstyle stop: pid {pid} did not finish its shutdown "
            f"within {timeout:g} s of SIGTERM; killed it (SIGKILL)\n")
    try:
        fd = open_regular(paths.log_path(), os.O_WRONLY | os.O_APPEND)
    except OSError as exc:
        logger.debug("cannot note the kill in the log: %s", exc)
        return
    if fd is None:
        return
    try:
        os.write(fd, line.encode())
    except OSError as exc:
        logger.debug("cannot note the kill in the log: %s", exc)
    finally:
        os.close(fd)
