"""Live reload for the daemon's ``Service``: the reload thread's half and the frame loop's half.

The watcher's thread (``_reload``) reads the newest file and prepares it against what runs
(``vcamstyle.daemon.transaction.prepare``); a configuration not yet applied is superseded by a newer
save, or, when the newer save fails, goes through as the newest valid one. The frame loop
(``_apply_pending``) swaps a prepared configuration in between two frames and releases the old parts
on a helper thread. ``LiveReload`` is a mixin: it uses the ``Service`` attributes named in its
annotations.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from typing import TYPE_CHECKING

from vcamstyle.config import Config, changed_keys, diff_stages, load_config
from vcamstyle.daemon import sdnotify
from vcamstyle.daemon.file_checks import check_files
from vcamstyle.daemon.transaction import (
    Prepared,
    Running,
    close_quietly,
    open_camera,
    open_sink,
    prepare,
    swap_exclusive,
)
from vcamstyle.devices import CameraSource, FrameSink
from vcamstyle.errors import ConfigError, SinkError, SourceError, VcamstyleError
from vcamstyle.pipeline import changed_stages

if TYPE_CHECKING:
    from vcamstyle.daemon.watcher import ConfigWatcher
    from vcamstyle.pipeline import Pipeline, Scene

log = logging.getLogger("vcamstyle.daemon.service")

SINK_BACKOFF_START_S = 0.5
#: An empty config file seen by a reload is usually an editor between truncate and write.
EMPTY_FILE_WAIT_S = 0.5


def failure_text(exc: VcamstyleError) -> str:
    """An error for ``status``, led by the part that failed (a config error names its file already)."""
    part = "output" if isinstance(exc, SinkError) else "camera" if isinstance(exc, SourceError) else None
    return f"{part}: {exc}" if part else str(exc)


def bug_text(keys: list[str], exc: Exception) -> str:
    """``status``'s text for a reload that failed on a bug: the keys the save changed and what was raised."""
    where = ", ".join(keys[:4]) + (", ..." if len(keys) > 4 else "") if keys else "the new configuration"
    return (f"{where}: could not be applied ({type(exc).__name__}: {exc}); the running configuration is kept "
            "(a bug in vcamstyle: please report it)")


