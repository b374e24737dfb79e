"""The quality benchmark's measures on synthetic inputs whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from vcamstyle.bench import quality_metrics as qm


def _textured(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth random texture (the flow needs structure), ``HxWx3 uint8``."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 8, w // 8, 3)).astype(np.float32)
    return np.clip(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)


def test_still_change_is_the_mean_absolute_frame_difference() -> None:
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 10, np.uint8)
    assert qm.still_change([a, a, a]) == 0.0
    assert qm.still_change([a, b, a]) == pytest.approx(10.0)
    half = a.copy()
    half[:2] = 6
    assert qm.still_change([a, half]) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        qm.still_change([a])


def test_warping_error_is_zero_for_output_that_moves_with_the_input() -> None:
    base = _textured()
    frames = [np.roll(base, shift, axis=1) for shift in (0, 2, 4, 6)]
    stylized = [255 - f for f in frames]  # a "style" that follows the content exactly
    assert qm.warping_error(stylized, frames) < 1.0


def test_warping_error_measures_flicker_that_the_motion_does_not_explain() -> None:
    base = _textured()
    frames = [np.roll(base, shift, axis=1) for shift in (0, 2, 4, 6)]
    flicker = [np.clip(f.astype(np.int16) + (20 if i % 2 else 0), 0, 255).astype(np.uint8) for i, f in enumerate(frames)]
    assert qm.warping_error(flicker, frames) == pytest.approx(20.0, abs=2.0)


def test_mask_iou_known_values() -> None:
    truth = np.zeros((10, 10), np.float32)
    truth[:, :5] = 1
    predicted = np.zeros((10, 10), np.float32)
    predicted[:, :4] = 0.9
    assert qm.mask_iou(truth, truth) == 1.0
    assert qm.mask_iou(predicted, truth) == pytest.approx(40 / 50)
    assert qm.mask_iou(np.zeros_like(truth), np.zeros_like(truth)) == 1.0


def test_region_difference_only_counts_the_region() -> None:
    alpha = np.zeros((40, 40), np.float32)
    alpha[10:30, 10:30] = 1
    a = np.zeros((40, 40, 3), np.uint8)
    b = a.copy()
    b[alpha == 0] = 200  # only the background differs
    person = qm.region(alpha, person=True, margin=3)
    background = qm.region(alpha, person=False, margin=3)
    assert person.sum() == 14 * 14 and not (person & background).any()
    assert qm.region_difference(a, b, person) == 0.0
    assert qm.region_difference(a, b, background) == pytest.approx(200.0)


def test_signed_distance_is_negative_inside_and_positive_outside() -> None:
    alpha = np.zeros((21, 21), np.float32)
    alpha[:, :10] = 1
    d = qm.signed_distance(alpha)
    assert d[10, 9] == pytest.approx(-0.5) and d[10, 10] == pytest.approx(0.5)
    assert d[10, 15] == pytest.approx(5.5, abs=0.1) and d[10, 4] == pytest.approx(-5.5, abs=0.1)


def test_off_blend_is_zero_on_any_mix_and_measures_the_rest() -> None:
    p = np.full((1, 3, 3), (200, 40, 40), np.uint8)
    b = np.full((1, 3, 3), (40, 40, 200), np.uint8)
    mix = np.full((1, 3, 3), (120, 40, 120), np.uint8)
    assert qm.off_blend(p, p, b).max() == 0 and qm.off_blend(b, p, b).max() == 0
    assert qm.off_blend(mix, p, b).max() == pytest.approx(0.0, abs=1e-3)
    green = np.full((1, 3, 3), (120, 100, 120), np.uint8)  # the mix plus 60 in green: off every blend
    assert qm.off_blend(green, p, b)[0, 0] == pytest.approx(60 / np.sqrt(3), abs=1e-3)


def _edge_scene(rim: int, w: int = 80) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Person left of column ``w / 2``, background right; the output has a green rim ``rim`` px wide outside."""
    h, edge = 60, w // 2
    alpha = np.zeros((h, w), np.float32)
    alpha[:, :edge] = 1
    p = np.zeros((h, w, 3), np.uint8)
    p[:] = (200, 40, 40)
    b = np.zeros((h, w, 3), np.uint8)
    b[:] = (40, 40, 200)
    out = np.where(alpha[..., None] > 0.5, p, b)
    out[:, edge:edge + rim] = (40, 220, 40)
    return out, p, b, alpha


