"""SignalInbox: handlers only set a flag and write a pipe; storms coalesce; SIGTERM always gets through."""

from __future__ import annotations

import os
import signal
import threading
import time

from vcamstyle.daemon.signals import SignalInbox


def wait_until(predicate, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_a_sighup_storm_coalesces_and_sigterm_still_stops() -> None:
    stopped = threading.Event()
    reloads: list[float] = []
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    inbox = SignalInbox(on_stop=stopped.set, on_reload=lambda: (reloads.append(time.monotonic()), time.sleep(0.05)))
    inbox.install()
    try:
        for _ in range(2000):  # faster than the dispatcher: handlers must never wait for it
            os.kill(os.getpid(), signal.SIGHUP)
        assert wait_until(lambda: len(reloads) >= 1)
        assert len(reloads) < 2000  # coalesced: one call per burst the dispatcher sees
        os.kill(os.getpid(), signal.SIGTERM)
        assert stopped.wait(10)
        assert inbox.received["stop"] == 1
    finally:
        inbox.close()
    # the handlers we replaced are back; a default SIGHUP became "ignore" (a late one must not kill us)
    assert signal.getsignal(signal.SIGTERM) == previous[signal.SIGTERM]
    assert signal.getsignal(signal.SIGHUP) in (previous[signal.SIGHUP], signal.SIG_IGN)


def test_a_full_pipe_never_blocks_a_handler() -> None:
    """A handler called far more often than the dispatcher drains the pipe returns at once each time."""
    inbox = SignalInbox(on_stop=lambda: None, on_reload=lambda: None)
    try:
        done = threading.Event()

        def storm() -> None:
            for _ in range(100_000):  # far more than the pipe holds: a full pipe must not block
                inbox._on_reload_signal(signal.SIGHUP, None)
            done.set()

        thread = threading.Thread(target=storm)
        thread.start()
        assert done.wait(30)
        thread.join()
        assert inbox._reload_flag is True
    finally:
        inbox.close()


def test_a_handler_after_close_writes_nowhere() -> None:
    inbox = SignalInbox(on_stop=lambda: None, on_reload=lambda: None)
    inbox.close()
    inbox._on_stop_signal(signal.SIGTERM, None)  # the pipe's fd numbers may belong to other files now
    assert inbox._write_fd == -1
