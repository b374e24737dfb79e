"""vcamstyle.daemon.metrics: percentiles, per-stage summaries and the frame-rate meter (times injected)."""

from __future__ import annotations

import math

import pytest

from vcamstyle.daemon.metrics import RateMeter, StageTimes, percentile


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1 .. 100
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 51.0  # index round(0.5 * 99) = 50 (round half to even: 49.5 -> 50)
    assert percentile(values, 95) == 95.0  # index round(94.05) = 94
    assert percentile(values, 100) == 100.0


def test_percentile_ignores_input_order_and_clamps_q() -> None:
    assert percentile([5.0, 1.0, 3.0], 100) == 5.0
    assert percentile([5.0, 1.0, 3.0], 0) == 1.0
    assert percentile([5.0, 1.0, 3.0], 150) == 5.0
    assert percentile([5.0, 1.0, 3.0], -10) == 1.0
    assert percentile([7.5], 95) == 7.5


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 50))


def test_stage_times_summary() -> None:
    times = StageTimes(window=100)
    for ms in range(1, 21):  # 1 .. 20 ms
        times.add_all({"segment": float(ms), "style": 2.0 * ms})
    summary = times.summary()
    assert set(summary) == {"segment", "style"}
    assert summary["segment"] == {"median": 10.5, "p95": 19.0}  # index round(0.95 * 19) = 18
    assert summary["style"] == {"median": 21.0, "p95": 38.0}
    assert times.medians() == {"segment": 10.5, "style": 21.0}


def test_stage_times_keep_only_the_window() -> None:
    times = StageTimes(window=3)
    for ms in (100.0, 100.0, 100.0, 1.0, 2.0, 3.0):
        times.add("frame", ms)
    assert list(times.samples["frame"]) == [1.0, 2.0, 3.0]
    assert times.medians() == {"frame": 2.0}


def test_stage_times_empty() -> None:
    assert StageTimes().summary() == {}
    assert StageTimes().medians() == {}


def test_stage_times_round_to_hundredths() -> None:
    times = StageTimes()
    times.add("mask", 1.23456)
    assert times.summary()["mask"] == {"median": 1.23, "p95": 1.23}


def test_rate_meter_steady_rate() -> None:
    meter = RateMeter(window_s=2.0)
    for i in range(11):
        meter.tick(i * 0.1)  # 10 fps for one second
    assert meter.rate() == pytest.approx(10.0)


def test_rate_meter_forgets_old_ticks() -> None:
    meter = RateMeter(window_s=1.0)
    for i in range(50):
        meter.tick(i * 0.02)  # 50 fps for a second ...
    for i in range(1, 6):
        meter.tick(0.98 + 2.0 + i * 0.2)  # ... then a gap and 5 fps
    assert meter.rate() == pytest.approx(5.0)
    assert len(meter.stamps) <= 6


def test_rate_meter_needs_two_ticks_and_a_time_span() -> None:
    meter = RateMeter()
    assert meter.rate() == 0.0
    meter.tick(1.0)
    assert meter.rate() == 0.0
    meter.tick(1.0)  # same instant: no span
    assert meter.rate() == 0.0


def test_rate_meter_uses_the_monotonic_clock_by_default() -> None:
    meter = RateMeter()
    meter.tick()
    meter.tick()
    assert len(meter.stamps) == 2 and meter.stamps[1] >= meter.stamps[0]
