"""Video files written with PyAV (FFmpeg's libraries, in the ``av`` wheel): the daemon's recording and
``vcamstyle render``'s output.

Why PyAV and these containers: a recording must stay playable when the writer is killed, so every
container here is one FFmpeg can read back without its trailer: fragmented MP4 (``.mp4``/``.mov``,
H.264; a fragment goes to disk at every keyframe, about once a second), Matroska (``.mkv``, H.264;
clusters written as they fill) and AVI (``.avi``, MJPEG; every frame a chunk). Every packet is flushed
to the OS as it is muxed. Frames carry timestamps (``pts`` in ``time_base`` units), so a writer fed at
any rate keeps time; each packet's duration is the gap to the next one, and the last one's is given at
``close``. Files are opened by the caller (``create_exclusive``: never an existing file).

Frames in: ``HxWx3 uint8 RGB`` numpy arrays of the writer's size.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from vcamstyle.errors import SinkError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Container:
    """How one file suffix is written: FFmpeg muxer, video encoder, pixel format, time base."""

    muxer: str
    codec: str
    pix_fmt: str
    #: None: one tick per frame at the writer's fps (AVI counts frames; a gap becomes a repeated frame).
    time_base: Fraction | None
    options: dict[str, str] = field(default_factory=dict)


_FRAGMENTED = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
CONTAINERS: dict[str, Container] = {
    ".mp4": Container("mp4", "libx264", "yuv420p", Fraction(1, 90000), _FRAGMENTED),
    ".mov": Container("mov", "libx264", "yuv420p", Fraction(1, 90000), _FRAGMENTED),
    ".mkv": Container("matroska", "libx264", "yuv420p", Fraction(1, 1000), {"cluster_time_limit": "1000"}),
    ".avi": Container("avi", "mjpeg", "yuvj420p", None),
}
VIDEO_SUFFIXES = tuple(CONTAINERS)
SUFFIX_HINT = "use a .mp4, .mkv, .mov or .avi file name"
#: H.264 settings: no frame held back in the encoder (a killed writer loses nothing it was given).
X264_OPTIONS = {"tune": "zerolatency", "crf": "20"}
#: x264 presets: a live recording encodes in the frame loop (ultrafast: about the old mp4v writer's
#: cost); a render has time for smaller files.
LIVE_PRESET, FILE_PRESET = "ultrafast", "veryfast"


def container_for(path: Path) -> Container:
    """The ``Container`` for ``path``'s suffix; ``SinkError`` for any other suffix."""
    found = CONTAINERS.get(path.suffix.lower())
    if found is None:
        raise SinkError(f"unsupported video file type {path.suffix!r} ({path})", hint=SUFFIX_HINT)
    return found


