"""On demand (``output.on_demand``): the daemon idles while no app has the virtual camera open.

:class:`OnDemandMachine` is the decision logic, pure (time and consumer counts are passed in):

- an open or close of the device node (``activity``) schedules a count ``settle_s`` later; more events
  meanwhile do not push it back (storms end in one count). Chrome opens every camera for a few
  milliseconds to list it: by the time of the count that probe has closed again, so it wakes nothing;
- idle -> streaming as soon as a count finds another process holding the node;
- streaming -> idle once counts have found none for ``grace_s`` seconds (a consumer that comes back
  within the grace period keeps it streaming);
- besides events it counts every ``recheck_s`` seconds (missed events, an inotify queue overflow).

:class:`ConsumerMonitor` runs it in a thread over a
:class:`~vcamstyle.devices.consumers.ConsumerWatch` and tells the frame loop through ``streaming`` and the
``changed`` event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vcamstyle.devices import placeholder_frame

log = logging.getLogger(__name__)

IDLE = "idle"
STREAMING = "streaming"
WAKE = "wake"
SLEEP = "sleep"

DEFAULT_GRACE_S = 10.0
#: Placeholder frames per second while idle: keeps the device listed (exclusive_caps=1 needs a producer)
#: and answers an app's first read, at far under 2 % of a core.
IDLE_FPS = 2.0
SETTLE_S = 0.2
RECHECK_S = 5.0


@dataclass
class OnDemandMachine:
    """Idle/streaming decisions from open/close activity and consumer counts (times in seconds, any clock).

    Starts streaming with a count due at once, so a daemon started with nobody watching idles right away.
    """

    grace_s: float = DEFAULT_GRACE_S
    settle_s: float = SETTLE_S
    recheck_s: float = RECHECK_S
    now: float = 0.0

    def __post_init__(self) -> None:
        self.state = STREAMING
        self.consumers = 0
        self._count_at: float | None = self.now
        self._empty_since: float | None = None
        self._last_count = self.now
        self._first_count = True

    def activity(self, now: float) -> None:
        """The node was opened or closed: count ``settle_s`` from now, unless a count is already due sooner."""
        due = now + self.settle_s
        if self._count_at is None or self._count_at > due:
            self._count_at = due

    def next_count(self) -> float:
        """When the next count is due (an event's settle time, the grace period's end, or the recheck)."""
        if self._count_at is not None:  # an event's count replaces the recheck (a probe must settle first)
            candidates = [self._count_at]
        else:
            candidates = [self._last_count + self.recheck_s]
        if self.state == STREAMING and self._empty_since is not None:
            candidates.append(self._empty_since + self.grace_s)
        return min(candidates)

    def observe(self, now: float, consumers: int) -> str | None:
        """Feed a count taken at ``now``; returns ``WAKE``, ``SLEEP`` or None (no change)."""
        self.consumers = consumers
        self._count_at = None
        self._last_count = now
        first, self._first_count = self._first_count, False
        if consumers > 0:
            self._empty_since = None
            if self.state == IDLE:
                self.state = STREAMING
                return WAKE
            return None
        if self.state == IDLE:
            return None
        if self._empty_since is None:
            self._empty_since = now
        if first or now - self._empty_since >= self.grace_s:
            self.state = IDLE
            self._empty_since = None
            return SLEEP
        return None


class ConsumerMonitor:
    """A thread that feeds a watch's events and counts into an :class:`OnDemandMachine`.

    ``streaming`` says whether the frame loop should run the camera and the network; ``changed`` is set
    on every transition (the frame loop waits on it while idle); ``consumers`` is the last count.
    """

    def __init__(self, watch: Any, machine: OnDemandMachine | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._watch = watch
        self._clock = clock
        self.machine = machine or OnDemandMachine(now=clock())
        self.changed = threading.Event()
        self.holders: list[Any] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def streaming(self) -> bool:
        return self.machine.state == STREAMING

    @property
    def consumers(self) -> int:
        return self.machine.consumers

    def step(self) -> str | None:
        """Wait for the next event or due count, then count if due; returns the transition, if any."""
        timeout = max(0.0, self.machine.next_count() - self._clock())
        if self._watch.wait(timeout):
            self.machine.activity(self._clock())
        now = self._clock()
        if now < self.machine.next_count() or self._stop.is_set():
            return None
        self.holders = self._watch.holders()
        action = self.machine.observe(now, len(self.holders))
        if action is not None:
            who = ", ".join(f"{h.command} (pid {h.pid})" for h in self.holders) or "no app"
            log.info("on demand: %s (%s has the virtual camera open)",
                     "waking up" if action == WAKE else "going idle", who)
            self.changed.set()
        return action

    def start(self) -> ConsumerMonitor:
        self._thread = threading.Thread(target=self._run, name="on-demand", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except OSError as exc:  # a failing watch must not end on-demand: keep counting at the recheck pace
                log.warning("on demand: watching the virtual camera failed (%s); retrying", exc)
                self._stop.wait(self.machine.recheck_s)

    def stop(self) -> None:
        self._stop.set()
        self._watch.interrupt()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._watch.close()
        self.changed.set()


class IdleKeeper:
    """The daemon's side of on demand: follows the current sink (a new sink gets a new monitor; file and
    none sinks, other backends and ``on_demand: false`` get none), says when to idle, paces the idle
    placeholder and reports ``consumers`` for status."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.monitor: ConsumerMonitor | None = None
        self.idle = False
        self._clock = clock
        self._sink: Any = None
        self._image: np.ndarray | None = None

    def follow(self, sink: Any, output: Any) -> None:
        """Start (or restart) watching ``sink``'s consumers when it changed; ``output`` is the config section."""
        if sink is self._sink:
            return
        self._sink = sink
        self.stop()
        watch_of = getattr(sink, "consumer_watch", None)
        if watch_of is None or output is None or not output.on_demand:
            return
        watch = watch_of()
        if watch is not None:
            machine = OnDemandMachine(grace_s=output.on_demand_grace_s, now=self._clock())
            self.monitor = ConsumerMonitor(watch, machine, self._clock).start()

    def wanted_idle(self) -> bool:
        return self.monitor is not None and not self.monitor.streaming

    def update(self, sink: Any, output: Any, untried_pipeline: Any, width: int, height: int) -> str | None:
        """Follow ``sink`` (``output``: its config section) and the monitor. Returns WAKE (reopen the camera)
        or SLEEP (release it) when the daemon changes between idle and streaming, else None.
        ``untried_pipeline``: the pipeline if it has not run yet (warmed up on the way to idle), else falsy."""
        self.follow(sink, output)
        wanted = self.wanted_idle()
        if wanted == self.idle:
            return None
        if not wanted:
            self.idle = False
            return WAKE
        self.go_idle(untried_pipeline or None, width, height)
        return SLEEP

    def status_line(self) -> str | None:
        """The systemd STATUS line while idle, else None (the daemon's streaming line applies)."""
        return "idle: no app has the virtual camera open (camera off)" if self.idle else None

    def go_idle(self, warm_up: Any, width: int, height: int) -> None:
        """Enter idle (the camera is already released). ``warm_up``: a pipeline that has not run yet, run
        once on the placeholder so the first wake does not pay the network's set-up; else None."""
        if warm_up is not None:
            try:
                warm_up.process(self.frame(width, height))
            except (RuntimeError, ValueError) as exc:
                log.warning("warming the pipeline up failed: %s", exc)
        self.idle = True
        log.info("idle: no app has the virtual camera open; camera released")

    def frame(self, width: int, height: int) -> np.ndarray:
        """The idle placeholder (``HxWx3 uint8 RGB``), drawn once per size."""
        if self._image is None or self._image.shape[:2] != (height, width):
            self._image = placeholder_frame(width, height, "starting the camera")
        return self._image

    def pause(self, publish: Callable[[], None]) -> None:
        """``publish()`` the status, then sleep until the next idle frame is due or an app opens the device."""
        publish()
        if self.monitor is not None:
            self.monitor.changed.wait(1.0 / IDLE_FPS)
            self.monitor.changed.clear()

    def status(self) -> dict[str, Any]:
        """``consumers`` (None when not watched) and ``consumer_apps`` ("comm (pid N)") for status.json."""
        if self.monitor is None:
            return {"consumers": None, "consumer_apps": []}
        return {"consumers": self.monitor.consumers,
                "consumer_apps": [f"{h.command} (pid {h.pid})" for h in self.monitor.holders]}

    def stop(self) -> None:
        monitor, self.monitor = self.monitor, None
        if monitor is not None:
            monitor.stop()
