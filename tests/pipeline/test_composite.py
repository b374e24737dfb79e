"""vcamstyle.pipeline.composite: mask post-processing and region effects (pure tensor functions)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vcamstyle.frames import resize
from vcamstyle.pipeline import composite


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _step(height: int, width: int, edge: int, left: float, right: float, channels: int = 3) -> torch.Tensor:
    """``1xCxHxW`` image: ``left`` for columns < ``edge``, ``right`` from there on."""
    x = torch.arange(width, dtype=torch.float32)
    row = torch.where(x < edge, torch.tensor(left), torch.tensor(right))
    return row.view(1, 1, 1, width).expand(1, channels, height, width).contiguous()


def _edge_width(image: torch.Tensor) -> int:
    """Pixels of the middle row between 10 % and 90 % of the transition (channel 0)."""
    row = image[0, 0, image.shape[-2] // 2]
    t = (row - row.min()) / (row.max() - row.min())
    return int(((t > 0.1) & (t < 0.9)).sum())


# ------------------------------------------------------------------------------------------ ema

def test_ema_value_for_small_changes() -> None:
    previous = torch.full((1, 1, 4, 4), 0.5)
    current = torch.full((1, 1, 4, 4), 0.4)  # a change below MASK_JITTER: smoothed fully
    out = composite.ema(previous, current, 0.6)
    assert torch.allclose(out, torch.full_like(out, 0.6 * 0.5 + 0.4 * 0.4))
    out = composite.ema(torch.full((1, 1, 2, 2), 0.2), torch.full((1, 1, 2, 2), 0.3), 0.25)
    assert torch.allclose(out, torch.full_like(out, 0.25 * 0.2 + 0.75 * 0.3))


def test_ema_follows_a_jump_at_once_and_blends_in_between() -> None:
    previous = torch.zeros(1, 1, 1, 3)
    current = torch.tensor([1.0, composite.MASK_JUMP, (composite.MASK_JITTER + composite.MASK_JUMP) / 2]).view(1, 1, 1, 3)
    out = composite.ema(previous, current, 0.6).flatten().tolist()
    assert out[0] == 1.0 and out[1] == pytest.approx(composite.MASK_JUMP)
    mid = current[0, 0, 0, 2].item()
    assert out[2] == pytest.approx(mid * (1 - 0.3))  # half the smoothing: keep 0.3 of the previous 0


def test_ema_zero_smoothing_returns_current() -> None:
    current = _rand(1, 1, 4, 4)
    assert torch.equal(composite.ema(torch.ones(1, 1, 4, 4), current, 0.0), current)


def test_ema_without_previous_returns_current() -> None:
    current = _rand(1, 1, 4, 4)
    assert torch.equal(composite.ema(None, current, 0.9), current)


def test_ema_resets_on_shape_change() -> None:
    current = _rand(1, 1, 8, 8)
    assert torch.equal(composite.ema(torch.ones(1, 1, 4, 4), current, 0.6), current)


def test_ema_converges_to_a_constant_input() -> None:
    state = torch.full((1, 1, 2, 2), 0.9)
    for _ in range(40):
        state = composite.ema(state, torch.ones(1, 1, 2, 2), 0.6)
    assert torch.allclose(state, torch.ones_like(state), atol=1e-6)


# ------------------------------------------------------------------------------------------ soft threshold

def test_soft_threshold_hard_cut_at_softness_zero() -> None:
    mask = torch.tensor([0.0, 0.49, 0.5, 0.51, 1.0]).view(1, 1, 1, 5)
    assert composite.soft_threshold(mask, 0.5, 0.0).flatten().tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    assert composite.soft_threshold(mask, 0.7, 0.0).flatten().tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]


def test_soft_threshold_is_monotonic_and_saturates_outside_the_ramp() -> None:
    x = torch.linspace(0, 1, 1001).view(1, 1, 1, -1)
    y = composite.soft_threshold(x.clone(), 0.5, 0.15).flatten()
    assert bool((y[1:] >= y[:-1]).all())
    xs = x.flatten()
    assert bool((y[xs <= 0.35] == 0).all())
    assert bool((y[xs >= 0.65] == 1).all())
    inside = (xs > 0.36) & (xs < 0.64)
    assert bool(((y[inside] > 0) & (y[inside] < 1)).all())  # soft: no hard cut inside the ramp
    assert abs(float(y[500]) - 0.5) < 1e-6  # symmetric around the threshold


def test_soft_threshold_does_not_modify_its_input() -> None:
    mask = _rand(1, 1, 8, 8)
    before = mask.clone()
    composite.soft_threshold(mask, 0.5, 0.15)
    assert torch.equal(mask, before)


# ------------------------------------------------------------------------------------------ blur

def test_gaussian_blur_preserves_a_constant_image() -> None:
    image = torch.full((1, 3, 20, 30), 0.37)
    assert torch.allclose(composite.gaussian_blur(image, 3.0), image, atol=1e-6)


def test_gaussian_blur_preserves_the_mean_and_smooths() -> None:
    image = _rand(1, 3, 64, 64)
    out = composite.gaussian_blur(image, 2.0)
    assert out.shape == image.shape
    assert abs(float(out.mean() - image.mean())) < 2e-3
    assert float(out.var()) < 0.1 * float(image.var())


def test_gaussian_blur_sigma_zero_is_identity() -> None:
    image = _rand(1, 3, 8, 8)
    assert composite.gaussian_blur(image, 0.0) is image


def test_gaussian_kernel_is_normalised() -> None:
    k = composite.gaussian_kernel1d(2.5, torch.device("cpu"), torch.float32)
    assert k.numel() == 2 * 8 + 1
    assert abs(float(k.sum()) - 1.0) < 1e-6
    assert torch.allclose(k, k.flip(0))


def test_blur_strong_keeps_size_and_mean_of_a_smooth_image() -> None:
    image = resize(_rand(1, 3, 9, 16), (90, 160))
    out = composite.blur_strong(image, 25.0)
    assert out.shape == image.shape
    assert abs(float(out.mean() - image.mean())) < 0.02
    assert float(out.var()) < float(image.var())


def test_blur_strong_with_weight_does_not_bleed_the_person_into_the_background() -> None:
    # Bright person on the left, dark background on the right; blur the background only.
    image = _step(96, 160, 80, left=1.0, right=0.1)
    background_weight = _step(96, 160, 80, left=0.0, right=1.0, channels=1)
    weighted = composite.blur_strong(image, 25.0, background_weight)
    plain = composite.blur_strong(image, 25.0)
    strip = (..., slice(None), slice(80, 100))  # the background next to the person
    # Without the weight the bright person leaks far into the background ...
    assert float(plain[strip].max()) > 0.4
    # ... with it the background stays dark.
    assert float(weighted[strip].max()) < 0.15
    assert float(weighted[..., 80:].mean()) == pytest.approx(0.1, abs=0.02)


def test_blur_strong_zero_radius_is_identity() -> None:
    image = _rand(1, 3, 8, 8)
    assert composite.blur_strong(image, 0.0) is image


# ------------------------------------------------------------------------------------------ feather / blend

def test_feather_softens_a_step_more_with_a_larger_radius() -> None:
    step = _step(32, 64, 32, 0.0, 1.0, channels=1)
    assert composite.feather(step, 0.0) is step
    intermediate = [int(((composite.feather(step, r) > 0.01) & (composite.feather(step, r) < 0.99)).sum())
                    for r in (2.0, 8.0)]
    assert 0 < intermediate[0] < intermediate[1]
    soft = composite.feather(step, 8.0)
    row = soft[0, 0, 16]
    assert bool((row[1:] >= row[:-1] - 1e-6).all())  # still monotonic across the edge
    assert float(row[0]) < 0.01 and float(row[-1]) > 0.99


def test_blend_extremes_and_middle() -> None:
    person = torch.full((1, 3, 4, 4), 0.8)
    background = torch.full((1, 3, 4, 4), 0.2)
    ones, zeros = torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)
    assert torch.equal(composite.blend(person, background, ones), person)
    assert torch.equal(composite.blend(person, background, zeros), background)
    assert torch.allclose(composite.blend(person, background, ones * 0.5), torch.full((1, 3, 4, 4), 0.5))
    # Per pixel: the mask picks the source pixel by pixel.
    mask = _step(4, 4, 2, 1.0, 0.0, channels=1)
    out = composite.blend(person, background, mask)
    assert torch.allclose(out[..., :2], person[..., :2]) and torch.allclose(out[..., 2:], background[..., 2:])


def test_box_filter_means_and_edges() -> None:
    x = torch.arange(5.0).view(1, 1, 1, 5)
    out = composite.box_filter(x, 1)
    # edges replicated, as OpenCV's boxFilter with BORDER_REPLICATE (the CPU compositor's twin)
    assert out.flatten().tolist() == pytest.approx([1 / 3, 1.0, 2.0, 3.0, 11 / 3])


# ------------------------------------------------------------------------------------------ guided upsampling

def test_guided_upsample_keeps_an_edge_sharper_than_bilinear() -> None:
    high = _step(128, 128, 61, 0.1, 0.9)
    low = resize(high, (32, 32))
    low_output = 1.0 - low  # a stand-in stylization (inverted tones) at low resolution
    guided = composite.guided_upsample(low_output, low, high)
    bilinear = F.interpolate(low_output, size=(128, 128), mode="bilinear", align_corners=False)
    assert guided.shape == high.shape
    assert _edge_width(bilinear) >= 4
    assert _edge_width(guided) <= _edge_width(bilinear) // 2
    # The tones come from the low-resolution output, not from the guide.
    assert float(guided[0, 0, 64, 10]) == pytest.approx(0.9, abs=0.03)
    assert float(guided[0, 0, 64, 120]) == pytest.approx(0.1, abs=0.03)


def test_guided_upsample_equal_size_returns_the_low_res_output() -> None:
    low_output = _rand(1, 3, 24, 32, seed=1)
    guide = _rand(1, 3, 24, 32, seed=2)
    out = composite.guided_upsample(low_output, guide, guide)
    assert torch.equal(out, low_output)


def test_guided_upsample_output_range() -> None:
    low_guide = _rand(1, 3, 16, 16, seed=3)
    high_guide = resize(low_guide, (64, 64))
    out = composite.guided_upsample(_rand(1, 3, 16, 16, seed=4), low_guide, high_guide)
    assert out.shape == (1, 3, 64, 64)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


# ------------------------------------------------------------------------------------------ colour

# BT.601 (analogue YUV) from its definition, independent of the module's constant.
_WR, _WB = 0.299, 0.114
_WG = 1 - _WR - _WB


def _yuv(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    y = _WR * r + _WG * g + _WB * b
    u = 0.436 * (b - y) / (1 - _WB)
    v = 0.615 * (r - y) / (1 - _WR)
    return y, u, v


def test_preserve_color_keeps_content_chroma_and_stylized_luma() -> None:
    content = 0.35 + 0.3 * resize(_rand(1, 3, 8, 8, seed=5), (32, 32))  # in-gamut colours
    stylized = 0.3 + 0.4 * resize(_rand(1, 1, 8, 8, seed=6), (32, 32)).expand(1, 3, 32, 32)  # grey texture
    stylized = stylized + 0.05 * _rand(1, 3, 32, 32, seed=7)
    out = composite.preserve_color(stylized, content)
    assert out.shape == content.shape
    y_out, u_out, v_out = _yuv(out)
    y_sty, _, _ = _yuv(stylized)
    _, u_con, v_con = _yuv(content)
    unclipped = ((out > 0.001) & (out < 0.999)).all(dim=1)
    assert float(unclipped.float().mean()) > 0.95
    assert float((y_out - y_sty)[unclipped].abs().max()) < 2e-3
    assert float((u_out - u_con)[unclipped].abs().max()) < 2e-3
    assert float((v_out - v_con)[unclipped].abs().max()) < 2e-3
    # It really changed something: the output is not simply the stylized or the content image.
    assert float((out - stylized).abs().mean()) > 0.01 and float((out - content).abs().mean()) > 0.01


def test_preserve_color_of_a_grey_content_is_grey() -> None:
    stylized = _rand(1, 3, 16, 16, seed=8) * 0.5 + 0.25
    grey = torch.full((1, 3, 16, 16), 0.5)
    out = composite.preserve_color(stylized, grey)
    assert torch.allclose(out[:, 0], out[:, 1], atol=1e-4) and torch.allclose(out[:, 1], out[:, 2], atol=1e-4)


# ------------------------------------------------------------------------------------------ cover resize

def _horizontal_ramp(height: int, width: int) -> torch.Tensor:
    x = (torch.arange(width, dtype=torch.float32) + 0.5) / width
    return x.view(1, 1, 1, width).expand(1, 3, height, width).contiguous()


@pytest.mark.parametrize("source, target", [((100, 200), (50, 50)), ((100, 200), (90, 160)),
                                            ((30, 40), (120, 90)), ((64, 64), (64, 64))])
def test_cover_resize_output_size(source: tuple[int, int], target: tuple[int, int]) -> None:
    out = composite.cover_resize(_rand(1, 3, *source), target)
    assert tuple(out.shape) == (1, 3, *target)
    assert out.is_contiguous()


def test_cover_resize_crops_a_wide_image_in_the_centre() -> None:
    out = composite.cover_resize(_horizontal_ramp(100, 200), (50, 50))
    # 100x200 -> 50x100, centre 50 columns: ramp values 0.25 .. 0.75, symmetric around 0.5.
    row = out[0, 0, 25]
    assert float(row[0]) == pytest.approx(0.255, abs=0.02)
    assert float(row[-1]) == pytest.approx(0.745, abs=0.02)
    assert float(row.mean()) == pytest.approx(0.5, abs=0.01)


def test_cover_resize_crops_a_tall_target_in_the_centre() -> None:
    image = _horizontal_ramp(100, 100).transpose(-1, -2).contiguous()  # vertical ramp
    out = composite.cover_resize(image, (60, 200))  # scale 2 -> 200x200, rows 70..130
    column = out[0, 0, :, 100]
    assert float(column.mean()) == pytest.approx(0.5, abs=0.01)
    assert float(column[0]) == pytest.approx(70.5 / 200, abs=0.02)
    assert float(column[-1]) == pytest.approx(129.5 / 200, abs=0.02)


def test_still_smoothing_keeps_history_only_where_the_scene_is_still() -> None:
    content = torch.full((1, 3, 64, 128), 0.5)
    moved = content.clone()
    moved[..., 64:] = 0.9  # the right half changed a lot
    previous = (content, torch.full((1, 3, 64, 128), 0.5))
    checker = (torch.arange(64).view(-1, 1) + torch.arange(128).view(1, -1)) % 2 * 2 - 1.0
    styled = 0.5 + 0.1 * checker.expand(1, 3, 64, 128)  # fine shimmer around the previous painting
    out = composite.still_smoothing(styled, moved, previous, amount=0.7)
    inside = (..., slice(8, 56), slice(8, 56))  # still, away from the picture's border (replicated there)
    assert torch.allclose(out[inside], torch.lerp(styled, previous[1], 0.7)[inside])  # still: 70 % kept
    assert torch.equal(out[..., :, 72:], styled[..., :, 72:])  # moving: nothing kept, no ghosting
    assert torch.equal(composite.still_smoothing(styled, moved, None, 0.7), styled)
    assert torch.equal(composite.still_smoothing(styled, moved, previous, 0.0), styled)


def test_still_smoothing_holds_back_no_more_than_the_drift_limit() -> None:
    """Content still: noise-driven shimmer of the painting (fine-grained, zero mean) is smoothed as
    before, and so is a small drift of the painting as a whole; a larger drift (the network's colours
    moving because something elsewhere moved) is held back by ``DRIFT_LIMIT`` at most, so nothing more
    is left to catch up with once everything is still."""
    torch.manual_seed(0)
    content = torch.full((1, 3, 64, 96), 0.5)
    prev_styled = torch.full((1, 3, 64, 96), 0.4)
    shimmer = prev_styled + 0.03 * torch.randn(1, 3, 64, 96)
    smoothed = composite.still_smoothing(shimmer, content, (content, prev_styled), amount=0.7)
    assert float((smoothed - prev_styled).abs().mean()) == pytest.approx(0.3 * float((shimmer - prev_styled).abs().mean()), rel=0.1)
    small = prev_styled + 1 / 255  # 0.7 of it held back: within the limit, smoothed as before
    out = composite.still_smoothing(small, content, (content, prev_styled), amount=0.7)
    assert torch.allclose(out, torch.lerp(small, prev_styled, 0.7), atol=1e-6)
    drifted = prev_styled + 4 / 255
    out = composite.still_smoothing(drifted, content, (content, prev_styled), amount=0.7)
    assert torch.allclose(out, drifted - composite.DRIFT_LIMIT, atol=1e-6)  # everywhere, borders too
    down = composite.still_smoothing(prev_styled - 4 / 255, content, (content, prev_styled), amount=0.7)
    assert torch.allclose(down, prev_styled - 4 / 255 + composite.DRIFT_LIMIT, atol=1e-6)


def test_local_mean_cancels_fine_shimmer_and_keeps_a_drift_per_picture() -> None:
    torch.manual_seed(1)
    change = 0.02 * torch.randn(2, 3, 128, 192)  # shimmer of 5 levels per pixel
    change[1] += 3 / 255  # only the second picture drifts
    mean = composite.local_mean(change)
    assert mean.shape == change.shape
    # fine zero-mean shimmer cancels (to a 17th of it inside, a 9th in the corners)
    assert float(mean[0].abs().mean()) < 0.3 / 255
    assert float(mean[0].abs().flatten().quantile(0.99)) < composite.DRIFT_LIMIT
    assert float(mean[1].mean()) == pytest.approx(3 / 255, abs=0.2 / 255)


def test_the_drift_limit_leaves_moving_pixels_alone_and_never_overshoots() -> None:
    """The person moved (content changed there) while the network's colours drifted everywhere: pixels
    that moved are the network's own, and no pixel leaves the range between the two paintings."""
    torch.manual_seed(0)
    prev_content = torch.rand(1, 3, 256, 456) * 0.2 + 0.4
    content = prev_content.clone()
    content[..., 40:, 150:300] = 1 - content[..., 40:, 150:300]
    prev_styled = torch.rand(1, 3, 256, 456) * 0.5 + 0.25
    for drift in (4 / 255, 16 / 255):
        styled = prev_styled + drift
        out = composite.still_smoothing(styled, content, (prev_content, prev_styled), amount=0.7)
        moving = (..., slice(43, 256), slice(153, 297))  # beyond the motion box's reach of 2 px
        assert torch.equal(out[moving], styled[moving])
        low, high = torch.minimum(styled, prev_styled), torch.maximum(styled, prev_styled)
        assert bool(((out >= low - 1e-6) & (out <= high + 1e-6)).all())
