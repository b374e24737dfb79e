"""Test media made and read with PyAV: a video with a sine-tone audio track, and what a written file
really holds (decodable frames, when its video ends, its audio)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np


def write_clip(path: Path, frames: int = 12, size: tuple[int, int] = (96, 64), fps: Fraction = Fraction(25),
               tone_hz: float | None = 440.0, rotation: int = 0, audio_codec: str = "aac") -> Path:
    """An H.264 video (``size`` = width, height) of a moving bar on grey, and, unless ``tone_hz`` is None,
    a sine tone as long as the video (``audio_codec``). ``rotation``: a display rotation in degrees."""
    import av

    width, height = size
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        audio = out.add_stream(audio_codec, rate=48000, layout="mono") if tone_hz else None
        for i in range(frames):
            canvas = np.full((height, width, 3), 100, np.uint8)
            x = (i * 5) % max(1, width - 8)
            canvas[:, x:x + 8] = (230, 40, 40)
            canvas[: height // 4, : width // 4] = (20, 200, 20)  # a marker in the top-left corner
            picture = av.VideoFrame.from_ndarray(canvas, format="rgb24")
            picture.pts = i
            picture.time_base = 1 / fps
            for packet in video.encode(picture):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if audio is not None:
            samples = int(round(48000 * frames / fps))
            t = np.arange(samples) / 48000
            tone = (0.3 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = tone[None, start:start + 1024]
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="flt", layout="mono")
                frame.sample_rate, frame.pts = 48000, start
                for packet in audio.encode(frame):
                    out.mux(packet)
            for packet in audio.encode(None):
                out.mux(packet)
    return path


@dataclass(frozen=True)
class Contents:
    frames: int
    #: When the video ends: the last frame's time plus its duration, in seconds from the first frame.
    video_seconds: float
    rate: Fraction | None
    size: tuple[int, int]
    audio_codec: str | None
    audio_seconds: float
    audio_peak_hz: float | None


def contents(path: Path) -> Contents:
    """Decode every video frame (and the audio) of ``path``; frames that fail to decode are not counted."""
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        times, size, samples = [], (0, 0), []
        ends = []
        for frame in container.decode(*[s for s in (video, audio) if s is not None]):
            if isinstance(frame, av.VideoFrame):
                times.append(float(frame.pts * video.time_base))
                ends.append(float((frame.pts + (frame.duration or 0)) * video.time_base))
                size = (frame.width, frame.height)
            else:
                samples.append(frame.to_ndarray().reshape(-1))
        codec = audio.codec_context.name if audio is not None else None
        rate = video.average_rate
        sample_rate = audio.codec_context.sample_rate if audio is not None else 0
    first = times[0] if times else 0.0
    peak, seconds = None, 0.0
    if samples:
        signal = np.concatenate(samples)
        seconds = len(signal) / sample_rate
        spectrum = np.abs(np.fft.rfft(signal))
        peak = float(np.fft.rfftfreq(len(signal), 1 / sample_rate)[int(np.argmax(spectrum))])
    return Contents(len(times), (max(ends) - first) if ends else 0.0, rate, size, codec, seconds, peak)
