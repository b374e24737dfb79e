"""vcamstyle.pipeline.composite_cv: the OpenCV/uint8 compositor, and its parity with the torch compositor.

Frames are ``HxWx3 uint8 RGB``, full-resolution masks ``HxW float32``; low-resolution inputs are torch
tensors (``1x1xhxw`` masks, ``1x3xhxw`` images in [0, 1]).
"""

from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vcamstyle.frames import resize, to_tensor
from vcamstyle.models.base import RegionStyle
from vcamstyle.pipeline import composite, composite_cv
from vcamstyle.pipeline.core import (
    EFFECTS,
    MaskSettings,
    Pipeline,
    PipelineSettings,
    RegionPlan,
    resolve_mask,
)

CPU = torch.device("cpu")


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _edge_width(row: np.ndarray) -> int:
    """Pixels of a 1-D profile between 10 % and 90 % of its transition."""
    row = row.astype(np.float32)
    t = (row - row.min()) / (row.max() - row.min())
    return int(((t > 0.1) & (t < 0.9)).sum())


# ------------------------------------------------------------------------------------------ tensor_to_hwc

def test_tensor_to_hwc_layout() -> None:
    image = _rand(1, 3, 4, 5)
    array = composite_cv.tensor_to_hwc(image)
    assert array.shape == (4, 5, 3) and array.dtype == np.float32
    assert np.array_equal(array, image[0].permute(1, 2, 0).numpy())
    mask = _rand(1, 1, 4, 5)
    assert np.array_equal(composite_cv.tensor_to_hwc(mask), mask[0, 0].numpy())


# ------------------------------------------------------------------------------------------ upsample_mask

def test_upsample_mask_size_range_and_bilinear_convention() -> None:
    low = _rand(1, 1, 8, 8) * 1.4 - 0.2  # overshoots [0, 1] on both sides
    out = composite_cv.upsample_mask(low, (30, 50))
    assert out.shape == (30, 50) and out.dtype == np.float32
    assert float(out.min()) == 0.0 and float(out.max()) == 1.0  # clamped, and the overshoot reaches both ends
    # The same convention as torch's bilinear (half-pixel centres, align_corners=False).
    expected = F.interpolate(low, size=(30, 50), mode="bilinear", align_corners=False).clamp(0, 1)[0, 0].numpy()
    assert np.allclose(out, expected, atol=1e-5)


def test_upsample_mask_keeps_a_constant_mask() -> None:
    out = composite_cv.upsample_mask(torch.full((1, 1, 6, 9), 0.3), (41, 77))
    assert np.allclose(out, 0.3, atol=1e-6)


def test_upsample_mask_to_a_smaller_size_is_antialiased_like_the_torch_path() -> None:
    low = (_rand(1, 1, 64, 64, seed=1) > 0.5).float()  # a hard, busy mask: aliasing would show
    out = composite_cv.upsample_mask(low, (20, 100))  # shrinks the height, enlarges the width
    assert out.shape == (20, 100) and out.dtype == np.float32
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    assert np.allclose(out, resize(low, (20, 100), mode="bilinear")[0, 0].numpy(), atol=1e-5)


# ------------------------------------------------------------------------------------------ blur_background

#: First output column of ``test_blur_keeps_a_constant_image_constant``'s 97-wide frame whose low weight is 1.
WEIGHTED_FROM = 49


