"""Watches the config file and turns changes (and explicit requests such as SIGHUP) into reload events.

Runs in its own thread with ``watchfiles`` (inotify on Linux; it handles editors that save by
renaming). ``watchfiles`` is used rather than hand-written inotify/mtime polling because it is
maintained, cross-platform and debounces bursts of writes. The pictures the configuration names
(``extra_paths``) are watched the same way: their folders are watched, and the set is re-read while
running, so a style or background picture replaced in place triggers a reload too.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable, Iterable

from watchfiles import watch

log = logging.getLogger(__name__)


class ConfigWatcher:
    """Calls ``on_change()`` from its own thread whenever ``path`` changes on disk or ``request()`` is called.

    The callback runs in the watcher's worker thread, never in the frame loop.
    """

    def __init__(self, path: Path, on_change: Callable[[], None], debounce_ms: int = 60,
                 extra_paths: Callable[[], Iterable[Path]] | None = None) -> None:
        """``extra_paths``: returns the other files whose changes count (the referenced pictures);
        called again while running, so the watched set follows reloads."""
        self.path = Path(path).resolve()
        self.on_change = on_change
        self.debounce_ms = debounce_ms
        self.extra_paths = extra_paths
        self._stop = threading.Event()
        self._requested = threading.Event()
        self._rewatch = threading.Event()
        self._watched: tuple[frozenset[Path], frozenset[Path]] = (frozenset(), frozenset())
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

    def _targets(self) -> tuple[frozenset[Path], frozenset[Path]]:
        """(files whose changes count, the existing folders holding them)."""
        files = {self.path}
        if self.extra_paths is not None:
            files.update(Path(p).expanduser().resolve() for p in self.extra_paths())
        return frozenset(files), frozenset(f.parent for f in files if f.parent.is_dir())

    def _watch_files(self) -> None:
        stop = _EitherEvent(self._stop, self._rewatch)
        while not self._stop.is_set():
            self._rewatch.clear()
            self._watched = files, directories = self._targets()

            def relevant(change: object, path: str) -> bool:
                # Only the watched files count: other files in those folders (an output video being
                # written next to a picture, a busy ~/Pictures) neither reload nor log.
                return Path(path).resolve() in files

            for _ in watch(*sorted(directories), stop_event=stop, debounce=self.debounce_ms, step=20,
                           rust_timeout=500, yield_on_timeout=False, recursive=False, watch_filter=relevant):
                log.debug("config file or a referenced picture changed on disk")
                self._requested.set()

    def _serve_requests(self) -> None:
        while not self._stop.is_set():
            if self.extra_paths is not None and self._targets() != self._watched:
                self._rewatch.set()  # a reload named other pictures: watch those
            if not self._requested.wait(0.2):
                continue
            self._requested.clear()
            self.on_change()

    def stop(self) -> None:
        self._stop.set()
        self._requested.set()
        for thread in self._threads:
            thread.join(timeout=2.0)


class _EitherEvent:
    """Looks like one ``threading.Event`` to ``watchfiles``: set when any of ``events`` is."""

    def __init__(self, *events: threading.Event) -> None:
        self.events = events

    def is_set(self) -> bool:
        return any(event.is_set() for event in self.events)