class LiveReload:
    """The reload half of ``Service`` (see the module doc). Besides the attributes below it calls the
    service's ``_build_scene``, ``_start_camera``, ``_set_threads`` and ``_status_line``."""

    config_path: "os.PathLike[str]"
    scene: "Scene | None"
    pipeline: "Pipeline | None"
    source: CameraSource | None
    sink: FrameSink | None
    watcher: "ConfigWatcher | None"
    _pending: Prepared | None
    _swap_lock: threading.Lock
    _releases: list[threading.Thread]
    _geometry: tuple[int, int, float]
    _last_seq: int
    _sink_retry_at: float
    _sink_backoff: float
    config_error: str | None
    runtime_error: str | None
    reloading: bool
    reloads_applied: int
    #: The keys the save being prepared changes (named in ``status`` if preparing it fails on a bug).
    _reload_keys: list[str]

    # ---------------------------------------------------------------- the reload thread
    def _read_config(self) -> Config:
        """The file as it is now; an empty file is read again after a moment (an editor mid-save), and
        one still empty is refused: a truncated file must not switch the running daemon to the defaults."""
        if self._config_empty():
            time.sleep(EMPTY_FILE_WAIT_S)
            if self._config_empty():
                raise ConfigError(f"{self.config_path} is empty", hint="save the configuration again "
                                  "(write {} to run on all the defaults)")
        return load_config(self.config_path)

    def _config_empty(self) -> bool:
        """A regular file of 0 bytes (a FIFO or a device also has size 0: load_config names those)."""
        try:
            info = os.stat(self.config_path)
        except OSError:
            return False  # load_config reports it
        return stat.S_ISREG(info.st_mode) and info.st_size == 0

    def _reload(self) -> None:
        """Prepare the newest file off the frame loop; hand it over, or keep what runs plus an error."""
        if self.scene is None:
            return
        sdnotify.reloading()
        self.reloading = True
        try:
            prepared = self._prepare_newest()
        except VcamstyleError as exc:
            self._release_held()
            self.config_error = failure_text(exc)
            log.error("reload failed, keeping the running configuration: %s", self.config_error)
            return
        except Exception as exc:  # a bug must not kill the reload thread; logged with its traceback
            self._release_held()
            self.config_error = bug_text(self._reload_keys, exc)
            log.exception("reload failed, keeping the running configuration")
            return
        finally:
            self.reloading = False
            sdnotify.ready(self._status_line())
        if prepared is None:
            return
        prepared.hold = self.watcher is not None and self.watcher.pending()
        with self._swap_lock:
            self._pending = prepared
        log.info("config reloaded (%s)%s", ", ".join(sorted(prepared.stages)),
                 "; a newer save is read first" if prepared.hold else "")

    def _prepare_newest(self) -> Prepared | None:
        """The newest file prepared against what runs; None when it changes nothing. A configuration
        still waiting to be applied is superseded, unless this one fails (then it goes through)."""
        self._reload_keys = []
        config = self._read_config()
        check_files(config, self.config_path)  # as `config check` does; refused like any invalid file: what runs stays
        with self._swap_lock:
            pending, self._pending = self._pending, None
            running = Running(self.scene.config, self.source, self.sink, self._geometry)
        self._reload_keys = changed_keys(running.config, config)
        if pending is not None and not diff_stages(pending.config, config):
            self._put_back(pending)  # the file still says what is waiting: let it go through
            self.config_error = None
            return None
        try:
            stages = frozenset(diff_stages(running.config, config)) | changed_stages(self.scene)  # pictures replaced in place
            prepared = prepare(config, stages, running, self._build_scene) if stages else None
        except BaseException:
            if pending is not None:
                self._put_back(pending)
            raise
        if pending is not None:
            log.info("a newer save supersedes the configuration not yet applied")
            pending.discard()
        if prepared is None:
            log.info("config file read: it matches the running configuration")
            self.config_error = None
        return prepared

    def _put_back(self, pending: Prepared) -> None:
        pending.hold = False
        with self._swap_lock:
            if self._pending is None:
                self._pending = pending
            else:
                pending.discard()

    def _release_held(self) -> None:
        """The newer save failed: a configuration held for it is the newest valid one, apply it."""
        with self._swap_lock:
            if self._pending is not None:
                self._pending.hold = False

    # ---------------------------------------------------------------- the frame loop
    def _apply_pending(self) -> None:
        if self._pending is None or self._pending.hold:
            return
        with self._swap_lock:
            pending, self._pending = self._pending, None
            if pending is None:
                return
            if pending.hold:
                self._pending = pending
                return
            try:
                self._commit(pending)
            except VcamstyleError as exc:
                pending.discard()
                self.config_error = f"could not apply the new configuration: {failure_text(exc)}"
                log.error("%s; keeping the running one", self.config_error)
            except Exception as exc:  # a bug while swapping must not end the video
                pending.discard()
                self.config_error = bug_text(changed_keys(self.scene.config, pending.config), exc)
                log.exception("applying the new configuration failed; keeping the running one")

    def _commit(self, p: Prepared) -> None:
        """Swap ``p`` in. Parts that share a device with the running ones are swapped release-first."""
        old_config = self.scene.config
        if p.reopen_sink:
            p.sink = swap_exclusive(lambda: close_quietly(self.sink, "output"),
                                    lambda: open_sink(p.config, p.geometry),
                                    lambda: self._restore_sink(old_config))
            self.sink = None  # released; p.sink is the new one
        if p.reopen_camera:
            try:
                p.source = swap_exclusive(lambda: close_quietly(self.source, "camera"),
                                          lambda: open_camera(p.config),
                                          lambda: self._restore_camera(old_config))
            except BaseException:
                if p.reopen_sink:
                    close_quietly(p.sink, "output")
                    p.sink = None
                    self._restore_sink(old_config)
                raise
            self.source = None
        old_source, old_sink = self.source, self.sink
        if p.source is not None:
            self.source, self._last_seq = p.source, 0
        if p.sink is not None:
            self.sink, self._sink_retry_at, self._sink_backoff = p.sink, 0.0, SINK_BACKOFF_START_S
            log.info("output: %s", p.sink.describe())
        self._geometry = p.geometry
        self.scene = p.scene
        old_pipeline, self.pipeline = self.pipeline, self.pipeline.replace(p.scene.segmenter, p.scene.stylizer, p.scene.settings)
        old_pipeline.close(wait=False)  # its style thread ends after the run under way; none of its results is used
        if p.source is not None:
            self.pipeline.reset()  # another camera: nothing learnt from the old one's frames applies
        self._set_threads(p.config)
        self.config_error = None
        if p.source is not None and self.runtime_error and self.runtime_error.startswith("camera:"):
            self.runtime_error = None
        self.reloads_applied += 1
        self._release_later(old_source if p.source is not None else None, old_sink if p.sink is not None else None)

    def _restore_camera(self, config: Config) -> None:
        self.source = self._start_camera(config)

    def _restore_sink(self, config: Config) -> None:
        try:
            self.sink = open_sink(config, self._geometry)
        except VcamstyleError as exc:  # _send keeps retrying with backoff
            self.sink = None
            self.runtime_error = f"output: {exc}"
            log.error("could not reopen the previous output: %s", exc)

    def _release_later(self, source: CameraSource | None, sink: FrameSink | None) -> None:
        """Close replaced parts off the frame loop (a camera's grab thread takes a moment to join)."""
        if source is None and sink is None:
            return
        def release() -> None:
            close_quietly(sink, "output")
            close_quietly(source, "camera")
        thread = threading.Thread(target=release, name="release-old", daemon=True)
        thread.start()
        self._releases = [t for t in self._releases if t.is_alive()] + [thread]