@pytest.mark.parametrize("weight", ["none", "uniform", "random", "half-zero"])
def test_blur_keeps_a_constant_image_constant(weight: str) -> None:
    frame = np.empty((61, 97, 3), np.uint8)
    frame[:] = (37, 140, 200)
    low_weight = {
        "none": None,
        "uniform": torch.ones(1, 1, 16, 24),
        "random": _rand(1, 1, 16, 24) * 0.9 + 0.1,
        "half-zero": torch.cat([torch.zeros(1, 1, 16, 12), torch.ones(1, 1, 16, 12)], dim=-1),
    }[weight]
    out = composite_cv.blur_background(frame, low_weight, 15.0)
    assert out.shape == frame.shape and out.dtype == np.uint8
    # Where the weight is 0 far from any weighted pixel (deep inside the person) the normalised blur has
    # nothing to average and is left undefined (the blend hides it there); check where the weight is 1.
    weighted = slice(None) if weight != "half-zero" else slice(WEIGHTED_FROM, None)
    assert int(np.abs(out[:, weighted].astype(int) - frame[:, weighted].astype(int)).max()) <= 1


def test_blur_lowers_noise() -> None:
    frame = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    out = composite_cv.blur_background(frame, None, 12.0)
    assert out.shape == frame.shape
    assert float(out.astype(np.float32).var()) < 0.1 * float(frame.astype(np.float32).var())


