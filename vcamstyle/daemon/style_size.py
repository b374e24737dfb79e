"""The daemon's side of ``style.size: auto``: feeds frame times to the pipeline's size controller
(``vcamstyle.pipeline.StyleSizeController``) and applies its choice to the running pipeline.

Frame times taken during a thread-count trial are left out (they are not the steady state), and a
size change makes the thread tuner drop a comparison under way (it would mix two sizes).
"""

from __future__ import annotations

from typing import Any

from vcamstyle.config import Config
from vcamstyle.daemon.threads import ThreadTuner
from vcamstyle.pipeline import Pipeline, StyleSizeController, size_cost


class AutoStyleSize:
    """Holds the controller across reloads (``configure`` after every new pipeline)."""

    def __init__(self) -> None:
        self.controller: StyleSizeController | None = None
        self._pipeline: Pipeline | None = None
        self._threads: ThreadTuner | None = None

    def configure(self, config: Config, fps: float, pipeline: Pipeline | None, threads: ThreadTuner | None) -> None:
        """A controller for ``auto`` (kept, told the new frame rate) or none; ``pipeline`` runs at its size."""
        self._pipeline, self._threads = pipeline, threads
        if config.style.size != "auto":
            self.controller = None
            return
        if self.controller is None:
            self.controller = StyleSizeController(fps, self._apply)
        else:
            self.controller.set_fps(fps)
            self._apply(self.controller.size)

    def _apply(self, size: int) -> None:
        if self._pipeline is not None:
            self._pipeline.set_style_size(size)
        if self._threads is not None:
            self._threads.discard()

    def record(self, frame_ms: float) -> None:
        """One frame's processing time (outside thread-count trials, and only while a region is styled:
        a frame without the style network says nothing about its size, which then stays as it is). With
        the network on its own thread the controller sees ``size_cost`` (its run time, not the frame's)."""
        if self.controller is None or (self._threads is not None and self._threads.measuring):
            return
        if self._pipeline is not None and not self._pipeline.stylizes:
            return
        network_ms = self._pipeline.network_ms if self._pipeline is not None else None
        self.controller.record(size_cost(frame_ms, network_ms))

    def status(self) -> dict[str, Any]:
        """``style_size``: the size in use; ``style_size_auto``: whether ``auto`` chose it."""
        size = self._pipeline.settings.style_size if self._pipeline is not None else None
        return {"style_size": size, "style_size_auto": self.controller is not None}
