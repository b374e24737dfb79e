"""The adaptive thread count: driven with synthetic frame times (no clock, no CPU load)."""

from __future__ import annotations

from typing import Callable

import pytest

from vcamstyle.daemon.threads import ThreadTuner, available_cores, thread_counts


def _run(tuner: ThreadTuner, frames: int, cost: Callable[[int], float]) -> None:
    """Feed ``frames`` frames whose time depends on the thread count in use."""
    for _ in range(frames):
        tuner.record(cost(tuner.threads))


def _tuner(applied: list[int], counts=(1, 2), **kwargs) -> ThreadTuner:
    return ThreadTuner(counts, apply=applied.append, window=5, period=20, **kwargs)


FREE_CPU = {1: 44.0, 2: 31.0}  # measured medians (ms) on 2 cores, 640x360 default
BUSY_CPU = {1: 47.0, 2: 55.0}  # the same with a simulated call app on one core


def test_starts_with_the_most_threads_and_keeps_them_on_a_free_cpu() -> None:
    applied: list[int] = []
    tuner = _tuner(applied)
    assert applied == [2] and tuner.threads == 2
    _run(tuner, 500, FREE_CPU.__getitem__)
    assert tuner.current == 2 and tuner.switches == 0
    assert 1 in applied  # it did try one thread, and went back
    assert applied[-1] == 2


def test_drops_to_one_thread_when_the_cpu_gets_busy_and_returns_when_it_frees() -> None:
    applied: list[int] = []
    tuner = _tuner(applied)
    _run(tuner, 100, FREE_CPU.__getitem__)
    assert tuner.current == 2
    _run(tuner, 100, BUSY_CPU.__getitem__)  # the call app starts
    assert tuner.current == 1
    _run(tuner, 100, FREE_CPU.__getitem__)  # the call ends
    assert tuner.current == 2 and tuner.switches == 2


def test_equal_times_within_the_margin_never_switch() -> None:
    applied: list[int] = []
    tuner = _tuner(applied, margin=0.1)
    _run(tuner, 400, {1: 40.0, 2: 38.0}.__getitem__)  # one thread only 5 % slower: stay
    _run(tuner, 400, {1: 38.0, 2: 40.0}.__getitem__)  # one thread 5 % faster: not worth a switch
    assert tuner.switches == 0 and tuner.current == 2


def test_the_first_frame_after_a_change_is_not_counted() -> None:
    applied: list[int] = []
    tuner = _tuner(applied)
    # a slow first frame (team resize) after every change must not decide anything
    times = iter([500.0] + [31.0] * 5 + [500.0] + [44.0] * 5 + [500.0] + [31.0] * 100)
    _run(tuner, 112, lambda threads: next(times))
    assert tuner.current == 2 and tuner.switches == 0


def test_a_single_count_is_fixed() -> None:
    applied: list[int] = []
    tuner = ThreadTuner([3], apply=applied.append)
    _run(tuner, 1000, lambda threads: 10.0 * threads)
    assert applied == [3] and tuner.threads == 3


def test_tries_lower_and_higher_neighbours_in_turn() -> None:
    applied: list[int] = []
    tuner = _tuner(applied, counts=(1, 2, 4))
    _run(tuner, 200, {1: 60.0, 2: 30.0, 4: 40.0}.__getitem__)
    assert tuner.current == 2  # 4 -> 2; 1 and 4 tried from there and refused
    assert {1, 2, 4} <= set(applied)


def test_thread_counts_for_settings() -> None:
    assert thread_counts("auto", cores=1) == [1]
    assert thread_counts("auto", cores=2) == [1, 2]
    assert thread_counts("auto", cores=6) == [1, 2, 4, 6]
    assert thread_counts("auto", cores=64) == [1, 2, 4, 8]
    assert thread_counts(3) == [3]
    assert 1 <= max(thread_counts("auto")) <= available_cores()


@pytest.mark.parametrize("kwargs", [{"counts": []}, {"counts": [0]}, {"counts": [2], "window": 2},
                                    {"counts": [2], "margin": 1.0}])
def test_invalid_settings_are_refused(kwargs) -> None:
    counts = kwargs.pop("counts")
    with pytest.raises(ValueError):
        ThreadTuner(counts, apply=lambda n: None, **kwargs)


def test_discard_drops_a_comparison_under_way_and_measures_again() -> None:
    applied: list[int] = []
    tuner = _tuner(applied)
    assert tuner.measuring  # the first measurement starts at once
    _run(tuner, 7, FREE_CPU.__getitem__)  # skip 1 + window 5 -> trial at one thread
    assert tuner.threads == 1 and tuner.measuring
    tuner.discard()  # e.g. the style size changed mid-trial
    assert applied[-1] == 2 and tuner.threads == 2 and tuner.measuring
    _run(tuner, 13, FREE_CPU.__getitem__)  # measure again, trial again, keep 2
    assert tuner.current == 2 and not tuner.measuring
    tuner.discard()  # in the run phase: nothing to drop
    assert not tuner.measuring
