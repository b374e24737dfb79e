"""Watches the config file and turns changes (and explicit requests such as SIGHUP) into reload events.

The path is kept as the user gave it. A symlinked config (stow, home-manager, chezmoi) is followed
anew at every check: the watcher watches the folder of the link *and* the folders of every link in the
chain and of the final target, and notices a link re-pointed elsewhere. Two sources of events:

- ``watchfiles`` (inotify on Linux; it handles editors that save by renaming, and debounces bursts);
- a signature check every ``poll_s`` (device, inode, size, mtime of every link in the chain and of the
  target): it catches what inotify cannot see (a watched folder deleted and made again, a link
  re-pointed into a folder not watched yet) and costs a few ``stat`` calls.

The pictures the configuration names (``extra_paths``: style and background images) are watched the
same way, so a picture replaced in place (``cp new.png bg.png``) triggers a reload too; the set is asked
for again at every check, so it follows reloads (a newly named picture is only recorded, not a change).
Only events on these paths count: other files in the same folders (an output video written next to a
picture, a busy ~/Pictures) neither reload nor log.

The reload callback runs in the watcher's own worker thread, never in the frame loop.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Callable, Iterable

from watchfiles import watch

log = logging.getLogger(__name__)

#: Symlinks followed at most (as the kernel's own limit, ELOOP beyond).
MAX_LINKS = 40

Signature = tuple[tuple[str, int, int, int, int], ...]


def link_chain(path: Path) -> list[Path]:
    """``path`` and every path its symlinks lead to, in order (the last is the target, which may not exist)."""
    chain = [Path(os.path.abspath(path))]
    for _ in range(MAX_LINKS):
        current = chain[-1]
        try:
            target = os.readlink(current)
        except OSError:  # not a symlink, or missing
            break
        chain.append(Path(os.path.normpath(current.parent / target)))
    return chain


def signature(path: Path) -> Signature:
    """What identifies the file's current content: lstat of every link and stat of the target."""
    entries = []
    for link in link_chain(path):
        try:
            st = os.lstat(link)
            entries.append((str(link), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            entries.append((str(link), 0, 0, -1, 0))
    return tuple(entries)


def watched_dirs(path: Path) -> list[Path]:
    """The existing folders holding ``path``, its links and its target."""
    seen: list[Path] = []
    for link in link_chain(path):
        folder = link.parent
        if folder not in seen and folder.is_dir():
            seen.append(folder)
    return seen


class ConfigWatcher:
    """Calls ``on_change()`` from its own thread whenever ``path`` changes on disk or ``request()`` is called."""

    def __init__(self, path: Path, on_change: Callable[[], None], debounce_ms: int = 60,
                 poll_s: float = 0.5, extra_paths: Callable[[], Iterable[Path]] | None = None,
                 read_as: Signature | None = None) -> None:
        """``extra_paths``: returns the other files whose changes count (the referenced pictures);
        ``read_as``: the config's ``signature`` when the running configuration was read from it (the
        models load in between: a save in that time is a change, reloaded once the watcher starts)."""
        self.path = Path(os.path.abspath(Path(path).expanduser()))  # never resolved: links are followed each time
        self.on_change = on_change
        self.debounce_ms = debounce_ms
        self.poll_s = poll_s
        self.extra_paths = extra_paths
        self._stop = threading.Event()
        self._requested = threading.Event()
        self._threads: list[threading.Thread] = []
        self._signatures = self._current_signatures()
        if read_as is not None and read_as != self._signatures[self.path]:
            log.info("the config file changed while the daemon started: reloading it")
            self._requested.set()

    def _paths(self) -> list[Path]:
        """The config file, then the referenced pictures."""
        extra = [Path(os.path.abspath(Path(p).expanduser())) for p in self.extra_paths()] if self.extra_paths else []
        return [self.path, *extra]

    def _current_signatures(self) -> dict[Path, Signature]:
        return {path: signature(path) for path in self._paths()}

    def _folders(self) -> list[Path]:
        folders: list[Path] = []
        for path in self._paths():
            folders.extend(folder for folder in watched_dirs(path) if folder not in folders)
        return folders

    def _relevant(self, change: object, path: str) -> bool:
        """``watchfiles`` filter: an event on the config, a picture, or a link of theirs."""
        return Path(path) in {link for watched in self._paths() for link in link_chain(watched)}

    def start(self) -> "ConfigWatcher":
        self._threads = [threading.Thread(target=self._watch_files, name="config-watch", daemon=True),
                         threading.Thread(target=self._serve_requests, name="config-reload", daemon=True)]
        for thread in self._threads:
            thread.start()
        return self

    def request(self) -> None:
        """Ask for a reload (from any thread; signal handlers go through ``SignalInbox``)."""
        self._requested.set()

    def pending(self) -> bool:
        """True when a reload has been asked for and not started yet."""
        return self._requested.is_set() and not self._stop.is_set()

    def _check_signature(self) -> bool:
        """Request a reload if the file, a picture, a link or a target changed since the last check (a
        path named for the first time is recorded, not a change)."""
        current = self._current_signatures()
        changed = any(sig != self._signatures.get(path, sig) for path, sig in current.items())
        self._signatures = current
        if changed:
            log.debug("config file or a referenced picture changed on disk")
            self._requested.set()
        return changed

    def _watch_files(self) -> None:
        while not self._stop.is_set():
            folders = self._folders()
            if not folders:
                self._check_signature()
                self._stop.wait(self.poll_s)
                continue
            try:
                for _changes in watch(*folders, stop_event=self._stop, debounce=self.debounce_ms, step=20,
                                      rust_timeout=int(self.poll_s * 1000), yield_on_timeout=True,
                                      recursive=False, raise_interrupt=False, watch_filter=self._relevant):
                    self._check_signature()
                    if self._folders() != folders:
                        break  # a link was re-pointed or a folder came or went: watch the new set
            except (OSError, RuntimeError) as exc:  # a watched folder vanished under inotify
                log.debug("watching %s: %s; watching again", ", ".join(map(str, folders)), exc)
                self._check_signature()
                self._stop.wait(self.poll_s)

    def _serve_requests(self) -> None:
        while not self._stop.is_set():
            if not self._requested.wait(0.2):
                continue
            if self._stop.is_set():
                return  # woken by stop(): not a reload
            self._requested.clear()
            self.on_change()

    def stop(self) -> None:
        self._stop.set()
        self._requested.set()  # wakes the worker, which sees the stop and returns without reloading
        for thread in self._threads:
            thread.join(timeout=2.0)
