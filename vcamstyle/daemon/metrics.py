"""Frame-rate and per-stage timing statistics (for ``status``, the log and ``bench``)."""

from __future__ import annotations

import statistics
import time
from collections import deque


class StageTimes:
    """Keeps the last ``window`` samples of each stage and of the whole frame, in milliseconds."""

    def __init__(self, window: int = 120) -> None:
        self.window = window
        self.samples: dict[str, deque[float]] = {}

    def add(self, stage: str, ms: float) -> None:
        self.samples.setdefault(stage, deque(maxlen=self.window)).append(ms)

    def add_all(self, stage_ms: dict[str, float]) -> None:
        for stage, ms in stage_ms.items():
            self.add(stage, ms)

    def medians(self) -> dict[str, float]:
        return {k: round(statistics.median(v), 2) for k, v in self.samples.items() if v}

    def summary(self) -> dict[str, dict[str, float]]:
        """Per stage: median and p95 (ms)."""
        return {k: {"median": round(statistics.median(v), 2), "p95": round(percentile(list(v), 95), 2)}
                for k, v in self.samples.items() if v}


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest-rank on the sorted values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[index]


class RateMeter:
    """Frames per second over a sliding time window."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self.stamps: deque[float] = deque()

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.stamps.append(now)
        while self.stamps and now - self.stamps[0] > self.window_s:
            self.stamps.popleft()

    def rate(self) -> float:
        if len(self.stamps) < 2:
            return 0.0
        span = self.stamps[-1] - self.stamps[0]
        return round((len(self.stamps) - 1) / span, 2) if span > 0 else 0.0
