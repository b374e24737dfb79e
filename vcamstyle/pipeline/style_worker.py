"""The style network off the frame loop (``style.schedule: async``): one worker, the newest frame only.

The output runs on the camera's clock, the network need not. ``StyleWorker`` owns one thread that runs
the style network on the newest frame submitted whenever it is free; the frame loop submits every
frame (a job not yet started is replaced by the newer one: at most one job waits, never a queue) and
composes each output frame from the current camera frame with the newest finished result
(``latest``). The mask and the full-resolution guide are the current frame's, so the silhouette and
the edges follow at full rate; only the painting's texture and colours trail.

The worker knows nothing of networks: it runs a ``run(job)`` callable given to it and times it. For
tests and the quality benchmark it has a synchronous mode (``threaded=False``): nothing runs until the
caller says so (``run_pending``, e.g. from a ``scheduler`` called after every ``submit``), so a test
decides exactly which frame each result comes from.

Each job carries a ``generation``: ``retire(generation)`` makes every result of an older generation
unusable at once (a new style size, a reset): ``latest`` never returns one again, even if the worker
finishes it later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

log = logging.getLogger(__name__)

Job = TypeVar("Job")

#: The network's own rate is measured over this many seconds (as the output's, ``daemon.RateMeter``).
RATE_WINDOW_S = 2.0


@dataclass(frozen=True)
class Finished:
    """A finished job: the ``value`` its ``run`` returned, its ``generation``, the ``seq`` of the frame
    it was made from, and how long it ran (``ms``, on the worker)."""

    value: Any
    generation: int
    seq: int
    ms: float


@dataclass(frozen=True)
class _Pending(Generic[Job]):
    job: Job
    generation: int
    seq: int


class StyleWorker(Generic[Job]):
    """Runs ``run(job)`` for the newest submitted job, on its own thread (``threaded``) or when told."""

    def __init__(self, run: Callable[[Job], Any], threaded: bool = True, name: str = "vcamstyle-style",
                 scheduler: Callable[["StyleWorker[Job]", int], None] | None = None) -> None:
        """``scheduler`` (synchronous mode only): called as ``scheduler(worker, seq)`` after every
        ``submit``; it runs the pending job (``run_pending``) when it decides the network is free."""
        if threaded and scheduler is not None:
            raise ValueError("a scheduler is for a synchronous worker (threaded=False)")
        self._run = run
        self.threaded = threaded
        self._scheduler = scheduler
        self._cond = threading.Condition()
        self._pending: _Pending[Job] | None = None
        self._latest: Finished | None = None
        self._generation = 0
        self._busy = False
        self._stopped = False
        self._stamps: deque[float] = deque()
        #: The last failure of ``run`` (its exception), re-raised by the next ``latest`` call.
        self._error: BaseException | None = None
        self.runs = 0
        self._name = name
        self._thread: threading.Thread | None = None  # started by the first ``submit``

    # ------------------------------------------------------------------ the frame loop's side
    @property
    def generation(self) -> int:
        return self._generation

    def submit(self, job: Job, seq: int) -> None:
        """Offer the newest frame's job (``seq``: its frame number); replaces one not yet started."""
        with self._cond:
            if self._stopped:
                raise RuntimeError("the style worker was stopped")
            self._pending = _Pending(job, self._generation, seq)
            self._cond.notify_all()
            if self.threaded and self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
        if self._scheduler is not None:
            self._scheduler(self, seq)

    def latest(self) -> Finished | None:
        """The newest finished result of the current generation, or None. A failure of the network
        on the worker is raised here, once (the frame loop reports it as a failed frame)."""
        with self._cond:
            error, self._error = self._error, None
            latest = self._latest
        if error is not None:
            raise error
        return latest if latest is not None and latest.generation == self._generation else None

    def wait(self, timeout: float | None = None) -> Finished | None:
        """The newest result of the current generation, waiting for the job under way or pending when
        there is none yet (the first frame; synchronous mode runs it now). None on timeout."""
        if not self.threaded:
            self.run_pending()
            return self.latest()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._stopped and self._error is None and not self._has_current():
                if self._pending is None and not self._busy:
                    break  # nothing will come
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(left)
        return self.latest()

    def _has_current(self) -> bool:
        return self._latest is not None and self._latest.generation == self._generation

    def retire(self) -> int:
        """Make every result and pending job so far unusable (``latest`` returns None until a newer job
        finishes); returns the new generation."""
        with self._cond:
            self._generation += 1
            self._pending = None
            self._latest = None
            return self._generation

    @property
    def busy(self) -> bool:
        """Whether a job runs or waits."""
        with self._cond:
            return self._busy or self._pending is not None

    def rate(self, now: float | None = None) -> float:
        """Finished runs per second over the last ``RATE_WINDOW_S`` seconds (0.0 before two)."""
        now = time.monotonic() if now is None else now
        with self._cond:
            stamps = [t for t in self._stamps if now - t <= RATE_WINDOW_S]
        if len(stamps) < 2 or stamps[-1] <= stamps[0]:
            return 0.0
        return round((len(stamps) - 1) / (stamps[-1] - stamps[0]), 2)

    def stop(self, timeout: float | None = None) -> None:
        """Stop the thread after the job under way (a network run is not interruptible) and join it."""
        with self._cond:
            self._stopped = True
            self._pending = None
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and timeout:
                log.warning("the style network thread did not stop within %.1f s", timeout)
            elif self._thread.is_alive():  # not waited for (a reload): it ends after the run under way
                log.debug("the old style network thread ends after its run under way")

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ running jobs
    def run_pending(self) -> bool:
        """Synchronous mode: run the pending job now, on the caller's thread. Returns whether one ran."""
        if self.threaded:
            raise RuntimeError("run_pending is for a worker made with threaded=False")
        with self._cond:
            pending, self._pending = self._pending, None
        if pending is None:
            return False
        self._execute(pending)
        return True

    def take_pending(self) -> _Pending[Job] | None:
        """Synchronous mode: take the pending job out to run it later (``run_taken``): a scheduler that
        models a network taking several frames takes a frame's job when the network starts it and
        runs it when the network would finish it (the quality benchmark's latency model)."""
        with self._cond:
            pending, self._pending = self._pending, None
        return pending

    def run_taken(self, pending: _Pending[Job]) -> None:
        """Synchronous mode: run a job taken with ``take_pending`` now (its result is newest)."""
        if self.threaded:
            raise RuntimeError("run_taken is for a worker made with threaded=False")
        self._execute(pending)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                pending, self._pending = self._pending, None
                self._busy = True
            try:
                self._execute(pending)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _execute(self, pending: _Pending[Job]) -> None:
        began = time.perf_counter()
        try:
            value = self._run(pending.job)
        except Exception as exc:  # handed to the frame loop (``latest`` raises it), which reports the frame
            with self._cond:
                self._error = exc
                self._cond.notify_all()
            return
        finished = Finished(value, pending.generation, pending.seq, (time.perf_counter() - began) * 1000)
        with self._cond:
            self.runs += 1
            self._stamps.append(time.monotonic())
            while len(self._stamps) > 2 and self._stamps[-1] - self._stamps[0] > RATE_WINDOW_S:
                self._stamps.popleft()
            if pending.generation == self._generation:  # a retired generation's result is dropped
                self._latest = finished
            self._cond.notify_all()
