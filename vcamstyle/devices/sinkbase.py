"""What every frame sink shares: the ``FrameSink`` protocol, drift-free pacing (``FramePacer``) and the
base class with size checks, frame counting and context management (``SinkBase``)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from vcamstyle.errors import SinkError


@runtime_checkable
class FrameSink(Protocol):
    """Where finished frames go. Opens on construction; ``send`` takes ``HxWx3 uint8 RGB``."""

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    @property
    def fps(self) -> float: ...

    @property
    def frames_sent(self) -> int: ...

    def send(self, frame: np.ndarray) -> None:
        """Write one ``HxWx3 uint8 RGB`` frame of the sink's size; raises SinkError when the write fails."""
        ...

    def wait_next_frame(self) -> None:
        """Sleep until the next frame is due at ``fps`` (returns at once for unpaced sinks)."""
        ...

    def close(self) -> None:
        """Release the device or file; safe to call twice."""
        ...

    def describe(self) -> str:
        """One line for logs and ``status``: what the sink writes to, in which format and size."""
        ...


class FramePacer:
    """Drift-free frame pacing: each deadline is the previous one plus ``1/fps``; when more than a frame
    late it resyncs to now instead of bursting to catch up."""

    def __init__(self, fps: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.period = 1.0 / fps
        self._clock = clock
        self._sleep = sleep
        self._deadline: float | None = None

    def wait(self) -> float:
        """Sleep until the next deadline; returns the seconds slept (0 when late)."""
        now = self._clock()
        if self._deadline is None:
            self._deadline = now + self.period
        slept = 0.0
        if now < self._deadline:
            slept = self._deadline - now
            self._sleep(slept)
        elif now - self._deadline > self.period:
            self._deadline = now
        self._deadline += self.period
        return slept


class SinkBase(ABC):
    """Shared size checks, frame counting, pacing and context management."""

    def __init__(self, width: int, height: int, fps: float, *, pace: bool,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if width <= 0 or height <= 0:
            raise SinkError(f"invalid output size {width}x{height}", hint="set a positive output width and height")
        if fps <= 0:
            raise SinkError(f"invalid output frame rate {fps}", hint="set a positive output fps")
        self._width, self._height, self._fps = int(width), int(height), float(fps)
        self._pacer = FramePacer(fps, clock, sleep) if pace else None
        self._frames_sent = 0

    @property
    def width(self) -> int:
        return self._width

    @property
    def height(self) -> int:
        return self._height

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def frames_sent(self) -> int:
        return self._frames_sent

    def _check_frame(self, frame: np.ndarray) -> None:
        expected = (self._height, self._width, 3)
        if frame.dtype != np.uint8 or frame.shape != expected:
            raise ValueError(f"expected an HxWx3 uint8 frame of shape {expected}, got {frame.dtype} {frame.shape}")

    def wait_next_frame(self) -> None:
        if self._pacer is not None:
            self._pacer.wait()

    @abstractmethod
    def send(self, frame: np.ndarray) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def describe(self) -> str: ...

    def __enter__(self) -> "SinkBase":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


