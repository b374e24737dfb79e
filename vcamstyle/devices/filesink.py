"""The file output (``output.backend: file``): a recording that keeps real time and never destroys a file.

- A video (``.mp4``/``.mov`` fragmented MP4, ``.mkv`` Matroska, ``.avi`` MJPEG; see
  :mod:`vcamstyle.devices.videofile`): every frame is stamped with the wall time since the first one
  (no frame is repeated; the last one lasts one mean frame interval), so the file plays as long as the
  recording ran, whatever rate the pipeline reached; it stays playable after ``stop``, SIGTERM and, up to about the last second, SIGKILL.
- A folder (a path that is a folder, ends with ``/`` or has no suffix): numbered PNG frames, numbered on
  after the ones already there.

A recording whose file is deleted while it is written (the folder removed) is noticed at the next
keyframe: the sink raises, and the daemon starts a new recording at ``output.path``; the log never
claims frames for a file that is gone. A file the sink made and could not write a byte to (a full
disk) is removed again when it closes, so retries leave no empty files.

Nothing is ever overwritten: a path that exists (a previous recording, the user's file, or this run's
own recording when a live edit reopens the output at another size) makes the sink write to the first
free numbered name beside it (``rec-1.mp4``, ``rec-2.mp4``, ...), and it logs where the frames go.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from vcamstyle.devices.sinkbase import SinkBase
from vcamstyle.devices.videofile import LIVE_PRESET, VideoWriter, container_for, create_exclusive, create_free
from vcamstyle.errors import SinkError

log = logging.getLogger(__name__)

#: A keyframe (and, in fragmented MP4, a fragment on disk) at least this often, in wall-clock seconds.
KEYFRAME_INTERVAL_S = 1.0
#: The lowest output.fps a video file takes (AVI counts time in frames of 1/fps).
MIN_VIDEO_FPS = 1.0
_FRAME_NAME = re.compile(r"frame_(\d+)\.png")


def _errno_text(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc)


def next_png_index(folder: Path) -> int:
    """One past the highest ``frame_N.png`` in ``folder`` (0 for a new or empty folder)."""
    indexes = [int(m.group(1)) for m in map(_FRAME_NAME.fullmatch, os.listdir(folder)) if m]
    return max(indexes, default=-1) + 1


class FileSink(SinkBase):
    """Frames to a video file or to numbered PNGs in a folder (see the module doc)."""

    def __init__(self, path: str | os.PathLike[str], width: int, height: int, fps: float, *, pace: bool = False,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(width, height, fps, pace=pace, clock=clock, sleep=sleep)
        raw = os.fspath(path)
        self.requested = Path(raw).expanduser()
        self._path = self.requested
        self._clock = clock
        self._writer: VideoWriter | None = None
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the video file we made
        self._closed = False
        self._png_dir = self._path.is_dir() or raw.endswith(("/", os.sep)) or self._path.suffix == ""
        self._start: float | None = None  # the wall clock at the first frame (pts 0)
        self._last_pts = -1
        self._next_keyframe = 0.0
        folder = self._path if self._png_dir else self._path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"cannot create the output directory for {self._path} ({_errno_text(exc)})",
                            hint="set output.path to a writable location") from exc
        try:
            if self._png_dir:
                self._next_png = next_png_index(self._path)
            else:
                container_for(self._path)  # an unsupported suffix is refused before a file is made
                self._path, file = create_free(self.requested)
        except OSError as exc:
            raise SinkError(f"cannot create the output {self._path} ({_errno_text(exc)})",
                            hint="set output.path to a writable location") from exc
        if self._png_dir:
            if self._next_png:
                log.info("output folder %s has frames up to frame_%06d.png: kept, numbering on",
                         self._path, self._next_png - 1)
            return
        if self._fps < MIN_VIDEO_FPS:
            self._path.unlink()  # our own empty file
            raise SinkError(f"the video writer refused {self._fps:g} fps for {self._path}: a video file needs at "
                            f"least {MIN_VIDEO_FPS:g} fps", hint="set output.fps to 1 or more (or null: the camera's)")
        if self._path != self.requested:
            log.warning("output.path %s exists and is kept: recording to %s", self.requested, self._path)
        info = os.fstat(file.fileno())
        self._identity = (info.st_dev, info.st_ino)
        try:
            self._writer = VideoWriter(file, self._path, self._width, self._height, self._fps, preset=LIVE_PRESET)
        except SinkError:
            self._path.unlink(missing_ok=True)  # our own empty file
            raise

    @property
    def path(self) -> Path:
        """Where the frames go (a numbered name beside ``output.path`` when that existed)."""
        return self._path

    def send(self, frame: np.ndarray) -> None:
        """Append one ``HxWx3 uint8 RGB`` frame, stamped with the wall time since the first frame."""
        self._check_frame(frame)
        if self._closed:
            raise SinkError(f"{self._path} is closed", hint="reopen the output")
        if self._png_dir:
            self._write_png(frame)
        else:
            self._write_video(frame)
        self._frames_sent += 1

    def _elapsed_pts(self, writer: VideoWriter, now: float) -> int:
        assert self._start is not None
        return round((now - self._start) / writer.time_base)

    def _write_video(self, frame: np.ndarray) -> None:
        assert self._writer is not None
        now = self._clock()
        if self._start is None:
            self._start = now
        pts = self._elapsed_pts(self._writer, now)
        pts = max(pts, self._last_pts + 1)  # a burst runs a tick ahead; the clock takes over again
        keyframe = now >= self._next_keyframe
        if keyframe:
            self._next_keyframe = now + KEYFRAME_INTERVAL_S
            if self._file_deleted():
                raise SinkError(f"the recording {self._path} was deleted while it was written (its "
                                f"{self._writer.frames} frame(s) are lost)",
                                hint="keep the file and its folder while recording; a new recording starts at "
                                     "output.path")
        self._writer.write(frame, pts, keyframe=keyframe)
        self._last_pts = pts

    def _write_png(self, frame: np.ndarray) -> None:
        ok, data = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        if not ok:
            raise SinkError("cannot encode a PNG frame", hint="check the output size")
        while True:
            target = self._path / f"frame_{self._next_png:06d}.png"
            self._next_png += 1
            try:
                with create_exclusive(target) as out:
                    out.write(data.tobytes())
                return
            except FileExistsError:
                continue  # never overwrite: a frame of another writer, take the next number
            except OSError as exc:
                raise SinkError(f"cannot write {target} ({_errno_text(exc)})",
                                hint="check free disk space and permissions") from exc

    def end_pts(self, writer: VideoWriter) -> int | None:
        """When the last frame stops showing: one mean frame interval of this recording after it (a
        slow shutdown adds no frozen tail), and never after now."""
        if self._start is None or writer.frames < 2:
            return None
        mean = self._last_pts / (writer.frames - 1)
        return min(round(self._last_pts + mean), max(self._last_pts + 1, self._elapsed_pts(writer, self._clock())))

    def close(self) -> None:
        """Finish the file; safe to call twice."""
        self._closed = True
        writer, self._writer = self._writer, None
        if writer is None:
            return
        deleted = self._file_deleted()
        try:
            writer.close(end_pts=self.end_pts(writer))
        finally:
            self._remove_if_empty()
        if deleted:
            log.warning("the recording %s was deleted while it was written: its %d frame(s) are lost",
                        self._path, writer.frames)
        else:
            log.info("recorded %d frame(s) to %s", writer.frames, self._path)

    def _is_ours(self, info: os.stat_result) -> bool:
        return (info.st_dev, info.st_ino) == self._identity

    def _file_deleted(self) -> bool:
        """Whether ``self._path`` no longer names the video file this sink is writing."""
        try:
            return not self._is_ours(os.stat(self._path))
        except FileNotFoundError:
            return True

    def _remove_if_empty(self) -> None:
        """Remove the file this sink made when not one byte reached it (a disk full from the start)."""
        try:
            info = os.stat(self._path)
        except FileNotFoundError:
            return
        if self._is_ours(info) and info.st_size == 0:
            self._path.unlink()
            log.warning("removed the empty %s: nothing could be written to it (check free disk space)", self._path)

    def describe(self) -> str:
        if self._png_dir:
            what = f"PNG frames in {self._path}"
        else:
            spec = container_for(self._path)
            what = f"{spec.codec} video {self._path} ({spec.muxer}, timestamps from the wall clock)"
        return f"{what} ({self._width}x{self._height} @ {self._fps:g} fps)"
