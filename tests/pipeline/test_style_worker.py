"""``style.schedule: async``: the style worker (own thread, newest frame only) and the pipeline composing
every frame from the newest painting. Deterministic: a fake network and the worker's synchronous mode
(``threaded=False``: a job runs only when the test says ``run_pending``); the threaded tests wait on
events, never on the clock."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
import torch

from vcamstyle.models.base import RegionStyle
from vcamstyle.pipeline.core import MaskSettings, Pipeline, PipelineSettings, RegionPlan
from vcamstyle.pipeline.style_worker import StyleWorker

from test_core import ColorStylizer, HalfSegmenter

CPU = torch.device("cpu")
H, W = 48, 96


def manual(worker: StyleWorker, seq: int) -> None:
    """A scheduler that never runs the network by itself: the test calls ``run_pending``."""


def instant(worker: StyleWorker, seq: int) -> None:
    """A scheduler whose network finishes at once: every frame is painted from itself."""
    worker.run_pending()


# ---------------------------------------------------------------------------------------------- worker
def test_synchronous_worker_runs_only_the_newest_job_when_told() -> None:
    ran: list[str] = []
    worker: StyleWorker[str] = StyleWorker(lambda job: ran.append(job) or job.upper(), threaded=False)
    for seq, job in enumerate(("a", "b", "c"), start=1):
        worker.submit(job, seq)
    assert worker.latest() is None and ran == []  # nothing runs by itself
    assert worker.run_pending() and ran == ["c"]  # "a" and "b" were replaced, never run
    finished = worker.latest()
    assert finished is not None and (finished.value, finished.seq) == ("C", 3)
    assert not worker.run_pending()  # nothing left


def test_retired_results_are_never_returned() -> None:
    worker: StyleWorker[int] = StyleWorker(lambda job: job, threaded=False)
    worker.submit(1, 1)
    worker.run_pending()
    worker.submit(2, 2)
    worker.retire()
    assert worker.latest() is None and not worker.run_pending()  # the result and the pending job are gone
    worker.submit(3, 3)
    assert worker.wait().value == 3


def test_a_result_finishing_after_retire_is_dropped() -> None:
    started, release = threading.Event(), threading.Event()

    def slow(job: int) -> int:
        started.set()
        release.wait()
        return job

    worker: StyleWorker[int] = StyleWorker(slow)
    worker.submit(1, 1)
    assert started.wait(10)
    worker.retire()  # e.g. a reset while the network runs on the old picture
    release.set()
    worker.submit(2, 2)
    assert worker.wait(10).value == 2
    assert worker.runs == 2
    worker.stop()
    assert not worker.alive


def test_a_network_failure_reaches_the_frame_loop_once() -> None:
    def broken(job: int) -> int:
        raise ValueError("bad frame")

    worker: StyleWorker[int] = StyleWorker(broken, threaded=False)
    worker.submit(1, 1)
    worker.run_pending()
    with pytest.raises(ValueError, match="bad frame"):
        worker.latest()
    assert worker.latest() is None


def test_stop_ends_the_thread_and_refuses_new_jobs() -> None:
    worker: StyleWorker[int] = StyleWorker(lambda job: job)
    worker.submit(1, 1)
    assert worker.wait(10).value == 1 and worker.alive
    worker.stop()
    assert not worker.alive
    with pytest.raises(RuntimeError, match="stopped"):
        worker.submit(2, 2)


def test_a_scheduler_is_called_after_every_submit() -> None:
    seen: list[int] = []
    worker: StyleWorker[int] = StyleWorker(lambda job: job, threaded=False,
                                           scheduler=lambda w, seq: seen.append(seq) or (seq % 2 == 0 and w.run_pending()))
    for seq in range(1, 5):
        worker.submit(seq * 10, seq)
    assert seen == [1, 2, 3, 4] and worker.runs == 2 and worker.latest().value == 40
    with pytest.raises(ValueError, match="synchronous"):
        StyleWorker(lambda job: job, scheduler=manual)


def test_rate_counts_finished_runs_per_second() -> None:
    worker: StyleWorker[int] = StyleWorker(lambda job: job, threaded=False)
    assert worker.rate() == 0.0
    for seq in range(1, 4):
        worker.submit(seq, seq)
        worker.run_pending()
    stamps = list(worker._stamps)
    assert worker.rate(now=stamps[-1]) == pytest.approx((len(stamps) - 1) / (stamps[-1] - stamps[0]), rel=0.01)


# ---------------------------------------------------------------------------------------------- pipeline
class MeanStylizer(ColorStylizer):
    """Paints every region flat in the content's mean colour plus its style code (so the output's colour
    tells which frame the painting was made from), one picture per region."""

    def stylize(self, content: torch.Tensor, mask: torch.Tensor, person: RegionStyle | None,
                background: RegionStyle | None) -> torch.Tensor:
        super().stylize(content, mask, person, background)
        mean = content.mean(dim=(2, 3), keepdim=True).expand_as(content)
        return torch.cat([(mean + r.code * 0.25).clamp(0, 1) for r in (person, background) if r is not None])


class ShiftingSegmenter(HalfSegmenter):
    """The person's edge moves right by 4 mask columns on every call."""

    def segment(self, frame: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        mask = torch.zeros(1, 1, 32, 32)
        mask[..., : 8 + 4 * self.calls] = 1.0
        return mask


def _flat(level: int) -> np.ndarray:
    return np.full((H, W, 3), level, np.uint8)


def _styled_settings(schedule: str, **kwargs: Any) -> PipelineSettings:
    zero = torch.zeros(1, 3, 1, 1)
    return PipelineSettings(output_size=(H, W), mask=MaskSettings(smoothing=0.0), style_size=24, schedule=schedule,
                            person=RegionPlan("style", style=RegionStyle(zero + 0.0)),
                            background=RegionPlan("style", style=RegionStyle(zero + 0.4)), **kwargs)


def test_async_frames_use_the_newest_painting_and_the_current_mask() -> None:
    stylizer, segmenter = MeanStylizer(), ShiftingSegmenter()
    pipeline = Pipeline(segmenter, stylizer, _styled_settings("async"), CPU, scheduler=manual)
    first = pipeline.process(_flat(40))  # no result yet: the first frame waits for its own
    assert len(stylizer.calls) == 1 and abs(int(first.image[5, 2, 0]) - 40) <= 1
    second = pipeline.process(_flat(200))  # the network has not run again: frame 1's painting, carried over
    assert len(stylizer.calls) == 1 and segmenter.calls == 2  # ... but the mask was computed for frame 2
    assert abs(int(second.image[5, 2, 0]) - 40) <= 2
    assert second.stage_ms["network_age"] == 1.0
    first_edge, second_edge = (int((r.mask[H // 2] > 0.5).sum()) for r in (first, second))
    assert second_edge > first_edge  # the silhouette followed at full rate
    assert pipeline.worker.run_pending()  # the network paints the newest frame (2)
    third = pipeline.process(_flat(90))
    assert len(stylizer.calls) == 2 and abs(int(third.image[5, 2, 0]) - 200) <= 2
    assert "network" in third.stage_ms and pipeline.network_ms is not None


def test_async_with_the_network_run_after_each_frame_equals_every_frame() -> None:
    """Every effect pairing: the async path composes exactly what the every-frame path does when the
    painting is of the frame itself (the carried-over fits are the ones the fused compositor fits)."""
    zero = torch.zeros(1, 3, 1, 1)
    picture = np.random.default_rng(5).integers(0, 256, (H, W, 3), dtype=np.uint8)
    plans = [RegionPlan("style", style=RegionStyle(zero + 0.2, 0.7)), RegionPlan("blur", blur=9.0),
             RegionPlan("color", color=(10, 200, 30)), RegionPlan("image", image=picture), RegionPlan("original")]
    frames = [np.random.default_rng(s).integers(0, 256, (H, W, 3), dtype=np.uint8) for s in range(3)]
    for person in plans:
        for background in plans[:2]:
            kw = dict(output_size=(H, W), mask=MaskSettings(smoothing=0.5), style_size=24, person=person,
                      background=background, style_smoothing=0.5, input_smoothing=0.5, face_strength=0.3)
            every = Pipeline(HalfSegmenter(), MeanStylizer(), PipelineSettings(**kw), CPU)
            carried = Pipeline(HalfSegmenter(), MeanStylizer(), PipelineSettings(**kw, schedule="async"), CPU,
                               scheduler=instant)
            for frame in frames:
                a, b = every.process(frame), carried.process(frame)
                assert np.array_equal(a.image, b.image), (person.effect, background.effect)
            assert (carried.worker is None) == (not carried.stylizes)


def test_reset_makes_the_next_frame_wait_for_a_painting_of_its_own() -> None:
    stylizer = MeanStylizer()
    pipeline = Pipeline(HalfSegmenter(), stylizer, _styled_settings("async"), CPU, scheduler=manual)
    pipeline.process(_flat(40))
    pipeline.reset()  # e.g. the camera came back: the old picture says nothing about the new one
    out = pipeline.process(_flat(200))
    assert len(stylizer.calls) == 2 and abs(int(out.image[5, 2, 0]) - 200) <= 2


def test_a_replaced_pipeline_never_shows_the_old_stylizer() -> None:
    """A live reload: the new pipeline has its own worker, whose first frame waits for its own painting."""
    old_stylizer, new_stylizer = MeanStylizer(), MeanStylizer()
    old = Pipeline(HalfSegmenter(), old_stylizer, _styled_settings("async"), CPU)
    old.process(_flat(40))
    old.process(_flat(40))
    new = old.replace(old.segmenter, new_stylizer, _styled_settings("async"))
    old.close()
    assert not old.worker.alive
    calls_before = len(old_stylizer.calls)
    out = new.process(_flat(200))
    assert len(new_stylizer.calls) >= 1 and len(old_stylizer.calls) == calls_before
    assert abs(int(out.image[5, 2, 0]) - 200) <= 2
    new.close()
    assert not new.worker.alive


def test_size_change_keeps_using_the_painting_until_the_new_size_is_ready() -> None:
    stylizer = MeanStylizer()
    pipeline = Pipeline(HalfSegmenter(), stylizer, _styled_settings("async"), CPU, scheduler=manual)
    pipeline.process(_flat(40))
    pipeline.set_style_size(32)  # style.size: auto stepped: no stall, the old painting serves meanwhile
    pipeline.process(_flat(40))
    assert len(stylizer.calls) == 1
    pipeline.worker.run_pending()
    pipeline.process(_flat(40))
    assert stylizer.calls[-1].content_shape[-2:] == (32, 64)


def test_unknown_schedule_is_refused() -> None:
    with pytest.raises(ValueError, match="schedule"):
        Pipeline(HalfSegmenter(), MeanStylizer(), _styled_settings("sometimes"), CPU)
