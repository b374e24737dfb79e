"""The daemon's side of ``style.size: auto``: which frame times reach the size controller."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vcamstyle.config import parse_config
from vcamstyle.daemon.style_size import AutoStyleSize


@dataclass
class _Settings:
    style_size: int = 256


@dataclass
class _Pipeline:
    stylizes: bool
    settings: _Settings = field(default_factory=_Settings)
    sizes: list[int] = field(default_factory=list)
    #: ``style.schedule: async``: the style network's last run time on its own thread (None: every frame)
    network_ms: float | None = None

    def set_style_size(self, size: int) -> None:
        self.sizes.append(size)
        self.settings.style_size = size


def _auto(pipeline: _Pipeline) -> AutoStyleSize:
    auto = AutoStyleSize()
    auto.configure(parse_config("style:\n  size: auto\n", Path("/tmp/c.yaml")), 30.0, pipeline, None)
    return auto


def test_frames_without_the_style_network_leave_the_size_alone():
    idle = _Pipeline(stylizes=False)
    auto = _auto(idle)
    for _ in range(600):  # 1 ms frames: a styled pipeline would step up
        auto.record(1.0)
    assert auto.controller.size == 256 and set(idle.sizes) <= {256}  # only the starting size was applied


def test_fast_styled_frames_raise_the_size():
    styled = _Pipeline(stylizes=True)
    auto = _auto(styled)
    for _ in range(600):
        auto.record(1.0)
    assert auto.controller.size > 256 and styled.sizes and styled.sizes[-1] == auto.controller.size


def test_with_the_network_on_its_thread_its_run_time_holds_the_size_down():
    """The network's time per ASYNC_NETWORK_FRAMES output intervals decides (30 fps: 33 ms; 3 intervals
    = 100 ms): a slow network steps the size down though every frame alone is quick, a quick one up."""
    from vcamstyle.pipeline.style_size import ASYNC_NETWORK_FRAMES, size_cost

    slow_network = _Pipeline(stylizes=True, network_ms=150.0)
    auto = _auto(slow_network)
    for _ in range(120):
        auto.record(10.0)
    assert auto.controller.size < 256
    quick_network = _Pipeline(stylizes=True, network_ms=20.0)
    auto = _auto(quick_network)
    for _ in range(600):
        auto.record(10.0)
    assert auto.controller.size > 256
    assert size_cost(10.0, None) == 10.0 and size_cost(10.0, 90.0) == 90.0 / ASYNC_NETWORK_FRAMES
    assert size_cost(50.0, 30.0) == 30.0 / ASYNC_NETWORK_FRAMES  # the frame's own time no longer counts
