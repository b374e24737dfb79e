"""The schedule gate's latency model and lag measure (``vcamstyle.bench.quality_schedule``), without models."""

from __future__ import annotations

import numpy as np
import pytest

from vcamstyle.bench import quality_schedule as qs
from vcamstyle.pipeline.style_worker import StyleWorker


@pytest.mark.parametrize("frames", [1, 2, 3])
def test_the_delayed_network_paints_the_frame_the_model_says_is_shown(frames: int) -> None:
    """Driving a worker as the pipeline does (submit frame t, then take the newest result), the painting
    used at every frame is of ``shown_frame(t)`` (one taking a whole interval paints the frame before)."""
    worker: StyleWorker[int] = StyleWorker(lambda job: job, threaded=False, scheduler=qs.delayed_network(frames))
    used = []
    for t in range(12):
        worker.submit(t, t + 1)
        used.append(worker.latest().value)
    assert used == [qs.shown_frame(t, frames) for t in range(12)]
    assert qs.shown_frame(7, 3) == 3 and qs.shown_frame(2, 3) == 0


def test_lag_is_the_shift_of_the_shown_picture_over_the_person() -> None:
    rng = np.random.default_rng(0)
    texture = np.clip(rng.normal(128, 40, (120, 200, 3)), 0, 255).astype(np.uint8)
    import cv2
    texture = cv2.GaussianBlur(texture, (0, 0), 1.5)
    alpha = np.zeros((120, 200), np.float32)
    alpha[20:100, 50:150] = 1.0
    shifted = np.roll(texture, 6, axis=1)  # the shown picture trails by 6 px
    assert qs.lag_px(texture, texture, alpha) == pytest.approx(0.0, abs=0.2)
    assert qs.lag_px(shifted, texture, alpha) == pytest.approx(6.0, abs=0.7)


def test_the_gate_needs_both_measures_no_worse_on_every_clip() -> None:
    row = {f"{m}_{s}_{n}": 1.0 for m in ("warp", "lag") for s in ("async", "every_frame") for n in (2, 3)}
    assert qs.schedule_gate([row])
    assert not qs.schedule_gate([row, {**row, "lag_async_3": 1.5}])
