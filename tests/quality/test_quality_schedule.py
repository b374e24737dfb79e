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


@pytest.mark.parametrize("stop, frames, first", [(10, 1, 10), (10, 2, 12), (10, 3, 12), (11, 3, 15)])
def test_first_still_painting_is_the_first_frame_showing_a_painting_of_the_rest(stop, frames, first) -> None:
    assert qs.first_still_painting(stop, frames) == first
    assert qs.shown_frame(first, frames) >= stop - 1 > qs.shown_frame(first - 1, frames) or frames == 1


def test_compare_schedules_measures_async_shimmer_after_the_stop_from_its_first_still_painting() -> None:
    """Still 4, moving 6, settle 10 frames; the fake async output shimmers half as much as the naive run
    after the stop, and before its first still painting it shows a jump (the lag catching up) that must
    not count as shimmer."""
    from vcamstyle.bench.quality_clips import Clip

    rng = np.random.default_rng(2)
    base = np.full((40, 60, 3), 120, np.float32)
    noise = [rng.choice([-1.0, 1.0], size=base.shape) for _ in range(20)]
    naive = [np.clip(base + 8 * n, 0, 255).astype(np.uint8) for n in noise]
    shown = [np.clip(base + 4 * n, 0, 255).astype(np.uint8) for n in noise]
    shown[10] = np.full_like(shown[10], 250)  # a painting of the motion, carried onto the stop
    alphas = [np.zeros((40, 60), np.float32)] * 20
    clip = Clip("pulse", naive, alphas, 4, None, naive[:4], moving=6)

    def run(clip_: Clip, schedule: str, scheduler) -> list[np.ndarray]:
        return list(clip_.frames) if schedule == "every_frame" else shown

    row = qs.compare_schedules(run, clip, network_frames=(2,), naive=naive)
    assert qs.first_still_painting(clip.settle_part.start, 2) == 12  # frames 12-19 are judged
    assert row["settle_async_2"] == pytest.approx(4.0, abs=0.3)  # +-4 twice: mean change 4 of 8 per pixel
    assert row["settle_async_ratio_2"] == pytest.approx(0.5, abs=0.05)
    assert "0.50x" in qs.format_schedules([row], network_frames=(2,))


@pytest.mark.parametrize("still", range(4, 10))
def test_a_settle_part_of_the_minimum_length_fits_the_async_measure_whatever_the_phase(still: int) -> None:
    from vcamstyle.bench.quality import SETTLE_MIN
    from vcamstyle.bench.quality_clips import Clip

    rng = np.random.default_rng(still)
    frames = [rng.integers(0, 255, (20, 30, 3), dtype=np.uint8) for _ in range(still + 6 + SETTLE_MIN)]
    alphas = [np.zeros((20, 30), np.float32)] * len(frames)
    clip = Clip("phase", frames, alphas, still, None, frames[:still], moving=6)
    row = qs.compare_schedules(lambda c, schedule, scheduler: list(c.frames), clip, naive=frames)
    for n in qs.NETWORK_FRAMES:
        assert row[f"settle_async_ratio_{n}"] == pytest.approx(1.0)
