"""How many threads the networks use: fixed, or chosen by measuring while the video runs.

On a laptop the video-call app and vcamstyle share a few cores. With the cores free, two intra-op
threads run a frame about 1.4x faster than one; with the call app busy on one of two cores, a second
thread mostly waits for the core the app holds, and its busy-waiting takes time from both (measured on
2 cores, 640x360 default: median 47 vs 55 ms and p95 57 vs 83 ms with one thread instead of two under
a simulated call app). No fixed number is right for both, so with ``threads: auto`` the frame loop
keeps measuring: every ``period`` frames it tries the neighbouring count for ``window`` frames and
keeps whichever was faster by more than ``margin``.

``ThreadTuner`` is pure logic (it is told frame times and calls ``apply`` with a count), so it is
tested without a clock or a CPU load.
"""

from __future__ import annotations

import contextlib
import logging
import os
import statistics
from typing import Any, Callable, Iterator, Sequence

from vcamstyle import compute

log = logging.getLogger(__name__)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. under systemd's CPUAffinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def get_network_threads() -> int:
    """The networks' thread count (``compute.network_threads``)."""
    return compute.network_threads()


def set_network_threads(count: int) -> None:
    """The networks' thread count from the next frame on (``compute.set_threads``: onnxruntime's
    sessions, and torch's intra-op threads while torch runs a network)."""
    compute.set_threads(count)


class ThreadTuner:
    """Chooses among ``counts`` by comparing median frame times of short trials.

    Phases: ``measure`` (``window`` frames at the current count: the reference), ``trial`` (``window``
    frames at the candidate), then ``run`` for ``period`` frames before the next measurement. The
    first frame after any change is not counted (thread teams are resized then). The candidate
    alternates between the next lower and the next higher count, so a CPU that frees up again is
    found as well as one that gets busy.
    """

    def __init__(self, counts: Sequence[int], apply: Callable[[int], None] | None = None,
                 window: int = 15, period: int = 300, margin: float = 0.08) -> None:
        """``apply(count)`` sets the thread count (default: ``set_network_threads``)."""
        options = sorted({int(c) for c in counts if int(c) >= 1})
        if not options:
            raise ValueError(f"need at least one thread count >= 1, got {list(counts)}")
        if window < 3 or period < 0 or not 0 <= margin < 1:
            raise ValueError("window must be >= 3, period >= 0 and margin in [0, 1)")
        self.counts = options
        self.apply = apply if apply is not None else (lambda count: set_network_threads(count))
        self.window, self.period, self.margin = window, period, margin
        self.current = options[-1]
        self._candidate: int | None = None
        self._phase = "measure"
        self._skip = 1
        self._samples: list[float] = []
        self._reference = 0.0
        self._run_left = 0
        self._try_lower = True
        self.switches = 0
        self.apply(self.current)

    @property
    def threads(self) -> int:
        """The count in use right now (during a trial: the candidate)."""
        return self._candidate if self._phase == "trial" and self._candidate is not None else self.current

    @property
    def measuring(self) -> bool:
        """Whether a comparison is under way (frame times then reflect the trial, not the steady state)."""
        return len(self.counts) > 1 and self._phase != "run"

    def discard(self) -> None:
        """The work per frame changed (e.g. another style size): drop a comparison under way and
        measure again from the next frame at the current count."""
        if self._phase == "run" or len(self.counts) == 1:
            return
        if self._phase == "trial":
            self.apply(self.current)
        self._candidate = None
        self._phase, self._samples, self._skip = "measure", [], 1

    def _next_candidate(self) -> int | None:
        index = self.counts.index(self.current)
        lower = self.counts[index - 1] if index > 0 else None
        higher = self.counts[index + 1] if index + 1 < len(self.counts) else None
        first, second = (lower, higher) if self._try_lower else (higher, lower)
        self._try_lower = not self._try_lower
        return first if first is not None else second

    def record(self, frame_ms: float) -> None:
        """One processed frame took ``frame_ms``; may change the thread count for the next one."""
        if len(self.counts) == 1:
            return
        if self._skip:
            self._skip -= 1
            return
        if self._phase == "run":
            self._run_left -= 1
            if self._run_left <= 0:
                self._phase, self._samples = "measure", []
            return
        self._samples.append(frame_ms)
        if len(self._samples) < self.window:
            return
        median = statistics.median(self._samples)
        self._samples = []
        if self._phase == "measure":
            self._reference = median
            self._candidate = self._next_candidate()
            self._phase, self._skip = "trial", 1
            self.apply(self._candidate)
            return
        # the trial finished: keep the candidate only if it was clearly faster
        candidate = self._candidate if self._candidate is not None else self.current
        if median < self._reference * (1 - self.margin):
            log.info("threads: %d -> %d (median frame %.1f -> %.1f ms)", self.current, candidate,
                     self._reference, median)
            self.current = candidate
            self.switches += 1
        else:
            self.apply(self.current)
        self._candidate = None
        self._phase, self._run_left, self._skip = "run", self.period, 1


def thread_counts(setting: int | str, cores: int | None = None, reserve: int = 0) -> list[int]:
    """The counts a ``threads`` setting allows: ``auto`` -> 1, 2, 4, ... up to the available cores less
    ``reserve`` (at least 1; at most 8: more threads stop paying off for these small networks), the top
    included; a number -> that. ``reserve``: cores kept for the frame loop while the style network runs
    on its own thread (``style.schedule: async``): there its threads and the loop's work share the
    cores, and on 2 cores a second network thread only waits for the core the loop holds."""
    if setting == "auto":
        top = max(1, min(8, cores if cores is not None else available_cores()) - reserve)
        counts = {1 << k for k in range(top.bit_length()) if 1 << k <= top} | {top}
        return sorted(counts)
    return [int(setting)]


def reserved_cores(config: Any) -> int:
    """Cores ``threads: auto`` keeps for the frame loop: 1 while the style network runs on its own
    thread (``style.schedule`` resolving to ``async`` and a region styled), else 0."""
    from vcamstyle.pipeline import style_schedule

    styled = "style" in (config.person.effect, config.background.effect)
    return int(styled and style_schedule(config.style.schedule, compute.resolve_device(config.device)) == "async")


@contextlib.contextmanager
def threads_for(setting: int | str, reserve: int = 0) -> Iterator[int]:
    """Run a block (``bench``) with the thread count a ``threads`` setting means: the number, or for
    ``auto`` the most the tuner would start with (``reserve``: see ``thread_counts``); the previous count
    is restored afterwards."""
    before = get_network_threads()
    count = thread_counts(setting, reserve=reserve)[-1]
    set_network_threads(count)
    try:
        yield count
    finally:
        set_network_threads(before)
