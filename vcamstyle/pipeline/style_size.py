"""``style.size: auto``: choose the style network's resolution from measured frame times.

The style network's cost grows with its pixel count, about the square of ``style.size`` (its short
side). A fixed size is either too slow for a small CPU or wastes a fast one, so with ``auto`` the
frame loop reports each frame's processing time and ``StyleSizeController`` moves the size within
``SizeBounds`` (128..384 in steps of 32 by default) to hold the output frame rate:

- every ``window`` frames it takes the median and the 90th percentile of the frame times;
- too slow (median above ``slow`` x the frame interval, or the 90th percentile above ``spiky`` x it):
  it steps down, straight to the size whose predicted time (quadratic in size) fits ``headroom`` x the
  interval, at least one step;
- fast enough that one step up is predicted to stay under ``headroom`` x the interval: one step up;
- hysteresis: ``headroom`` (0.8) is well below ``slow`` (0.95), so a size that was just fast enough
  stays, and after stepping down from a size it does not return to it for ``cooldown`` frames.

The first ``settle`` frames after a change are not counted (new shapes warm up). Pure logic: it is
told frame times and calls ``apply`` with a size, so it is tested with injected times.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SizeBounds:
    """The sizes ``auto`` may choose: ``low``..``high`` in steps of ``step``, starting at ``start``."""

    low: int = 128
    high: int = 384
    step: int = 32
    start: int = 256

    def __post_init__(self) -> None:
        if not 0 < self.low <= self.start <= self.high or self.step <= 0:
            raise ValueError(f"need 0 < low <= start <= high and step > 0, got {self}")
        if (self.high - self.low) % self.step or (self.start - self.low) % self.step:
            raise ValueError(f"high and start must be low plus whole steps, got {self}")


AUTO_BOUNDS = SizeBounds()

#: With ``style.schedule: async`` the network may take this many output frame intervals per result (it
#: then paints at 10 fps or more beside a 30 fps output): the size is held by ``network time /
#: ASYNC_NETWORK_FRAMES``. Longer and the painting trails a moving person further (docs/quality.md).
ASYNC_NETWORK_FRAMES = 3


def size_cost(frame_ms: float, network_ms: float | None) -> float:
    """What ``StyleSizeController.record`` is told for one frame: its processing time, or with the network
    on its own thread (``network_ms``: its last run there) the network's time per ``ASYNC_NETWORK_FRAMES``
    output frames. Not the frame time then: the worker takes the next frame as soon as it is free, so it
    keeps its core busy at any size, and a smaller size only makes the network paint more often (measured
    at 720p on 2 cores: the frame time stayed 31-35 ms at sizes 128 and 160, and counting it held the size
    at its floor)."""
    return frame_ms if network_ms is None else network_ms / ASYNC_NETWORK_FRAMES


def initial_style_size(setting: int | str, bounds: SizeBounds = AUTO_BOUNDS) -> int:
    """The network size a scene starts with: the configured number, or ``bounds.start`` for ``auto``."""
    return bounds.start if setting == "auto" else int(setting)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


class StyleSizeController:
    """Holds ``fps`` by moving the style size; ``record(frame_ms)`` after each processed frame."""

    def __init__(self, fps: float, apply: Callable[[int], None], bounds: SizeBounds = AUTO_BOUNDS,
                 window: int = 30, headroom: float = 0.8, slow: float = 0.95, spiky: float = 1.3,
                 cooldown: int = 600, settle: int = 2, start: int | None = None) -> None:
        if fps <= 0 or window < 5 or not 0 < headroom < slow <= spiky or cooldown < 0 or settle < 0:
            raise ValueError("need fps > 0, window >= 5, 0 < headroom < slow <= spiky, cooldown >= 0, settle >= 0")
        self.bounds = bounds
        self.budget_ms = 1000.0 / fps
        self.apply = apply
        self.window, self.headroom, self.slow, self.spiky = window, headroom, slow, spiky
        self.cooldown, self.settle = cooldown, settle
        first = bounds.start if start is None else start
        self.size = min(bounds.high, max(bounds.low, first - (first - bounds.low) % bounds.step))
        self.changes = 0
        self._samples: list[float] = []
        self._skip = settle
        self._frame = 0
        self._blocked: dict[int, int] = {}  # size -> frame number before which it is not chosen again
        self.apply(self.size)

    def set_fps(self, fps: float) -> None:
        """A new output frame rate (reload): the budget changes, the size stays."""
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.budget_ms = 1000.0 / fps

    def _predicted(self, median: float, size: int) -> float:
        return median * (size / self.size) ** 2

    def _target(self, median: float, p90: float) -> int:
        b = self.bounds
        if median > self.slow * self.budget_ms or p90 > self.spiky * self.budget_ms:
            fitting = b.low
            for size in range(self.size - b.step, b.low - 1, -b.step):
                if self._predicted(median, size) <= self.headroom * self.budget_ms:
                    fitting = size
                    break
            return fitting
        up = self.size + b.step
        if up <= b.high and self._predicted(median, up) <= self.headroom * self.budget_ms \
                and self._frame >= self._blocked.get(up, 0):
            return up
        return self.size

    def record(self, frame_ms: float) -> None:
        """One processed frame took ``frame_ms``; may change the size for the next frame."""
        self._frame += 1
        if self._skip:
            self._skip -= 1
            return
        self._samples.append(frame_ms)
        if len(self._samples) < self.window:
            return
        median, p90 = statistics.median(self._samples), _percentile(self._samples, 90)
        self._samples = []
        target = self._target(median, p90)
        if target == self.size:
            return
        if target < self.size:
            self._blocked[self.size] = self._frame + self.cooldown
        log.info("style size %d -> %d (median frame %.1f ms, p90 %.1f ms, budget %.1f ms)",
                 self.size, target, median, p90, self.budget_ms)
        self.size = target
        self.changes += 1
        self._skip = self.settle
        self.apply(target)
