"""Watches the config file and turns changes (and explicit requests such as SIGHUP) into reload events.

Runs in its own thread with ``watchfiles`` (inotify on Linux; it handles editors that save by
renaming). ``watchfiles`` is used rather than hand-written inotify/mtime polling because it is
maintained, cross-platform and debounces bursts of writes.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from watchfiles import watch

log = logging.getLogger(__name__)


class ConfigWatcher:
    """Calls ``on_change()`` from its own thread whenever ``path`` changes on disk or ``request()`` is called.

    The callback runs in the watcher's worker thread, never in the frame loop.
    """

    def __init__(self, path: Path, on_change: Callable[[], None], debounce_ms: int = 60) -> None:
        self.path = Path(path).resolve()
        self.on_change = on_change
        self.debounce_ms = debounce_ms
        self._stop = threading.Event()
        self._requested = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> "ConfigWatcher":
        self._threads = [threading.Thread(target=self._watch_files, name="config-watch", daemon=True),
                         threading.Thread(target=self._serve_requests, name="config-reload", daemon=True)]
        for thread in self._threads:
            thread.start()
        return self

    def request(self) -> None:
        """Ask for a reload (thread- and signal-safe: only sets an event)."""
        self._requested.set()

    def _watch_files(self) -> None:
        directory = self.path.parent
        for changes in watch(directory, stop_event=self._stop, debounce=self.debounce_ms, step=20,
                             rust_timeout=500, yield_on_timeout=False, recursive=False):
            if any(Path(p).resolve() == self.path for _, p in changes):
                log.debug("config file changed on disk")
                self._requested.set()

    def _serve_requests(self) -> None:
        while not self._stop.is_set():
            if not self._requested.wait(0.2):
                continue
            self._requested.clear()
            self.on_change()

    def stop(self) -> None:
        self._stop.set()
        self._requested.set()
        for thread in self._threads:
            thread.join(timeout=2.0)
