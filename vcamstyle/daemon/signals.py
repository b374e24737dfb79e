"""Signals turned into calls on an ordinary thread, so that a storm of them is harmless.

A Python signal handler runs in the main thread between two bytecodes, possibly while that thread
holds a lock (inside ``Event.set``, a logging handler, a ``Condition``). A handler that takes any lock
can therefore deadlock the daemon. The handlers here only set a flag and write one byte to a
non-blocking pipe (a full pipe just drops the byte: a wakeup is already pending). The dispatcher
thread sleeps on the pipe and runs the callbacks, once per burst: a hundred SIGHUPs become one or two
reloads, and SIGTERM is always noticed.

The handlers stay installed for the whole shutdown: a second (or tenth) SIGTERM, SIGINT or `vcamstyle
stop` while the daemon closes its parts is logged and ignored, so one orderly shutdown always
finishes (a default handler restored early would let a late signal kill the daemon mid-close, exit
143, with a recording left without its index). When the inbox closes in a real daemon process, stop
signals become "ignore" until it exits; an embedding program (a test, a benchmark) gets its own
handlers back.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class SignalInbox:
    """Routes SIGTERM/SIGINT to ``on_stop`` and SIGHUP to ``on_reload``, both called from its own thread;
    SIGUSR1/SIGUSR2 (whose default action would end the daemon) are ignored."""

    def __init__(self, on_stop: Callable[[], None], on_reload: Callable[[], None]) -> None:
        self.on_stop = on_stop
        self.on_reload = on_reload
        self._read_fd, self._write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._stop_flag = False
        self._stop_signum = signal.SIGTERM  # the latest stop signal (a plain store: safe in a handler)
        self._reload_flag = False
        self._closing = False
        self._thread = threading.Thread(target=self._dispatch, name="signals", daemon=True)
        self._previous: dict[int, Any] = {}
        #: How many signals arrived, per kind (diagnostics for tests and logs).
        self.received = {"stop": 0, "reload": 0}

    # ---------------------------------------------------------------- in the signal handler: no locks
    def _wake(self) -> None:
        fd = self._write_fd  # -1 once closed (close() runs in the main thread, as handlers do)
        if fd < 0:
            return
        try:
            os.write(fd, b"\0")
        except (BlockingIOError, OSError):
            pass  # the pipe is full (a wakeup is pending) or closed at shutdown: nothing to do

    def _on_stop_signal(self, signum: int, frame: Any) -> None:
        self._stop_signum = signum
        self._stop_flag = True
        self._wake()

    def _on_reload_signal(self, signum: int, frame: Any) -> None:
        self._reload_flag = True
        self._wake()

    # ---------------------------------------------------------------- set-up
    def install(self) -> "SignalInbox":
        """Install the handlers and start the dispatcher. Off the main thread (an in-process run in a
        benchmark's worker) signals cannot be handled, and only the dispatcher starts."""
        if threading.current_thread() is threading.main_thread():
            for signum, handler in ((signal.SIGTERM, self._on_stop_signal), (signal.SIGINT, self._on_stop_signal),
                                    (signal.SIGHUP, self._on_reload_signal), (signal.SIGUSR1, signal.SIG_IGN),
                                    (signal.SIGUSR2, signal.SIG_IGN)):
                self._previous[signum] = signal.signal(signum, handler)
        else:
            log.debug("not on the main thread: signals keep their handlers")
        self._thread.start()
        return self

    def _dispatch(self) -> None:
        while not self._closing:
            try:
                select.select([self._read_fd], [], [], 1.0)
                while os.read(self._read_fd, 4096):
                    pass
            except BlockingIOError:
                pass  # drained
            except (OSError, ValueError) as exc:  # ValueError: the pipe was closed under select
                if self._closing:
                    return
                log.warning("signal pipe: %s", exc)
            if self._stop_flag:
                self._stop_flag = False
                self.received["stop"] += 1
                self._stop_requested(signal.Signals(self._stop_signum).name)
            if self._reload_flag:
                self._reload_flag = False
                self.received["reload"] += 1
                self.on_reload()

    def _stop_requested(self, name: str) -> None:
        """The first stop signal stops the daemon; later ones are logged and change nothing."""
        if self.received["stop"] == 1:
            log.info("%s received: stopping", name)
            self.on_stop()
        else:
            log.info("%s received again while stopping (%d stop requests so far): ignored, the shutdown "
                     "under way finishes first", name, self.received["stop"])

    def close(self, restore: bool = True) -> None:
        """Stop the dispatcher. ``restore``: put the previous handlers back (from the thread that
        installed them; an embedding program, a test); a default SIGHUP still becomes "ignore". Without
        ``restore`` (the daemon's own process, about to exit 0) every handled signal becomes "ignore":
        a late SIGTERM or SIGINT would otherwise kill a daemon that has stopped cleanly."""
        for signum, previous in self._previous.items():
            if not restore or (signum == signal.SIGHUP and previous in (signal.SIG_DFL, None)):
                previous = signal.SIG_IGN
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()
        self._closing = True
        self._wake()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        fds = (self._read_fd, self._write_fd)
        self._read_fd = self._write_fd = -1
        for fd in fds:
            if fd < 0:
                continue
            try:
                os.close(fd)
            except OSError as exc:
                log.debug("closing the signal pipe: %s", exc)
