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


def test_compare_schedules_scores_a_held_picture_worse_than_a_fresh_one() -> None:
    """A fake pipeline whose painting is the frame itself: async (composed from the current frame) has no
    lag, every frame (held for N frames) trails the moving square by its motion."""
    import cv2

    from vcamstyle.bench.quality_clips import Clip

    rng = np.random.default_rng(1)
    texture = cv2.GaussianBlur(np.clip(rng.normal(128, 50, (80, 60, 3)), 0, 255).astype(np.uint8), (0, 0), 1.2)
    frames, alphas = [], []
    for t in range(14):
        frame = np.full((120, 200, 3), 90, np.uint8)
        x = 40 + (3 * (t - 4) if t >= 4 else 0)
        frame[20:100, x:x + 60] = texture
        alpha = np.zeros((120, 200), np.float32)
        alpha[20:100, x:x + 60] = 1.0
        frames.append(frame)
        alphas.append(alpha)
    clip = Clip("square", frames, alphas, 4, None, frames[:4])
    calls = []

    def run(clip_: Clip, schedule: str, scheduler) -> list[np.ndarray]:
        calls.append((schedule, scheduler is None))
        return list(clip_.frames)

    row = qs.compare_schedules(run, clip, network_frames=(2,))
    assert calls == [("every_frame", True), ("async", False)]
    assert row["lag_async_2"] == pytest.approx(0.0, abs=0.3) and row["lag_every_frame_2"] > 2.0
    assert row["warp_async_2"] <= row["warp_every_frame_2"] and row["speed"] == pytest.approx(2.7, abs=0.1)  # 9 steps of 3 px after a still one
    assert qs.schedule_gate([row], network_frames=(2,))
    assert "| square |" in qs.format_schedules([row], network_frames=(2,))