@pytest.mark.parametrize("rim", [0, 1, 5, 12])
def test_halo_width_counts_the_rim_in_pixels(rim: int) -> None:
    out, p, b, alpha = _edge_scene(rim)
    profile = qm.halo_profile(qm.off_blend(out, p, b), qm.signed_distance(alpha))
    assert qm.halo_width(profile) == rim


def test_halo_width_ignores_a_feathered_blend() -> None:
    out, p, b, alpha = _edge_scene(0)
    ramp = np.clip((np.arange(80) - 34) / 12, 0, 1)[None, :, None]  # a 12 px feather
    out = (p * (1 - ramp) + b * ramp).astype(np.uint8)
    profile = qm.halo_profile(qm.off_blend(out, p, b), qm.signed_distance(alpha))
    assert qm.halo_width(profile) == 0


def test_box_iou() -> None:
    assert qm.box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert qm.box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert qm.box_iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0


def test_halo_width_measures_each_side_against_its_own_floor() -> None:
    profile = np.concatenate([np.full(24, 30.0), [50, 45, 30, 30], np.full(20, 10.0)])
    profile[24:28] = [20, 19, 17, 10]  # outside: 3 bands above 10 + 6, then the floor
    profile[20:24] = [30, 30, 30, 30]  # inside: at its floor (30), no halo although above the outside's
    assert qm.halo_width(profile) == 3


def test_the_benchmark_takes_the_halo_floor_beyond_the_style_networks_reach() -> None:
    """The style network repaints the background for 20-40 px around the person; a floor taken at
    18-24 px (the metric's defaults) lies inside such a band and calls it no halo. The benchmark
    looks out to ``HALO_REACH`` and takes the floor from the outermost ``HALO_FLOOR_BANDS``."""
    from vcamstyle.bench.quality import HALO_FLOOR_BANDS, HALO_REACH

    out, p, b, alpha = _edge_scene(30, w=200)
    deviation, distance = qm.off_blend(out, p, b), qm.signed_distance(alpha)
    assert qm.halo_width(qm.halo_profile(deviation, distance)) == 0  # the defaults miss it
    profile = qm.halo_profile(deviation, distance, reach=HALO_REACH)
    assert qm.halo_width(profile, floor_bands=HALO_FLOOR_BANDS) == 30


def test_mask_scores_are_not_applicable_to_a_run_that_computed_no_mask() -> None:
    """A run whose regions need no mask skips segmentation: its empty masks get no IoU (n/a in the
    table; ``bench --quality`` on such a config crashed), while a segmenter that ran and found no one
    scores 0."""
    from vcamstyle.bench import quality
    from vcamstyle.bench.quality_clips import Clip

    alpha = np.zeros((8, 8), np.float32)
    alpha[2:6, 2:6] = 1.0
    clip = Clip("square", [np.zeros((8, 8, 3), np.uint8)] * 3, [alpha] * 3, 3, None, [])
    empty = [np.zeros((8, 8), np.float32)] * 3
    assert quality._mean_iou(empty, clip, computed=False) is None
    assert quality._mean_iou(empty, clip) == 0.0
    assert quality._mean_iou([alpha] * 3, clip) == pytest.approx(1.0)

    row = {"clip": "square", "size": "8x8", "still": 1.0, "still_naive": 2.0, "still_ratio": 0.5, "warp": 1.0,
           "warp_naive": 2.0, "warp_ratio": 0.5, "person_vs_background_style": 0.0,
           "background_vs_person_style": 0.0, "halo_px": 0, "outline_px": 0, "iou": None,
           "iou_selfie": None, "iou_selfie_landscape": None, "face_share": 1.0}
    summary = {"still_ratio": 0.5, "warp_ratio": 0.5, "independence": 0.0, "halo_px": 0, "iou": None,
               "face_share": 1.0, "frame_ms_median": 10.0}
    report = {"rows": [row], "summary": summary, "targets": quality.TARGETS,
              "config": {"segmentation": "auto", "person": "original", "background": "original", "style_size": 128}}
    table = quality.format_quality(report)
    assert "| mask IoU, configured segmenter (worst) | n/a | >= 0.95 |  |" in table
    assert "| square | 8x8 |" in table and table.count("n/a") >= 4