def create_exclusive(path: Path) -> BinaryIO:
    """Create ``path`` for writing, unbuffered; ``FileExistsError`` if anything is there already (never
    truncates), other ``OSError`` as the system says."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    return os.fdopen(fd, "wb", buffering=0)


def numbered(path: Path, n: int) -> Path:
    """``rec.mp4`` -> ``rec-1.mp4`` (n = 1), ``rec-2.mp4``, ...; n = 0 is ``path`` itself."""
    return path if n == 0 else path.with_name(f"{path.stem}-{n}{path.suffix}")


def create_free(path: Path, limit: int = 10_000) -> tuple[Path, BinaryIO]:
    """``path``, or the first free ``numbered`` name beside it, created exclusively: an existing file is
    never opened. Raises ``OSError`` (the folder is not writable) or ``FileExistsError`` past ``limit``."""
    for n in range(limit):
        candidate = numbered(path, n)
        try:
            return candidate, create_exclusive(candidate)
        except FileExistsError:
            continue
    raise FileExistsError(f"{path} and {limit - 1} numbered names beside it exist")


def even(n: int) -> int:
    """4:2:0 video needs even sizes: odd ones grow by one (the edge row/column is repeated)."""
    return n + (n % 2)


def pad_even(frame: np.ndarray) -> np.ndarray:
    """``HxWx3`` with the last row/column repeated up to even sides (a view-free copy only when odd)."""
    height, width = frame.shape[:2]
    if height % 2 == 0 and width % 2 == 0:
        return frame
    return np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")


class VideoWriter:
    """One video stream (plus, optionally, one audio stream copied from an input) into ``file``.

    ``fps``: the nominal rate (the stream's declared rate, AVI's tick). ``audio``: a PyAV input audio
    stream whose packets ``mux_audio`` copies unchanged (same timestamps), or None. ``preset``: x264's.
    """

    def __init__(self, file: BinaryIO, path: Path, width: int, height: int, fps: float, *,
                 audio: Any = None, preset: str = FILE_PRESET) -> None:
        import av

        self.path = path
        self._file = file
        self.spec = container_for(path)
        self.width, self.height = int(width), int(height)
        rate = Fraction(fps).limit_denominator(1001)
        self.time_base = self.spec.time_base or 1 / rate
        try:
            self._container = av.open(file, "w", format=self.spec.muxer,
                                      options={**self.spec.options, "flush_packets": "1"})
            stream = self._container.add_stream(self.spec.codec, rate=rate)
            stream.width, stream.height = even(self.width), even(self.height)
            stream.pix_fmt = self.spec.pix_fmt
            stream.time_base = self.time_base
            stream.codec_context.time_base = self.time_base
            if self.spec.codec == "libx264":
                stream.codec_context.options = {**X264_OPTIONS, "preset": preset}
                stream.codec_context.gop_size = max(1, round(fps))
            self._video = stream
            self._audio = self._audio_stream(audio) if audio is not None else None
        except (av.FFmpegError, ValueError) as exc:
            self._abort()
            raise SinkError(f"cannot write {self.spec.codec} video to {path} at {width}x{height}: {exc}",
                            hint=SUFFIX_HINT) from exc
        self._held: Any = None  # the newest packet, muxed once the next one gives its duration
        self._broken = False  # a mux failed (disk full): FFmpeg's muxer must not be called again
        self.frames = 0

    def _audio_stream(self, audio: Any) -> Any:
        """An output stream that takes ``audio``'s packets as they are; ``SinkError`` when this container
        cannot hold that codec."""
        codec = audio.codec_context.name
        if codec not in self._container.supported_codecs:
            self._abort()
            raise SinkError(f"a {self.path.suffix} file cannot hold the input's {codec} audio track ({self.path})",
                            hint="write a .mkv file: Matroska holds every common audio codec")
        return self._container.add_stream_from_template(audio)

    def _abort(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            try:
                container.close()
            except Exception as exc:  # closing a half-opened container: the original error matters
                log.debug("closing %s after a failed open: %s", self.path, exc)
        self._file.close()

    def write(self, frame: np.ndarray, pts: int, *, keyframe: bool = False) -> None:
        """Encode one ``HxWx3 uint8 RGB`` frame at ``pts`` (``time_base`` units, increasing)."""
        import av

        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(pad_even(frame)), format="rgb24")
        picture.pts, picture.time_base = int(pts), self.time_base
        if keyframe:
            picture.pict_type = av.video.frame.PictureType.I
        try:
            for packet in self._video.encode(picture):
                self._hand_on(packet)
        except av.FFmpegError as exc:
            raise SinkError(f"writing {self.path} failed: {exc}", hint="check free disk space") from exc
        self.frames += 1

    def mux_audio(self, packet: Any) -> None:
        """Copy one input audio packet unchanged (its timestamps are kept)."""
        import av

        if self._audio is None or packet.dts is None:
            return
        packet.stream = self._audio
        try:
            self._container.mux(packet)
        except av.FFmpegError as exc:
            raise SinkError(f"writing the audio to {self.path} failed: {exc}",
                            hint="write a .mkv file, or check free disk space") from exc

    def _hand_on(self, packet: Any) -> None:
        held, self._held = self._held, packet
        if held is not None:
            if packet.pts is not None and held.pts is not None and packet.pts > held.pts:
                held.duration = packet.pts - held.pts
            try:
                self._container.mux(held)
            except BaseException:
                self._broken = True  # muxing again after a failed header write crashes libavformat
                raise

    def close(self, end_pts: int | None = None) -> None:
        """Flush the encoder and finish the file. ``end_pts``: when the last frame stops showing (its
        duration runs up to it); None keeps one frame interval."""
        import av

        container, self._container = getattr(self, "_container", None), None
        if container is None:
            return
        if self._broken:  # no more muxing (it crashes after a failed header write); free the container
            try:
                container.close()
            except Exception as exc:  # the trailer cannot be written either: the earlier error is the news
                log.debug("closing %s after a failed write: %s", self.path, exc)
            finally:
                self._file.close()
            raise SinkError(f"finishing {self.path} failed: an earlier write failed", hint="check free disk space")
        try:
            for packet in self._video.encode(None):
                self._hand_on(packet)
            held, self._held = self._held, None
            if held is not None:
                if end_pts is not None and held.pts is not None and end_pts > held.pts:
                    held.duration = int(end_pts) - held.pts
                container.mux(held)
        except av.FFmpegError as exc:
            raise SinkError(f"finishing {self.path} failed: {exc}", hint="check free disk space") from exc
        finally:
            container.close()
            self._file.close()
