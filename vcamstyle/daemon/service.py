"""The daemon: camera -> pipeline -> virtual camera, with live reload and a bounded, clean shutdown.

``Service.run`` is the only real entry point (``vcamstyle run``); it never forks. Signals reach it
through ``SignalInbox`` (handlers only set a flag and write to a pipe). A reload is a transaction
(``vcamstyle.daemon.transaction``): the watcher's thread parses the file, opens the new camera and
sink and builds the scene; the frame loop swaps the finished set in between two frames and releases
the old parts. A failed reload keeps everything that runs and shows its error in ``status`` until a
good file arrives; a newer save supersedes a reload that has not been applied yet.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from vcamstyle import compute, paths
from vcamstyle.config import Config, load_config
from vcamstyle.control import ControlServer, serve_page
from vcamstyle.daemon import sdnotify
from vcamstyle.daemon import statusfile
from vcamstyle.daemon.closing import close_in_order
from vcamstyle.daemon.file_checks import check_files
from vcamstyle.daemon import threads as thread_policy
from vcamstyle.daemon.metrics import RateMeter, StageTimes
from vcamstyle.daemon.on_demand import SLEEP, WAKE, IdleKeeper
from vcamstyle.daemon.pidfile import PidFile
from vcamstyle.daemon.reload import SINK_BACKOFF_START_S, LiveReload
from vcamstyle.daemon.signals import SignalInbox
from vcamstyle.daemon.style_size import AutoStyleSize
from vcamstyle.daemon.threads import ThreadTuner, reserved_cores, thread_counts
from vcamstyle.daemon.transaction import (
    Prepared,
    camera_settings,
    close_quietly,
    open_camera,
    open_sink,
    output_geometry,
)
from vcamstyle.daemon.preflight import check_output
from vcamstyle.daemon.watcher import ConfigWatcher, signature
from vcamstyle.devices import CameraSource, FrameSink, placeholder_frame
from vcamstyle.errors import SourceError, VcamstyleError
from vcamstyle.models.weights import resolve_weights_dir
from vcamstyle.pipeline import Engine, FrameFitter, Pipeline, Scene, referenced_paths, size_cost

__all__ = ["Service", "camera_settings", "output_geometry"]

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 0.5
#: Closing one part (above all a file sink finalising its recording) slower than this is logged.
#: A frame arriving up to this fraction of an output interval before its slot still goes out
#: (camera clock jitter); earlier ones are dropped when the camera runs faster than output.fps.
OUTPUT_SLACK = 0.25
SINK_BACKOFF_MAX_S = 5.0
#: A failing status or log write is reported at most this often.
WRITE_FAILURE_LOG_S = 30.0
#: What ``status`` shows as the segmentation while no region needs the person mask (no model loaded).
NO_SEGMENTER = "none (not needed)"


class Service(LiveReload):
    """Owns the camera, the pipeline, the sink and the watcher for one daemon run."""

    def __init__(self, config_path: Path, max_frames: int | None = None, publish: bool = True,
                 on_frame: Callable[["Service"], None] | None = None, stats_window: int = 120,
                 owns_process: bool = False) -> None:
        """``publish``: write the pidfile and status.json (False for in-process benchmarks);
        ``on_frame``: called after every output frame (benchmarks, soak runs); ``owns_process``: this is
        ``vcamstyle run``'s own process, which exits after ``run`` (stop signals stay ignored after the
        shutdown instead of getting their previous handlers back)."""
        self.config_path = Path(config_path)  # as given: a symlink is followed at every read
        self.max_frames = max_frames
        self.publish = publish
        self.on_frame = on_frame
        self.owns_process = owns_process
        self.stop_event = threading.Event()
        self.engine = Engine()
        self.source: CameraSource | None = None
        self.sink: FrameSink | None = None
        self.scene: Scene | None = None
        self.pipeline: Pipeline | None = None
        self.watcher: ConfigWatcher | None = None
        self.signals: SignalInbox | None = None
        self.pidfile: PidFile | None = None
        self._pending: Prepared | None = None
        self._reload_keys: list[str] = []
        self._swap_lock = threading.Lock()
        self._releases: list[threading.Thread] = []
        #: The last configuration that failed to load, build or open (cleared by a good file).
        self.config_error: str | None = None
        #: The last runtime failure (camera, sink, a frame), cleared when that part recovers.
        self.runtime_error: str | None = None
        self.phase = "starting"  # starting -> running -> stopping
        self.reloading = False
        self.started_at = time.time()
        self.frames = 0
        self.reloads_applied = 0
        self.rate = RateMeter()
        self.stage_times = StageTimes(window=stats_window)
        self._next_status = 0.0
        self._geometry: tuple[int, int, float] = (0, 0, 0.0)
        self._last_seq = 0  # the newest frame taken from *this* camera (a reopened one counts from 1)
        self._sink_retry_at = 0.0
        self._sink_backoff = SINK_BACKOFF_START_S
        self._next_failure_log = 0.0
        self._next_write_failure_log = 0.0
        self.status_write_error: str | None = None
        self.threads: ThreadTuner | None = None
        self.style_size = AutoStyleSize()
        self._threads_before: int | None = None  # torch's count before the first tuner, restored at shutdown
        self._fit = FrameFitter()  # camera frames to the output size, aspect kept (output.fit)
        self.idle_keeper = IdleKeeper()  # output.on_demand: idle while no app watches the virtual camera
        self.control: ControlServer | None = None  # the control page (``control.enabled``), started with the daemon

    # ---------------------------------------------------------------- signals
    def install_signal_handlers(self) -> None:
        self.signals = SignalInbox(on_stop=self.stop_event.set, on_reload=self.request_reload).install()

    def request_reload(self) -> None:
        if self.watcher is not None:
            self.watcher.request()

    # ---------------------------------------------------------------- set-up
    def _weights_dir(self, config: Config) -> Path:
        return resolve_weights_dir(str(config.weights_dir) if config.weights_dir else None)

    def _build_scene(self, config: Config, size: tuple[int, int]) -> Scene:
        return self.engine.build(config, size, self._weights_dir(config))

    def _start_camera(self, config: Config) -> CameraSource:
        """The first camera: on failure the daemon runs on a placeholder and retries in the background."""
        try:
            return open_camera(config)
        except SourceError as exc:
            self.runtime_error = f"camera: {exc}"
            log.error("camera: %s; sending a placeholder and retrying", exc)
            source = CameraSource(camera_settings(config))
            source.last_error = str(exc)
            return source.start_retrying()

    def start(self) -> None:
        """Load the config; check and open the output first (the usual first-run problem), then the
        camera, then the models. Errors here are fatal, except a camera that is not there yet."""
        compute.keep_freed_memory()
        read_as = signature(self.config_path)
        config = load_config(self.config_path)
        check_files(config, self.config_path)  # what `config check` refuses (pictures, output.path)
        check_output(config)
        self.source = self._start_camera(config)
        self._geometry = output_geometry(config, self.source.granted)
        self.sink = open_sink(config, self._geometry)
        log.info("output: %s", self.sink.describe())
        width, height, _ = self._geometry
        self._tune_threads(config)  # before the models: the sessions they make are for this count
        self.scene = self._build_scene(config, (height, width))
        self.pipeline = Pipeline(self.scene.segmenter, self.scene.stylizer, self.scene.settings, self.scene.device)
        self._set_threads(config)
        self.watcher = ConfigWatcher(self.config_path, self._reload,
                                     extra_paths=lambda: referenced_paths(self.scene), read_as=read_as).start()
        self.control = serve_page(self, config.control) if self.publish else None  # failing: logged, not fatal

    # ---------------------------------------------------------------- frame loop
    def _next_frame(self) -> tuple[np.ndarray | None, float]:
        """The next camera frame (``HxWx3 uint8 RGB`` at the output size), or None while the camera is down."""
        width, height, fps = self._geometry
        frame = self.source.wait_newer(self._last_seq, timeout=2.0 / max(fps, 1.0)) if self.source else None
        if frame is None:
            return None, time.monotonic()
        self._last_seq = frame.seq
        image = self._fit(frame.image, (height, width), self.scene.config.output.fit if self.scene else "cover")
        return image, frame.captured_at

    def loop(self) -> None:
        next_placeholder = next_output = time.monotonic()
        while not self.stop_event.is_set():
            self._apply_pending()
            if self._idle_step():
                continue
            t0 = time.perf_counter()
            content, captured_at = self._next_frame()
            width, height, fps = self._geometry
            if content is None:
                if self.source is not None and self.source.available:
                    continue  # no new frame yet
                now = time.monotonic()
                if now < next_placeholder:
                    self.stop_event.wait(next_placeholder - now)
                    continue
                next_placeholder = now + 1.0 / max(fps, 1.0)
                reason = self.source.last_error if self.source else "no camera"
                self._send(placeholder_frame(width, height, "camera unavailable - reconnecting"))
                self._count_frame({}, reason or "camera unavailable")
            else:
                now = time.monotonic()
                if now < next_output - OUTPUT_SLACK / max(fps, 1.0):
                    continue  # the camera runs faster than output.fps: drop this frame
                next_output = max(next_output + 1.0 / max(fps, 1.0), now - 1.0 / max(fps, 1.0))
                waited_ms = (now - captured_at) * 1000
                t1 = time.perf_counter()
                try:
                    result = self.pipeline.process(content)
                except Exception as exc:  # a model or OpenCV failing on one frame must not end the video (logged)
                    self._frame_failed(exc)
                    self._send(content)
                    self._count_frame({}, None)
                    continue
                t2 = time.perf_counter()
                if self.threads is not None:  # (with the network on its thread: its run time)
                    self.threads.record(size_cost((t2 - t1) * 1000, self.pipeline.network_ms))
                self.style_size.record((t2 - t1) * 1000)
                self._send(result.image)
                if self.control is not None and self.control.tap.wanted():  # free while no page watches
                    self.control.tap.offer(content, result.mask, result.image)
                t3 = time.perf_counter()
                stage_ms = {"camera_wait": (t1 - t0) * 1000, "frame_age": waited_ms, **result.stage_ms,
                            "sink": (t3 - t2) * 1000,
                            "latency": (time.monotonic() - captured_at) * 1000}
                self._count_frame(stage_ms, None)
            if self.on_frame is not None:
                self.on_frame(self)
            if self.max_frames is not None and self.frames >= self.max_frames:
                break

    def _set_threads(self, config: Config) -> None:
        """Fixed thread count, or a tuner for ``threads: auto`` (kept across reloads that leave it); then
        the ``style.size: auto`` controller, which follows every new pipeline (start and reload call this)."""
        compute.set_torch_runs_networks(self.pipeline.torch_runs_networks)
        if not self._tune_threads(config):
            self.threads.discard()  # the work per frame changed: a comparison under way would mix two pipelines
        self.style_size.configure(config, self._geometry[2], self.pipeline, self.threads)

    def _tune_threads(self, config: Config) -> bool:
        """A new ``ThreadTuner`` (which applies its first count) when ``threads`` asks for other counts;
        returns whether it made one. With the network on its own thread ``auto`` keeps a core for the loop."""
        counts = thread_counts(config.threads, reserve=reserved_cores(config))
        if self.threads is None or self.threads.counts != counts:
            if self._threads_before is None:
                self._threads_before = thread_policy.get_network_threads()
            self.threads = ThreadTuner(counts)
            log.info("threads: %s (%s)", config.threads, ", ".join(map(str, self.threads.counts)))
            return True
        return False

    @property
    def last_error(self) -> str | None:
        """What ``status`` shows: a failed configuration first, else the last runtime failure."""
        return self.config_error or self.runtime_error or self.status_write_error

    def _frame_failed(self, exc: Exception) -> None:
        """Report a frame the pipeline could not process (the camera frame goes out unprocessed)."""
        self.runtime_error = f"processing a frame failed: {exc}"
        now = time.monotonic()
        if now >= self._next_failure_log:
            self._next_failure_log = now + 5.0
            log.error("processing a frame failed; sending it unprocessed", exc_info=exc)

    def _send(self, image) -> None:
        """Write one frame; a failing sink is reported and reopened with backoff, never fatal."""
        now = time.monotonic()
        if self.sink is None:
            if now < self._sink_retry_at:
                return
            try:
                self.sink = open_sink(self.scene.config, self._geometry)
                log.info("output reopened: %s", self.sink.describe())
            except VcamstyleError as exc:
                self._sink_backoff = min(SINK_BACKOFF_MAX_S, self._sink_backoff * 2)
                self._sink_retry_at = now + self._sink_backoff
                self.runtime_error = f"output: {exc}"
                return
        try:
            self.sink.send(image)
            if self._sink_backoff != SINK_BACKOFF_START_S:  # it had failed: the output works again
                self._sink_backoff = SINK_BACKOFF_START_S
                self.runtime_error = None
        except Exception as exc:  # SinkError, OSError, or a writer's own error: reported, reopened with backoff
            self.runtime_error = f"output: {exc}"
            self._sink_backoff = min(SINK_BACKOFF_MAX_S, self._sink_backoff * 2)
            log.error("%s; reopening the output", exc)
            close_quietly(self.sink, "output")
            self.sink = None
            self._sink_retry_at = now + self._sink_backoff

    def _count_frame(self, stage_ms: dict[str, float], camera_error: str | None) -> None:
        self.frames += 1
        self.rate.tick()
        self.stage_times.add_all(stage_ms)
        if camera_error:
            self.runtime_error = f"camera: {camera_error}"
        elif self.runtime_error and self.runtime_error.startswith("camera:") and stage_ms:
            self.runtime_error = None  # the camera is back
        now = time.monotonic()
        if now >= self._next_status:
            self._next_status = now + STATUS_INTERVAL_S
            self.write_status()

    def _idle_step(self) -> bool:
        """On demand (``on_demand.IdleKeeper``): camera off and a placeholder while no app watches."""
        keeper, (width, height, _) = self.idle_keeper, self._geometry
        change = keeper.update(self.sink, self.scene.config.output, self.frames == 0 and self.pipeline, width, height)
        if change == WAKE:
            self.source, self._last_seq = self._start_camera(self.scene.config), 0  # a new camera counts from 1
            self.pipeline.reset()  # the picture may have changed entirely while the camera was off
        elif change == SLEEP and self.source is not None:
            self.source = self.source.close()  # released (its light goes off); close() returns None
        if keeper.idle:
            self._send(keeper.frame(width, height))
            keeper.pause(self.write_status)  # publish, then sleep until the next placeholder or a wake
        return keeper.idle

    # ---------------------------------------------------------------- status
    def _status_line(self) -> str:
        return self.idle_keeper.status_line() or (f"streaming: {self.rate.rate():.1f} fps, "
                                                   f"{self.describe_region('person')} / {self.describe_region('background')}")

    def describe_region(self, name: str) -> str:
        return self.scene.config.summary_region(name) if self.scene else "-"

    @property
    def state(self) -> str:
        """``starting``, ``streaming`` (frames reach the output), ``idle`` (on demand: no app has the virtual
        camera open, camera released), ``error`` (the output is down) or ``stopping``."""
        if self.phase != "running":
            return self.phase
        if self.sink is None:
            return "error"
        return "idle" if self.idle_keeper.idle else "streaming"  # idle: on demand, no app watches

    def status(self) -> dict[str, Any]:
        config = self.scene.config if self.scene else None
        return {
            "pid": os.getpid(),
            "state": self.state,
            "ready": self.phase == "running",
            "reloading": self.reloading,
            "reloads": self.reloads_applied,
            "published_at": time.time(),
            "started_at": self.started_at,
            "uptime_s": round(time.time() - self.started_at, 1),
            "fps": self.rate.rate(),
            "network_fps": self.pipeline.network_rate() if self.pipeline else None,
            "frames": self.frames,
            "stage_ms": self.stage_times.medians(),
            "config": str(self.config_path),
            "person": self.describe_region("person"),
            "background": self.describe_region("background"),
            "method": config.style.method if config else None,
            "segmentation": self._segmentation_in_use(),
            "device": str(self.scene.device) if self.scene else None,
            "threads": self.threads.threads if self.threads else None,
            **self.style_size.status(),
            "camera": {"available": bool(self.source and self.source.available),
                       "granted": list(self.source.granted) if self.source and self.source.granted else None,
                       "error": self.source.last_error if self.source else None},
            "output": self.sink.describe() if self.sink else None,
            "last_error": self.last_error,
            **self.idle_keeper.status(),
            "control": self.control.status() if self.control else None,
        }

    def _segmentation_in_use(self) -> str | None:
        """The segmenter the scene runs; ``segmentation.model: auto`` shows the one it chose; none is loaded
        while no region needs the person mask (e.g. both ``original``)."""
        if self.scene is None:
            return None
        if self.scene.segmenter is None:
            return NO_SEGMENTER
        name = self.scene.segmenter.name
        return f"{name} (auto)" if self.scene.config.segmentation.model == "auto" else name

    def write_status(self) -> None:
        """Publish status.json (and put a vanished pidfile back); a failed write (full or vanished runtime
        directory) is logged, not fatal."""
        if self.publish:
            try:
                if self.pidfile is not None:
                    self.pidfile.ensure()
                statusfile.write_status(self.status())
                if self.status_write_error:
                    log.info("status file written again")
                self.status_write_error = None
            except (OSError, VcamstyleError) as exc:
                self.status_write_error = f"cannot write the status file: {exc}"
                now = time.monotonic()
                if now >= self._next_write_failure_log:
                    self._next_write_failure_log = now + WRITE_FAILURE_LOG_S
                    log.error("%s (the video goes on; retrying)", self.status_write_error)
        sdnotify.status(self._status_line())

    # ---------------------------------------------------------------- lifecycle
    def run(self) -> int:
        """Start, loop until stopped, shut down. Returns the process exit status (0 on a clean stop)."""
        pidfile = self.pidfile = PidFile(paths.pidfile_path()) if self.publish else None
        if pidfile is not None:
            pidfile.create()
        self.install_signal_handlers()
        try:
            self.write_status()
            self.start()
            self.phase = "running"
            self.write_status()
            sdnotify.ready(self._status_line())
            log.info("vcamstyle is running (pid %d): %s", os.getpid(), self._status_line())
            self.loop()
        finally:
            self.shutdown()
            if pidfile is not None:
                pidfile.unlink()
        return 0

    def shutdown(self) -> None:
        """Release everything, each part closed to completion however long it takes (a file sink
        finalising a long recording, STREAMOFF on the loopback device): nothing is skipped on a
        timer. The bound is the caller's: ``vcamstyle stop`` (and systemd's TimeoutStopSec) waits
        ``control.STOP_TIMEOUT_S`` and then kills. Stop signals arriving meanwhile are logged and
        ignored (``SignalInbox``), so any number of them ends in this one orderly shutdown."""
        self.phase = "stopping"
        sdnotify.stopping()
        self.write_status()  # `status` says "stopping" while the parts close
        close_in_order((("style network thread", self.pipeline.close if self.pipeline else None),))  # before
        # the thread count goes back: a run still under way would make sessions for the restored count
        if self._threads_before is not None:  # in-process runs (benchmarks, tests) get torch back as it was
            compute.set_torch_runs_networks(True)
            thread_policy.set_network_threads(self._threads_before)
        with self._swap_lock:
            pending, self._pending = self._pending, None
        close_in_order((("control page", self.control.stop if self.control else None),
                        ("on-demand watcher", self.idle_keeper.stop),
                        ("config watcher", self.watcher.stop if self.watcher else None),
                        ("a configuration not yet applied", pending.discard if pending else None),
                        ("camera", self.source.close if self.source else None),
                        ("output", self.sink.close if self.sink else None)))
        for thread in self._releases:  # parts replaced by a reload, closing on their own thread
            thread.join()
        if self.publish:
            try:
                statusfile.remove_status(pid=os.getpid())
            except OSError as exc:
                log.warning("cannot remove the status file: %s", exc)
        log.info("vcamstyle stopped after %d frames", self.frames)
        if self.signals is not None:  # last: until here a late stop signal is logged and ignored
            self.signals.close(restore=not self.owns_process)
