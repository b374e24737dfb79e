"""A reload as a transaction: every part of the new configuration is ready before anything old goes.

``prepare`` runs in the reload thread. It opens the new camera (when ``camera.*`` changed), works out
the output geometry, builds the scene at that size and opens the new sink (when ``output.*`` or the
geometry changed). Any failure closes what it had opened and raises; the running parts were never
touched. The result, a ``Prepared``, is handed to the frame loop, which swaps it in between two frames
and releases the old parts.

A device can be held by one user at a time (a V4L2 camera streaming, a v4l2loopback producer). When
the new camera or sink cannot be opened while the old one holds *the same device*, ``prepare`` marks
it ``reopen_*`` and the frame loop does release-old, open-new, and on failure reopens the old one
(``swap_exclusive``): the only case where the old part goes first, and it comes back on failure.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from vcamstyle.config import VIDEO_FILE_SUFFIXES, Config
from vcamstyle.daemon.safefile import describe_kind
from vcamstyle.devices import CameraSettings, CameraSource, FrameSink, create_sink
from vcamstyle.errors import SinkError, SourceError

log = logging.getLogger(__name__)

Geometry = tuple[int, int, float]
T = TypeVar("T")


def camera_settings(config: Config) -> CameraSettings:
    c = config.camera
    return CameraSettings(device=c.device, width=c.width, height=c.height, fps=c.fps, fourcc=c.fourcc, mirror=c.mirror)


def output_geometry(config: Config, granted: tuple[int, int, float] | None) -> Geometry:
    """(width, height, fps) of the virtual camera: the configured values, else what the camera granted."""
    cam_w, cam_h, cam_fps = granted or (config.camera.width, config.camera.height, config.camera.fps)
    o = config.output
    width = o.width or cam_w or config.camera.width
    height = o.height or cam_h or config.camera.height
    fps = o.fps or (cam_fps if cam_fps and cam_fps > 0 else config.camera.fps)
    even = int(width) // 2 * 2, int(height) // 2 * 2
    if even != (int(width), int(height)):  # only a camera's size can be odd here: the config refuses odd ones
        log.info("output %dx%d: the camera's %dx%d rounded down to even sides (YUYV and I420 share colour "
                 "between two pixels; the output is always even); set output.width and output.height to choose",
                 *even, int(width), int(height))
    return *even, float(fps)


def open_camera(config: Config) -> CameraSource:
    """A started camera for ``config``. Raises ``SourceError`` for every failure (OpenCV's own
    ``cv2.error`` and ``OverflowError`` for an index no driver takes included)."""
    source = CameraSource(camera_settings(config))
    try:
        return source.start()
    except SourceError:
        source.close()
        raise
    except Exception as exc:  # cv2.error, OverflowError, OSError: a camera that cannot be opened
        source.close()
        raise SourceError(f"cannot open camera {config.camera.device!r}: {str(exc).strip().splitlines()[0]}",
                          hint="check camera.device; `vcamstyle doctor` lists the cameras") from exc


def check_output_path(path: Path) -> None:
    """Refuse an output path that holds a FIFO, a device or a socket: a video writer would block on
    it (a FIFO without a reader) or write into a device."""
    try:
        info = os.stat(path)
    except OSError:
        return  # missing (created by the sink) or unreadable (the sink names the failure)
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        raise SinkError(f"output.path {path} is {describe_kind(info.st_mode)}, not a video file or a folder",
                        hint="set output.path to a .mp4/.avi file or a folder for PNG frames")


def open_sink(config: Config, geometry: Geometry) -> FrameSink:
    """An open sink for ``config`` at ``geometry``. Raises ``SinkError`` for every failure (a size or a
    frame rate the writer refuses, a directory that cannot be created)."""
    width, height, fps = geometry
    o = config.output
    backend = "null" if o.backend == "none" else o.backend
    path = str(o.path) if o.path else None
    if backend == "file" and path:
        check_output_path(Path(path))
        if Path(path).suffix.lower() not in VIDEO_FILE_SUFFIXES:  # a PNG folder (config check refuses other names)
            path = os.path.join(path, "")  # its trailing / (lost in the config's Path) says so to the sink
    try:
        return create_sink(None, width, height, fps, backend=backend, device=o.device,
                           path=path, format=o.format)
    except SinkError:
        raise
    except Exception as exc:  # cv2.error, ValueError, OSError from a writer
        raise SinkError(f"cannot open the output ({o.backend}, {width}x{height} at {fps:g} fps): "
                        f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}",
                        hint="check output.* in config.yaml (path, size, fps)") from exc


def close_quietly(part: Any, what: str) -> None:
    """Close a camera or sink, logging (never raising) a failure."""
    if part is None:
        return
    try:
        part.close()
    except Exception as exc:  # a failing close must not stop the swap or the shutdown
        log.warning("closing the old %s: %s", what, exc)


@dataclass
class Running:
    """A snapshot of what the frame loop runs with (the base a reload is compared with)."""

    config: Config
    source: CameraSource | None
    sink: FrameSink | None
    geometry: Geometry


@dataclass
class Prepared:
    """A fully built configuration waiting for the frame loop. New parts only; None keeps the old one."""

    config: Config
    stages: frozenset[str]
    scene: Any
    geometry: Geometry
    source: CameraSource | None = None
    sink: FrameSink | None = None
    reopen_camera: bool = False
    reopen_sink: bool = False
    #: A newer save arrived while this was built: wait for it (it supersedes this one, or, if it is
    #: invalid, releases this one as the newest valid configuration).
    hold: bool = False

    def discard(self) -> None:
        """Close the parts this reload opened (it was superseded or could not be applied)."""
        close_quietly(self.source, "camera")
        close_quietly(self.sink, "output")
        self.source = self.sink = None


def same_camera(old: Config, new: Config) -> bool:
    return old.camera.device == new.camera.device


def same_output(old: Config, new: Config) -> bool:
    o, n = old.output, new.output
    return (o.backend, o.device, o.path) == (n.backend, n.device, n.path)


def prepare(config: Config, stages: frozenset[str], running: Running,
            build_scene: Callable[[Config, tuple[int, int]], Any]) -> Prepared:
    """Open and build everything ``config`` needs beyond ``running`` (see the module doc).

    Raises:
        VcamstyleError: any part failed; whatever this call had opened is closed again.
    """
    source: CameraSource | None = None
    sink: FrameSink | None = None
    try:
        granted = running.source.granted if running.source is not None else None
        reopen_camera = False
        if "camera" in stages:
            try:
                source = open_camera(config)
                granted = source.granted
            except SourceError as exc:
                if running.source is None or not same_camera(running.config, config):
                    raise
                log.info("camera %s is busy with the running configuration (%s): it is swapped between frames",
                         config.camera.device, exc.message)
                reopen_camera, granted = True, None
        geometry = output_geometry(config, granted)
        scene = build_scene(config, (geometry[1], geometry[0]))
        reopen_sink = False
        if "output" in stages or geometry != running.geometry:
            try:
                sink = open_sink(config, geometry)
            except SinkError as exc:
                if running.sink is None or not same_output(running.config, config):
                    raise
                log.info("the output is busy with the running configuration (%s): it is swapped between frames",
                         exc.message)
                reopen_sink = True
        return Prepared(config, stages, scene, geometry, source, sink, reopen_camera, reopen_sink)
    except BaseException:
        close_quietly(source, "camera")
        close_quietly(sink, "output")
        raise


def swap_exclusive(release_old: Callable[[], None], open_new: Callable[[], T], reopen_old: Callable[[], None]) -> T:
    """Release the old part, open the new one; if that fails, ``reopen_old()`` puts the old one back
    (or a stand-in, if even that fails) and the failure is re-raised."""
    release_old()
    try:
        return open_new()
    except BaseException:
        reopen_old()
        raise
