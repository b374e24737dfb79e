"""The daemon: camera -> pipeline -> virtual camera, with live reload and a bounded, clean shutdown.

``Service.run`` is the only real entry point (``vcamstyle run``); it never forks. Signal handlers only
set events: SIGTERM/SIGINT stop, SIGHUP reloads. Reloads are parsed, validated and built in the
watcher's thread; the frame loop swaps the finished scene in between two frames. A failed reload keeps
the last good scene and shows its error in ``status`` until a good file arrives.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from vcamstyle import compute, paths
from vcamstyle.config import Config, diff_stages, load_config
from vcamstyle.daemon import sdnotify, statusfile
from vcamstyle.daemon import threads as thread_policy
from vcamstyle.daemon.metrics import RateMeter, StageTimes
from vcamstyle.daemon.pidfile import PidFile
from vcamstyle.daemon.style_size import AutoStyleSize
from vcamstyle.daemon.threads import ThreadTuner, thread_counts
from vcamstyle.daemon.watcher import ConfigWatcher
from vcamstyle.devices import (
    CameraSettings,
    CameraSource,
    FrameSink,
    create_sink,
    placeholder_frame,
)
from vcamstyle.errors import SinkError, SourceError, VcamstyleError
from vcamstyle.frames import shrink
from vcamstyle.models.weights import resolve_weights_dir
from vcamstyle.pipeline import Engine, Pipeline, Scene

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 0.5
STOP_TIMEOUT_S = 2.5
#: A frame arriving up to this fraction of an output interval before its slot still goes out
#: (camera clock jitter); earlier ones are dropped when the camera runs faster than output.fps.
OUTPUT_SLACK = 0.25
SINK_BACKOFF_START_S = 0.5
SINK_BACKOFF_MAX_S = 5.0


def camera_settings(config: Config) -> CameraSettings:
    c = config.camera
    return CameraSettings(device=c.device, width=c.width, height=c.height, fps=c.fps, fourcc=c.fourcc, mirror=c.mirror)


def output_geometry(config: Config, granted: tuple[int, int, float] | None) -> tuple[int, int, float]:
    """(width, height, fps) of the virtual camera: the configured values, else what the camera granted."""
    cam_w, cam_h, cam_fps = granted or (config.camera.width, config.camera.height, config.camera.fps)
    o = config.output
    width = o.width or cam_w or config.camera.width
    height = o.height or cam_h or config.camera.height
    fps = o.fps or (cam_fps if cam_fps and cam_fps > 0 else config.camera.fps)
    return int(width) // 2 * 2, int(height) // 2 * 2, float(fps)


@dataclass
class PendingScene:
    scene: Scene
    stages: frozenset[str]


class Service:
    """Owns the camera, the pipeline, the sink and the watcher for one daemon run."""

    def __init__(self, config_path: Path, max_frames: int | None = None, publish: bool = True,
                 on_frame: Callable[["Service"], None] | None = None, stats_window: int = 120) -> None:
        """``publish``: write the pidfile and status.json (False for in-process benchmarks);
        ``on_frame``: called after every output frame (benchmarks, soak runs)."""
        self.config_path = Path(config_path)
        self.max_frames = max_frames
        self.publish = publish
        self.on_frame = on_frame
        self.stop_event = threading.Event()
        self.engine = Engine()
        self.source: CameraSource | None = None
        self.sink: FrameSink | None = None
        self.scene: Scene | None = None
        self.pipeline: Pipeline | None = None
        self.watcher: ConfigWatcher | None = None
        self._pending: PendingScene | None = None
        self._pending_lock = threading.Lock()
        #: The last configuration that failed to load or build (cleared by a good file).
        self.config_error: str | None = None
        #: The last runtime failure (camera, sink, a frame), cleared when that part recovers.
        self.runtime_error: str | None = None
        self.state = "starting"
        self.started_at = time.time()
        self.frames = 0
        self.rate = RateMeter()
        self.stage_times = StageTimes(window=stats_window)
        self._next_status = 0.0
        self._geometry: tuple[int, int, float] = (0, 0, 0.0)
        self._sink_retry_at = 0.0
        self._sink_backoff = SINK_BACKOFF_START_S
        self._next_failure_log = 0.0
        self.threads: ThreadTuner | None = None
        self.style_size = AutoStyleSize()
        self._threads_before: int | None = None  # torch's count before the first tuner, restored at shutdown

    # ---------------------------------------------------------------- signals
    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGHUP, self._on_reload_signal)

    def _on_stop_signal(self, signum: int, frame: Any) -> None:
        self.stop_event.set()

    def _on_reload_signal(self, signum: int, frame: Any) -> None:
        if self.watcher is not None:
            self.watcher.request()

    # ---------------------------------------------------------------- set-up
    def _weights_dir(self, config: Config) -> Path:
        return resolve_weights_dir(str(config.weights_dir) if config.weights_dir else None)

    def _open_camera(self, config: Config) -> None:
        if self.source is not None:
            self.source.close()
        self.source = CameraSource(camera_settings(config))
        try:
            self.source.start()
        except SourceError as exc:
            # The daemon keeps running on a placeholder and retries in the background.
            self.runtime_error = f"camera: {exc}"
            log.error("%s", exc)
            self.source.start_retrying()

    def _open_sink(self, config: Config) -> None:
        if self.sink is not None:
            self.sink.close()
            self.sink = None
        width, height, fps = self._geometry
        o = config.output
        backend = "null" if o.backend == "none" else o.backend
        self.sink = create_sink(None, width, height, fps, backend=backend, device=o.device,
                                path=str(o.path) if o.path else None, format=o.format)
        self._sink_retry_at = 0.0
        log.info("output: %s", self.sink.describe())

    def _set_geometry(self, config: Config) -> None:
        granted = self.source.granted if self.source is not None else None
        self._geometry = output_geometry(config, granted)

    def start(self) -> None:
        """Load the config, open camera and sink, build the first scene. Errors here are fatal."""
        compute.keep_freed_memory()
        config = load_config(self.config_path)
        self._open_camera(config)
        self._set_geometry(config)
        width, height, _ = self._geometry
        self.scene = self.engine.build(config, (height, width), self._weights_dir(config))
        self.pipeline = Pipeline(self.scene.segmenter, self.scene.stylizer, self.scene.settings, self.scene.device)
        self._set_threads(config)
        self.style_size.configure(config, self._geometry[2], self.pipeline, self.threads)
        self._open_sink(config)
        self.watcher = ConfigWatcher(self.config_path, self._reload).start()

    # ---------------------------------------------------------------- reload (watcher thread)
    def _reload(self) -> None:
        """Build the new configuration off the frame loop; hand it over or keep the last good one."""
        if self.scene is None:
            return
        sdnotify.reloading()
        self.state = "reloading"
        try:
            config = load_config(self.config_path)
            stages = diff_stages(self.scene.config, config)
            if not stages:
                log.info("config reloaded: no change")
                self.config_error = None
                return
            # Built at the current output size; a camera/output change that alters the size rebuilds
            # the scene once more when the frame loop reopens that stage.
            width, height, _ = self._geometry
            scene = self.engine.build(config, (height, width), self._weights_dir(config))
        except VcamstyleError as exc:
            self.config_error = str(exc)
            log.error("reload failed, keeping the previous configuration: %s", exc)
            return
        except Exception as exc:  # a bug must not kill the reload thread; logged with its traceback
            self.config_error = f"internal error during reload: {exc!r}"
            log.exception("reload failed, keeping the previous configuration")
            return
        finally:
            self.state = "running"
            sdnotify.ready(self._status_line())
        with self._pending_lock:
            self._pending = PendingScene(scene, stages)
        log.info("config reloaded (%s)", ", ".join(sorted(stages)))

    def _apply_pending(self) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, None
        if pending is None or self.pipeline is None:
            return
        scene, stages = pending.scene, pending.stages
        try:
            if "camera" in stages:
                self._open_camera(scene.config)
            if "camera" in stages or "output" in stages:
                old = self._geometry
                self._set_geometry(scene.config)
                if self._geometry != old or "output" in stages:
                    self._open_sink(scene.config)
                    if self._geometry[:2] != scene.settings.output_size[::-1]:
                        width, height, _ = self._geometry
                        scene = self.engine.build(scene.config, (height, width), self._weights_dir(scene.config))
        except VcamstyleError as exc:
            self.config_error = str(exc)
            log.error("could not apply the new configuration: %s", exc)
            if self.sink is None:
                raise
            return
        self.scene = scene
        self.pipeline = self.pipeline.replace(scene.segmenter, scene.stylizer, scene.settings)
        self._set_threads(scene.config)
        self.style_size.configure(scene.config, self._geometry[2], self.pipeline, self.threads)
        self.config_error = None

    # ---------------------------------------------------------------- frame loop
    def _next_frame(self, last_seq: int) -> tuple[np.ndarray | None, int, float]:
        """The next camera frame (``HxWx3 uint8 RGB`` at the output size), or None while the camera is down."""
        width, height, fps = self._geometry
        frame = self.source.wait_newer(last_seq, timeout=2.0 / max(fps, 1.0)) if self.source else None
        if frame is None:
            return None, last_seq, time.monotonic()
        image = frame.image
        if image.shape[:2] != (height, width):
            image = shrink(image, (height, width))
        return image, frame.seq, frame.captured_at

    def loop(self) -> None:
        last_seq = 0
        next_placeholder = next_output = time.monotonic()
        while not self.stop_event.is_set():
            self._apply_pending()
            t0 = time.perf_counter()
            content, last_seq, captured_at = self._next_frame(last_seq)
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
                self._count_frame({}, reason)
            else:
                now = time.monotonic()
                if now < next_output - OUTPUT_SLACK / max(fps, 1.0):
                    continue  # the camera runs faster than output.fps: drop this frame
                next_output = max(next_output + 1.0 / max(fps, 1.0), now - 1.0 / max(fps, 1.0))
                waited_ms = (now - captured_at) * 1000
                t1 = time.perf_counter()
                try:
                    result = self.pipeline.process(content)
                except (RuntimeError, ValueError) as exc:  # a model failing on one frame must not end the video
                    self._frame_failed(exc)
                    self._send(content)
                    self._count_frame({}, None)
                    continue
                t2 = time.perf_counter()
                if self.threads is not None:
                    self.threads.record((t2 - t1) * 1000)
                self.style_size.record((t2 - t1) * 1000)
                self._send(result.image)
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
        """Fixed thread count, or a tuner for ``threads: auto`` (kept across reloads that leave it)."""
        counts = thread_counts(config.threads)
        if self.threads is not None and self.threads.counts == counts:
            return
        if self._threads_before is None:
            self._threads_before = thread_policy.get_torch_threads()
        self.threads = ThreadTuner(counts)
        log.info("threads: %s (%s)", config.threads, ", ".join(map(str, self.threads.counts)))

    @property
    def last_error(self) -> str | None:
        """What ``status`` shows: a failed configuration first, else the last runtime failure."""
        return self.config_error or self.runtime_error

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
                self._open_sink(self.scene.config)
            except VcamstyleError as exc:
                self._sink_backoff = min(SINK_BACKOFF_MAX_S, self._sink_backoff * 2)
                self._sink_retry_at = now + self._sink_backoff
                self.runtime_error = str(exc)
                return
        try:
            self.sink.send(image)
            if self._sink_backoff != SINK_BACKOFF_START_S:  # it had failed: the output works again
                self._sink_backoff = SINK_BACKOFF_START_S
                self.runtime_error = None
        except SinkError as exc:
            self.runtime_error = str(exc)
            self._sink_backoff = min(SINK_BACKOFF_MAX_S, self._sink_backoff * 2)
            log.error("%s; reopening the output", exc)
            try:
                self.sink.close()
            except (OSError, RuntimeError, SinkError) as close_exc:
                log.debug("closing the failed sink: %s", close_exc)
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

    # ---------------------------------------------------------------- status
    def _status_line(self) -> str:
        return f"{self.rate.rate():.1f} fps, {self.describe_region('person')} / {self.describe_region('background')}"

    def describe_region(self, name: str) -> str:
        return self.scene.config.summary_region(name) if self.scene else "-"

    def status(self) -> dict[str, Any]:
        config = self.scene.config if self.scene else None
        return {
            "pid": os.getpid(),
            "state": self.state,
            "ready": self.state in ("running", "reloading"),
            "started_at": self.started_at,
            "uptime_s": round(time.time() - self.started_at, 1),
            "fps": self.rate.rate(),
            "frames": self.frames,
            "stage_ms": self.stage_times.medians(),
            "config": str(self.config_path),
            "person": self.describe_region("person"),
            "background": self.describe_region("background"),
            "method": config.style.method if config else None,
            "segmentation": config.segmentation.model if config else None,
            "device": str(self.scene.device) if self.scene else None,
            "threads": self.threads.threads if self.threads else None,
            **self.style_size.status(),
            "camera": {"available": bool(self.source and self.source.available),
                       "granted": list(self.source.granted) if self.source and self.source.granted else None},
            "output": self.sink.describe() if self.sink else None,
            "last_error": self.last_error,
        }

    def write_status(self) -> None:
        if self.publish:
            statusfile.write_status(self.status())
        sdnotify.status(self._status_line())

    # ---------------------------------------------------------------- lifecycle
    def run(self) -> int:
        """Start, loop until stopped, shut down. Returns the process exit status (0 on a clean stop)."""
        pidfile = PidFile(paths.pidfile_path()) if self.publish else None
        if pidfile is not None:
            pidfile.create()
        self.install_signal_handlers()
        try:
            self.write_status()
            self.start()
            self.state = "running"
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
        """Release everything within a bounded time (camera, device, watcher)."""
        self.state = "stopping"
        sdnotify.stopping()
        if self._threads_before is not None:  # in-process runs (benchmarks, tests) get torch back as it was
            thread_policy.set_torch_threads(self._threads_before)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for closer in (self.watcher.stop if self.watcher else None,
                       self.source.close if self.source else None,
                       self.sink.close if self.sink else None):
            if closer is None or time.monotonic() > deadline:
                continue
            try:
                closer()
            except (OSError, RuntimeError, VcamstyleError) as exc:
                log.warning("error while shutting down: %s", exc)
        if self.publish:
            statusfile.remove_status(pid=os.getpid())
        log.info("vcamstyle stopped after %d frames", self.frames)
