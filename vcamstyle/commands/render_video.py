"""One video through the pipeline with PyAV: decoded frame by frame, written with the input's own
timestamps (so the frame rate, constant or not, is the input's) and the input's first audio track
copied packet for packet (muxed, never re-timed or re-encoded).

Frames: ``HxWx3 uint8 RGB``, turned upright by the stream's display rotation (as players show it).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from vcamstyle.commands.render_progress import progress_for
from vcamstyle.devices import VideoWriter
from vcamstyle.errors import SourceError

Process = Callable[[np.ndarray], np.ndarray]


def upright(image: np.ndarray, rotation: int | float | None) -> np.ndarray:
    """``image`` turned by the display rotation (degrees counter-clockwise, multiples of 90)."""
    turns = round((rotation or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


class VideoRender:
    """Decode ``source``, ``process`` each frame, write ``partial`` (opened as ``file``). ``run`` may be
    interrupted at any point: ``finish`` then closes what was written into a playable file."""

    def __init__(self, source: Path, partial: Path, file: BinaryIO, process: Process) -> None:
        import av

        self.source, self.partial, self._file, self._process = source, partial, file, process
        try:
            self._input = av.open(str(source))
        except (av.FFmpegError, UnicodeDecodeError) as exc:
            raise SourceError(f"{source} cannot be opened as a video or image ({exc})",
                              hint="use a PNG/JPEG image or an mp4/mkv/mov/avi video") from exc
        if not self._input.streams.video:
            self._input.close()
            raise SourceError(f"{source} has no video stream", hint="give an image or a video file")
        self.video = self._input.streams.video[0]
        self.video.thread_type = "AUTO"
        self.audio = self._input.streams.audio[0] if self._input.streams.audio else None
        self.rate = Fraction(self.video.average_rate or self.video.guessed_rate or 30)
        self.writer: VideoWriter | None = None
        self.frames = 0
        self._early_audio: list[Any] = []  # audio ahead of the first frame (the writer opens at its size)
        self._last_pts = -1
        self._end_pts: int | None = None

    @property
    def total(self) -> int | None:
        """Frames in the input, as its header says (an estimate from the duration; None if unknown)."""
        if self.video.frames:
            return int(self.video.frames)
        if self.video.duration and self.video.time_base:
            return max(1, round(float(self.video.duration * self.video.time_base * self.rate)))
        return None

    def run(self, console: Any = None) -> int:
        """Render every frame (a progress line on ``console`` when given); returns the frame count."""
        streams = [s for s in (self.video, self.audio) if s is not None]
        with progress_for(console, self.source.name, self.total) as bar:
            for packet in self._input.demux(*streams):
                if packet.stream is self.audio:
                    self._audio(packet)
                    continue
                for frame in packet.decode():
                    self._frame(frame)
                    bar.advance()
        return self.frames

    def _audio(self, packet: Any) -> None:
        if self.writer is None:
            self._early_audio.append(packet)
        else:
            self.writer.mux_audio(packet)

    def _frame(self, frame: Any) -> None:
        image = self._process(upright(frame.to_ndarray(format="rgb24"), getattr(frame, "rotation", 0)))
        if self.writer is None:
            self.writer = VideoWriter(self._file, self.partial, image.shape[1], image.shape[0], float(self.rate),
                                      audio=self.audio)
            for packet in self._early_audio:
                self.writer.mux_audio(packet)
            self._early_audio.clear()
        tb = self.writer.time_base
        if frame.pts is None:
            pts = round(self.frames / self.rate / tb)
        else:
            pts = round(frame.pts * self.video.time_base / tb)
            if frame.duration:
                self._end_pts = round((frame.pts + frame.duration) * self.video.time_base / tb)
        pts = max(pts, self._last_pts + 1)
        self.writer.write(image, pts)
        self._last_pts = pts
        self.frames += 1

    def finish(self) -> None:
        """Close the output (a playable file of the frames written so far) and the input."""
        try:
            if self.writer is not None:
                end = self._end_pts if self._end_pts is not None and self._end_pts > self._last_pts else None
                self.writer.close(end_pts=end)
            else:
                self._file.close()
        finally:
            self._input.close()
