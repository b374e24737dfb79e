"""The detached daemon's log file read as lines: its tail, following it as it grows, and what a daemon
that exited during startup said (its own ``vcamstyle: ...`` / ``fix: ...`` lines first).

Bounded reads (a huge or runaway log is never read whole); bytes decoded as UTF-8 with replacement.
Only a regular file of this user is read (a FIFO or a device at the path would block or never end).
The daemon writes its log through ``one_line_handler``: one line per record, control characters escaped.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from vcamstyle.daemon.safefile import open_regular
from vcamstyle.errors import ControlError
from vcamstyle.paths import printable

logger = logging.getLogger(__name__)


class OneLineFormatter(logging.Formatter):
    """Log records with control characters escaped (``paths.printable``): a file name with a newline
    cannot split a record or forge one; a traceback after the record keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))


def one_line_handler(stream: IO[str], fmt: str) -> logging.Handler:
    """A handler writing ``stream`` through ``OneLineFormatter``."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter(fmt))
    return handler


def read_log_tail(path: Path, lines: int, start: int = 0, max_bytes: int = 65536) -> list[str]:
    """The last ``lines`` lines of ``path`` written after byte offset ``start``."""
    try:
        fd = open_regular(path)
        if fd is None:
            return []
        with os.fdopen(fd, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(start, size - max_bytes))
            data = handle.read()
    except OSError as exc:
        logger.debug("cannot read log %s: %s", path, exc)
        return []
    return data.decode("utf-8", "replace").splitlines()[-lines:] if lines > 0 else []


def _last_lines(handle: IO[bytes], count: int, block: int = 8192) -> tuple[list[bytes], bytes]:
    """The last ``count`` complete lines before the end of ``handle`` and the unfinished tail line.
    Leaves the file position at the end."""
    end = handle.seek(0, os.SEEK_END)
    position, data = end, b""
    while position > 0 and data.count(b"\n") <= count:
        step = min(block, position)
        position -= step
        handle.seek(position)
        data = handle.read(step) + data
    handle.seek(end)
    *complete, partial = data.split(b"\n")
    if position > 0 and complete:
        complete = complete[1:]  # the first piece may be the end of an earlier line
    return (complete[-count:] if count > 0 else []), partial


def follow_log_lines(
    path: Path, lines: int, follow: bool, stop_event: threading.Event | None, poll_interval: float
) -> Iterator[str]:
    try:
        fd = open_regular(path)
    except OSError as exc:  # a FIFO or a device would block or never end: refuse it
        raise ControlError(f"cannot read the log {path}: {exc.strerror or exc}",
                           hint=f"remove {path}; `vcamstyle start` writes a new one") from exc
    if fd is None:
        raise ControlError(f"no log file at {path}",
                           hint="`vcamstyle start` writes it; a daemon run by systemd logs to the journal")
    handle = os.fdopen(fd, "rb")
    try:
        complete, partial = _last_lines(handle, lines)
        if not follow:
            if partial:  # the daemon is mid-line: show what it has written so far
                complete = [*complete, partial][-lines:] if lines > 0 else []
            for raw in complete:
                yield raw.decode("utf-8", "replace")
            return
        for raw in complete:
            yield raw.decode("utf-8", "replace")
        while stop_event is None or not stop_event.is_set():
            chunk = handle.read()
            if chunk:
                *complete, partial = (partial + chunk).split(b"\n")
                for raw in complete:
                    yield raw.decode("utf-8", "replace")
                continue
            try:
                current_size = os.stat(path).st_size
            except FileNotFoundError:
                current_size = None
            if current_size is not None and current_size < handle.tell():
                logger.debug("log %s was truncated; reading from its start", path)
                handle.seek(0)
                partial = b""
            if stop_event is not None:
                stop_event.wait(poll_interval)
            else:
                time.sleep(poll_interval)
    finally:
        handle.close()


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def startup_failure(returncode: int, tail: list[str], log_path: Path) -> ControlError:
    """The error of a daemon that exited during startup: its own message and fix first (the
    ``vcamstyle: ...`` / ``  fix: ...`` lines it printed), then the last log lines for context."""
    message = next((line[len("vcamstyle: "):] for line in reversed(tail) if line.startswith("vcamstyle: ")), None)
    hint = next((line.strip()[len("fix: "):] for line in reversed(tail) if line.strip().startswith("fix: ")), None)
    context = "\n".join(f"  {line}" for line in tail if not line.startswith("vcamstyle: ")
                        and not line.strip().startswith("fix: "))
    if message:
        text = f"vcamstyle {describe_exit(returncode)} during startup: {message}"
    else:
        text = f"vcamstyle {describe_exit(returncode)} during startup" + (
            "" if context else " without writing to its log")
    if context:
        text += f"\nlast log lines:\n{context}"
    return ControlError(text, hint=(f"{hint}; full log: {log_path}" if hint else
                                    f"see the full log, {log_path}, then run `vcamstyle start` again"))
