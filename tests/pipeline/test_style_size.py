"""``style.size: auto``: the controller, driven by injected frame times (no clock, no CPU load)."""

from __future__ import annotations

import pytest

from vcamstyle.pipeline.style_size import AUTO_BOUNDS, SizeBounds, StyleSizeController, initial_style_size


def cost_model(ms_at_256: float):
    """Frame time of a machine whose frame costs ``ms_at_256`` at size 256, quadratic in size."""
    return lambda size: ms_at_256 * (size / 256) ** 2


def run(controller: StyleSizeController, frame_ms, frames: int) -> list[int]:
    """``frames`` frames whose time is ``frame_ms(size)``; the size in use at each frame."""
    sizes = []
    for _ in range(frames):
        sizes.append(controller.size)
        controller.record(frame_ms(controller.size))
    return sizes


def make(fps: float = 30.0, **kwargs) -> tuple[StyleSizeController, list[int]]:
    applied: list[int] = []
    return StyleSizeController(fps, applied.append, **kwargs), applied


def test_starts_at_the_start_size_and_applies_it():
    controller, applied = make()
    assert controller.size == AUTO_BOUNDS.start == 256 and applied == [256]
    assert initial_style_size("auto") == 256 and initial_style_size(320) == 320


def test_a_slow_machine_steps_down_until_the_frame_rate_holds():
    """56 ms at 256 (the AVX2 float32 case): 33.3 ms needs about 190, with headroom 0.8 -> 160..192."""
    controller, applied = make()
    sizes = run(controller, cost_model(56.0), 400)
    final = sizes[-1]
    assert final < 256 and cost_model(56.0)(final) <= 0.95 * 1000 / 30
    assert applied[1] == final  # one jump straight to a size predicted to fit, not a slow walk
    assert sizes[-100:] == [final] * 100  # and it stays there


def test_a_fast_machine_rises_to_the_largest_size_that_fits():
    controller, _ = make()
    sizes = run(controller, cost_model(12.0), 600)
    assert sizes[-1] == 352  # 12 ms * (352/256)^2 = 22.7 <= 0.8 * 33.3; 384 would be 27 > 26.7
    assert sizes == sorted(sizes)  # only upwards
    controller, _ = make()
    assert run(controller, cost_model(5.0), 600)[-1] == AUTO_BOUNDS.high  # capped


def test_bounds_are_respected_when_even_the_smallest_size_is_too_slow():
    controller, _ = make()
    assert set(run(controller, cost_model(200.0), 300)[40:]) == {AUTO_BOUNDS.low}


def test_hysteresis_no_oscillation_around_the_threshold():
    """A machine right at the edge (a size fits with 0.85 of the budget) keeps that size."""
    controller, applied = make()
    edge = 0.87 * 1000 / 30  # at 256: above headroom, below slow
    sizes = run(controller, lambda size: edge * (size / 256) ** 2, 3000)
    assert set(sizes) == {256} and applied == [256]


def test_noisy_frame_times_do_not_make_it_flap():
    """Frame times jittering +-15 % around 0.7 x the budget at 224: at most one change, no return."""
    controller, applied = make(start=224)
    jitter = [1.0, 1.15, 0.85, 1.1, 0.9, 1.05, 0.95]
    count = iter(range(10**6))
    sizes = run(controller, lambda size: 0.7 * 33.3 * (size / 224) ** 2 * jitter[next(count) % 7], 3000)
    assert controller.changes <= 1 and len(set(sizes)) <= 2


def test_after_stepping_down_it_does_not_return_before_the_cooldown():
    """Load comes and goes: down when the machine gets busy, back up only after ``cooldown`` frames."""
    controller, _ = make(cooldown=300)
    busy = {"on": False}
    sizes = []
    for frame in range(1200):
        busy["on"] = 100 <= frame < 200
        sizes.append(controller.size)
        controller.record(cost_model(40.0 if busy["on"] else 20.0)(controller.size))
    left = sizes[99]
    assert left == 288  # 20 ms at 256 leaves room for one step up before the load
    down = next(i for i, s in enumerate(sizes) if i >= 100 and s < left)
    assert 100 <= down <= 170 and cost_model(40.0)(sizes[down]) <= 0.8 * 1000 / 30
    back = next(i for i, s in enumerate(sizes) if i > down and s >= left)
    assert back - down >= 300 and sizes[-1] == left


def test_spikes_alone_step_down():
    """A median that fits but a 90th percentile above 1.3 x the budget is a stutter: smaller size."""
    controller, _ = make()
    count = iter(range(10**6))
    run(controller, lambda size: (60.0 if next(count) % 5 == 0 else 20.0) * (size / 256) ** 2, 40)
    assert controller.size < 256


def test_new_frame_rate_changes_the_budget():
    controller, _ = make(fps=30.0)
    controller.set_fps(15.0)
    assert run(controller, cost_model(40.0), 400)[-1] > 256  # 40 ms is fine at 15 fps
    with pytest.raises(ValueError):
        controller.set_fps(0)


def test_settling_frames_after_a_change_are_not_counted():
    """The first frame at a new size (new shapes warm up) is slow; it must not trigger a step back."""
    controller, _ = make(settle=2)
    seen = {"size": controller.size, "fresh": 0}

    def frame_ms(size: int) -> float:
        if size != seen["size"]:
            seen["size"], seen["fresh"] = size, 0
        seen["fresh"] += 1
        return 500.0 if seen["fresh"] <= 2 else cost_model(12.0)(size)

    sizes = run(controller, frame_ms, 800)
    assert sizes == sorted(sizes) and sizes[-1] == 352


@pytest.mark.parametrize("bad", [dict(low=0), dict(low=200, start=160), dict(step=0), dict(high=390), dict(start=250)])
def test_bounds_are_checked(bad):
    with pytest.raises(ValueError):
        SizeBounds(**bad)


def test_arguments_are_checked():
    with pytest.raises(ValueError):
        StyleSizeController(0, lambda size: None)
    with pytest.raises(ValueError):
        StyleSizeController(30, lambda size: None, headroom=0.99, slow=0.95)