def test_weighted_blur_does_not_bleed_a_bright_person_into_a_dark_background() -> None:
    height, width = 60, 120
    frame = np.full((height, width, 3), 10, np.uint8)
    frame[:, : width // 2] = 250  # the person, on the left
    low_mask = torch.zeros(1, 1, 30, 60)
    low_mask[..., :30] = 1
    weighted = composite_cv.blur_background(frame, 1 - low_mask, 20.0)
    plain = composite_cv.blur_background(frame, None, 20.0)
    background = (slice(None), slice(width // 2 + 4, None))
    near_edge = (slice(None), slice(width // 2 + 4, width // 2 + 16))
    assert int(weighted[background].max()) <= 12  # stays dark right up to the edge
    assert int(plain[near_edge].min()) > 20  # without the weight the person's light does bleed


# ------------------------------------------------------------------------------------------ guided_upsample

def _step_frame(height: int = 64, width: int = 128) -> np.ndarray:
    frame = np.full((height, width, 3), 30, np.uint8)
    frame[:, width // 2:] = 220
    return frame


def test_guided_upsample_keeps_a_step_sharper_than_bilinear() -> None:
    frame = _step_frame()
    low_guide = to_tensor(cv2.resize(frame, (32, 16), interpolation=cv2.INTER_AREA))
    low_output = (1 - low_guide) * 0.8 + 0.1  # a "stylized" image: inverted colours
    out = composite_cv.guided_upsample(low_output, low_guide, frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    bilinear = cv2.resize(composite_cv.float_to_u8(composite_cv.tensor_to_hwc(low_output)), (128, 64),
                          interpolation=cv2.INTER_LINEAR)
    row = frame.shape[0] // 2
    guided_width, bilinear_width = _edge_width(out[row, :, 0]), _edge_width(bilinear[row, :, 0])
    assert guided_width <= 1
    assert bilinear_width >= 3 and guided_width < bilinear_width
    # Away from the edge the colours are the low-resolution output's: 0.1 + 0.8 * (1 - guide).
    assert abs(int(out[row, 10, 0]) - round(255 * (0.1 + 0.8 * (1 - 30 / 255)))) <= 2
    assert abs(int(out[row, 120, 0]) - round(255 * (0.1 + 0.8 * (1 - 220 / 255)))) <= 2


PERSON_PAINT, BACKGROUND_PAINT = (0.9, 0.3, 0.1), (0.1, 0.4, 0.8)


@pytest.mark.parametrize("guide_edge", [True, False], ids=["edge in the guide", "flat guide"])
def test_guided_upsample_keeps_each_regions_colour_beyond_the_feather(guide_edge: bool) -> None:
    """Issue 13 (halo): a stylized image with two flat styles split at the silhouette, upsampled from the
    default network size (256x456) to 640x360: 5 px or more from the boundary (beyond the default
    4 px feather) every pixel is its own region's colour within 2/255, in both compositors. With a
    flat guide the fit spreads the step over 4 px each side (89, 65, 41, 17 of 255 at 1-4 px); the
    guide's own edge makes it sharp. So the upsampling does not widen the halo."""
    height, width, low_h, low_w = 360, 640, 256, 456
    styled = torch.empty(1, 3, low_h, low_w)
    styled[..., : low_w // 2] = torch.tensor(PERSON_PAINT).view(1, 3, 1, 1)
    styled[..., low_w // 2:] = torch.tensor(BACKGROUND_PAINT).view(1, 3, 1, 1)
    frame = np.full((height, width, 3), 120.0)
    if guide_edge:
        frame[:, width // 2:] = 60.0
    frame = np.clip(frame + np.random.default_rng(0).normal(0, 3, frame.shape), 0, 255).astype(np.uint8)
    low_guide = to_tensor(cv2.resize(frame, (low_w, low_h), interpolation=cv2.INTER_AREA))
    with_cv = composite_cv.guided_upsample(styled, low_guide, frame)
    with_torch = composite.guided_upsample(styled, low_guide, to_tensor(frame))
    with_torch = (with_torch[0].permute(1, 2, 0).numpy() * 255).round()
    for out in (with_cv.astype(np.float32), with_torch):
        person, background = out[:, : width // 2 - 4], out[:, width // 2 + 4:]
        assert np.abs(person - np.array(PERSON_PAINT) * 255).max() <= 2
        assert np.abs(background - np.array(BACKGROUND_PAINT) * 255).max() <= 2


def test_guided_upsample_at_the_same_size_returns_the_output() -> None:
    frame = _step_frame(16, 32)
    low_output = _rand(1, 3, 16, 32)
    out = composite_cv.guided_upsample(low_output, to_tensor(frame), frame)
    assert np.array_equal(out, composite_cv.float_to_u8(composite_cv.tensor_to_hwc(low_output)))


def test_guided_upsample_each_fits_every_picture_on_its_own() -> None:
    """Two pictures with one guide (a style stream per region): the same as one call per picture, and
    different pictures stay different (no channel mixing)."""
    frame = _step_frame(64, 96)
    guide = resize(to_tensor(frame), (32, 48))
    pictures = _rand(2, 3, 32, 48)
    each = composite_cv.guided_upsample_each(pictures, guide, frame)
    assert len(each) == 2 and all(p.shape == (64, 96, 3) and p.dtype == np.uint8 for p in each)
    for picture, alone in zip(each, (composite_cv.guided_upsample(pictures[i : i + 1], guide, frame) for i in range(2))):
        assert np.array_equal(picture, alone)
    assert np.abs(each[0].astype(np.int16) - each[1]).mean() > 5


# ------------------------------------------------------------------------------------------ float_to_u8

def test_float_to_u8_rounds_and_saturates() -> None:
    values = np.array([[-0.05, -1e-4, 0.0, 0.2 / 255, 0.7 / 255, 100.4 / 255, 100.6 / 255, 0.5, 1.0, 1.3]],
                      np.float32)
    before = values.copy()
    out = composite_cv.float_to_u8(values)
    assert out.dtype == np.uint8 and out.shape == values.shape
    assert out.tolist() == [[0, 0, 0, 0, 1, 100, 101, 128, 255, 255]]  # negatives saturate to 0, not mirrored
    assert np.array_equal(values, before)  # the input is not modified


def test_float_to_u8_keeps_three_channels_apart() -> None:
    image = np.zeros((2, 3, 3), np.float32)
    image[..., 0], image[..., 1], image[..., 2] = -0.2, 0.25, 2.0
    out = composite_cv.float_to_u8(image)
    assert out.shape == (2, 3, 3)
    assert out[..., 0].max() == 0 and set(out[..., 1].ravel()) == {64} and out[..., 2].min() == 255


# ------------------------------------------------------------------------------------------ blend

def test_blend_extremes_and_a_mid_value() -> None:
    person = np.full((5, 7, 3), 200, np.uint8)
    background = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    zeros, ones = np.zeros((5, 7), np.float32), np.ones((5, 7), np.float32)
    assert np.array_equal(composite_cv.blend(person, background, zeros), background)
    assert np.array_equal(composite_cv.blend(person, background, ones), person)
    mid = composite_cv.blend(person, background, np.full((5, 7), 0.25, np.float32))
    expected = 0.25 * 200 + 0.75 * background.astype(np.float32)
    assert np.abs(mid.astype(np.float32) - expected).max() <= 1.0
    # A per-pixel mask: each pixel follows its own weight.
    mixed = ones.copy()
    mixed[:, 3:] = 0
    out = composite_cv.blend(person, background, mixed)
    assert np.array_equal(out[:, :3], person[:, :3]) and np.array_equal(out[:, 3:], background[:, 3:])


def test_blend_of_one_image_with_itself_is_that_image() -> None:
    frame = np.random.default_rng(1).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    assert composite_cv.blend(frame, frame, np.full((4, 6), 0.5, np.float32)) is frame


# ------------------------------------------------------------------------------------------ parity

HEIGHT, WIDTH = 90, 160
#: Parity limits, in uint8 levels over the whole frame, and for the mask.
PARITY_MEAN, PARITY_P99, PARITY_MAX, MASK_ATOL = 1.0, 3.0, 8, 1e-3


def _scene_frame() -> np.ndarray:
    """A dark gradient background with a sharp bright bar, and a bright textured ellipse (the person),
    plus noise: edges for the guided filter and contrast for the blur."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    image = np.stack([20 + 40 * x / WIDTH, 30 + 30 * y / HEIGHT, np.full_like(x, 50)], axis=-1)
    image[:, 12:18] = (230, 230, 40)
    person = ((x - WIDTH / 2) / (WIDTH * 0.22)) ** 2 + ((y - HEIGHT * 0.6) / (HEIGHT * 0.45)) ** 2 < 1
    image[person] = (235, 190, 160)
    image[person & (np.sin(x / 2.5) > 0)] -= 70
    image += np.random.default_rng(5).normal(0, 6, image.shape)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


class EllipseSegmenter:
    """The ellipse of ``_scene_frame`` as a soft ``1x1x(size)x(size)`` mask."""

    name = "fake-ellipse"

    def __init__(self, size: int) -> None:
        self.size = size

    def preferred_size(self, height: int, width: int) -> tuple[int, int]:
        return (32, 32)

    def segment(self, frame: torch.Tensor) -> torch.Tensor:
        centres = (torch.arange(self.size, dtype=torch.float32) + 0.5) / self.size
        y, x = torch.meshgrid(centres, centres, indexing="ij")
        inside = ((x - 0.5) / 0.22) ** 2 + ((y - 0.6) / 0.45) ** 2
        return torch.sigmoid((1 - inside) * 8).view(1, 1, self.size, self.size)


class ContrastStylizer:
    """A stand-in stylizer with hard edges: the content at 1.8x contrast, tinted by each region's code
    (``1x3x1x1``), mixed by the mask. Its steep edges make the guided filter overshoot."""

    name = "fake-contrast"
    size_multiple = 1

    def style_size(self, height: int, width: int) -> tuple[int, int]:
        return height, width

    def encode_style(self, image: torch.Tensor) -> Any:
        return image.mean(dim=(2, 3), keepdim=True)

    def blend_codes(self, codes: Sequence[Any], weights: Sequence[float]) -> Any:
        return sum(c * w for c, w in zip(codes, weights)) / sum(weights)

    def stylize(self, content: torch.Tensor, mask: torch.Tensor, person: RegionStyle | None,
                background: RegionStyle | None) -> torch.Tensor:
        def paint(style: RegionStyle | None) -> torch.Tensor:
            if style is None:
                return content
            return ((content - 0.5) * 1.8 + 0.5 + (style.code - 0.5) * 0.4).clamp(0, 1)

        return torch.lerp(paint(background), paint(person), mask)


@pytest.mark.parametrize("mask_size", [48, 128], ids=["mask-enlarged", "mask-shrunk-in-height"])
@pytest.mark.parametrize("region", ["person", "background"])
@pytest.mark.parametrize("effect", EFFECTS)
def test_cpu_and_torch_compositors_agree(effect: str, region: str, mask_size: int) -> None:
    frame = _scene_frame()
    picture = np.random.default_rng(9).integers(0, 256, frame.shape, dtype=np.uint8)
    plan = RegionPlan(effect, blur=15.0, color=(200, 30, 90), image=picture,
                      style=RegionStyle(torch.tensor([0.9, 0.2, 0.6]).view(1, 3, 1, 1)))
    plans = {"person": RegionPlan("original"), "background": RegionPlan("original"), region: plan}
    settings = PipelineSettings(output_size=(HEIGHT, WIDTH), mask=MaskSettings(smoothing=0.0), style_size=40,
                                **plans)
    pipeline = Pipeline(EllipseSegmenter(mask_size), ContrastStylizer(), settings, CPU)
    analysis = pipeline.analyse(frame, {})

    cpu_image, cpu_mask = pipeline._compose_cpu(frame, analysis)
    torch_image, torch_mask = pipeline._compose_torch(frame, analysis)  # the GPU path, run on the CPU

    assert cpu_image.shape == torch_image.shape == frame.shape
    assert cpu_image.dtype == torch_image.dtype == np.uint8
    assert cpu_mask.shape == torch_mask.shape == (HEIGHT, WIDTH)
    assert float(np.abs(cpu_mask - torch_mask).max()) <= MASK_ATOL
    diff = np.abs(cpu_image.astype(np.int16) - torch_image.astype(np.int16))
    assert float(diff.mean()) <= PARITY_MEAN
    assert float(np.percentile(diff, 99)) <= PARITY_P99
    assert int(diff.max()) <= PARITY_MAX
    # Not a vacuous agreement: every effect but "original" really changes its region.
    changed = float(np.abs(torch_image.astype(np.int16) - frame.astype(np.int16)).mean())
    assert changed == 0.0 if effect == "original" else changed > 5.0


# ------------------------------------------------------------------------------------------ guided_blend

def _two_styled(h: int = 36, w: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray]:
    """Two smooth stylized pictures of a guide with a vertical edge, a person mask (left half), a frame."""
    frame = _scene_frame()
    guide = to_tensor(cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA), CPU)
    warm = (guide * torch.tensor([1.0, 0.6, 0.3]).view(1, 3, 1, 1)).clamp(0, 1)
    cold = (1 - guide * torch.tensor([0.3, 0.5, 1.0]).view(1, 3, 1, 1)).clamp(0, 1)
    mask = torch.zeros(1, 1, 45, 80)
    mask[..., :40] = 1
    return torch.cat([warm, cold]), guide, composite.feather(mask, 3.0), frame


def test_guided_blend_is_the_blend_of_the_two_guided_upsamplings() -> None:
    """One pass (the two fits mixed at low resolution) gives the picture that upsampling each region and
    blending them per pixel gives: the same within rounding away from the silhouette, close on it."""
    styled, guide, mask, frame = _two_styled()
    separate = composite_cv.guided_upsample_each(styled, guide, frame)
    expected = composite_cv.blend(separate[0], separate[1], composite_cv.upsample_mask(mask, frame.shape[:2]))
    fused = composite_cv.guided_blend(styled, guide, mask, frame)
    assert fused.shape == frame.shape and fused.dtype == np.uint8
    diff = np.abs(fused.astype(np.int16) - expected.astype(np.int16))
    assert float(diff.mean()) <= 1.0 and float(np.percentile(diff, 99)) <= 6
    # far from the silhouette each region is its own picture (the person's left, the background's right)
    left, right = diff[:, : WIDTH // 4], diff[:, 3 * WIDTH // 4 :]
    assert int(np.percentile(left, 99)) <= 2 and int(np.percentile(right, 99)) <= 2
    # not vacuous: the two regions' pictures really differ
    assert float(np.abs(separate[0].astype(np.int16) - separate[1].astype(np.int16)).mean()) > 40


def test_guided_blend_reuses_its_buffers_without_mixing_frames() -> None:
    styled, guide, mask, frame = _two_styled()
    buffers = composite_cv.FullResBuffers()
    first = composite_cv.guided_blend(styled, guide, mask, frame, buffers)
    second = composite_cv.guided_blend(styled.flip(0), guide, mask, frame, buffers)  # the regions swapped
    again = composite_cv.guided_blend(styled, guide, mask, frame, buffers)
    assert np.array_equal(first, again) and not np.array_equal(first, second)


def test_guided_blend_at_the_output_size_is_the_plain_blend() -> None:
    styled, _, mask, frame = _two_styled(HEIGHT, WIDTH)
    guide = to_tensor(frame, CPU)
    fused = composite_cv.guided_blend(styled, guide, mask, frame)
    pictures = [composite_cv.float_to_u8(composite_cv.tensor_to_hwc(styled[i : i + 1])) for i in range(2)]
    assert np.array_equal(fused, composite_cv.blend(pictures[0], pictures[1],
                                                    composite_cv.upsample_mask(mask, frame.shape[:2])))


@pytest.mark.parametrize("mask_size", [48, 128], ids=["mask-enlarged", "mask-shrunk-in-height"])
def test_cpu_and_torch_compositors_agree_with_both_regions_styled(mask_size: int) -> None:
    """The fused CPU path (both regions styled, different styles) against the torch compositor."""
    frame = _scene_frame()
    plans = {name: RegionPlan("style", style=RegionStyle(torch.tensor(code).view(1, 3, 1, 1)))
             for name, code in (("person", [0.9, 0.2, 0.6]), ("background", [0.1, 0.8, 0.3]))}
    settings = PipelineSettings(output_size=(HEIGHT, WIDTH), mask=MaskSettings(smoothing=0.0), style_size=40, **plans)
    pipeline = Pipeline(EllipseSegmenter(mask_size), ContrastStylizer(), settings, CPU)
    analysis = pipeline.analyse(frame, {})
    cpu_image, cpu_mask = pipeline._compose_cpu(frame, analysis)
    torch_image, torch_mask = pipeline._compose_torch(frame, analysis)
    assert float(np.abs(resolve_mask(cpu_mask) - torch_mask).max()) <= MASK_ATOL
    diff = np.abs(cpu_image.astype(np.int16) - torch_image.astype(np.int16))
    assert float(diff.mean()) <= PARITY_MEAN and float(np.percentile(diff, 99)) <= 2 * PARITY_P99
    assert float(np.abs(torch_image.astype(np.int16) - frame.astype(np.int16)).mean()) > 5.0


def test_the_full_resolution_mask_is_made_only_when_asked_for() -> None:
    frame = _scene_frame()
    plans = {name: RegionPlan("style", style=RegionStyle(torch.tensor(code).view(1, 3, 1, 1)))
             for name, code in (("person", [0.9, 0.2, 0.6]), ("background", [0.1, 0.8, 0.3]))}
    settings = PipelineSettings(output_size=(HEIGHT, WIDTH), mask=MaskSettings(smoothing=0.0), style_size=40, **plans)
    pipeline = Pipeline(EllipseSegmenter(48), ContrastStylizer(), settings, CPU)
    result = pipeline.process(frame)
    assert callable(result._mask)  # not made yet
    mask = result.mask
    assert mask.shape == (HEIGHT, WIDTH) and mask.dtype == np.float32 and result.mask is mask
    assert 0.2 < float(mask.mean()) < 0.8
