"""vcamstyle.pipeline.core with small deterministic fake models (the real ones are tested in tests/models).

Frames go in and out as ``HxWx3 uint8 RGB`` numpy arrays; the mask comes back as ``HxW float32``. The
region-effect tests run twice: through the CPU compositor (OpenCV on uint8, what ``process`` uses on the
CPU) and through the torch compositor (what it uses on a GPU), called here on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pytest
import torch

from vcamstyle.models.base import RegionStyle, Segmenter, Stylizer
from vcamstyle.pipeline.core import (
    STAGES,
    MaskSettings,
    Pipeline,
    PipelineSettings,
    RegionPlan,
)

CPU = torch.device("cpu")
HEIGHT, WIDTH = 72, 128
# Region colours as RGB uint8 triples (RegionPlan.color) and the same colours as style codes for the
# fake stylizer (``1x3x1x1`` in [0, 1]).
RED_RGB, GREEN_RGB, BLUE_RGB = (255, 0, 0), (0, 255, 0), (0, 0, 255)
RED = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
GREEN = torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1, 1)
# Columns well inside each region (the mask edge is at WIDTH // 2 and is feathered); index HxWx3 frames
# and HxW masks alike.
LEFT = (slice(None), slice(4, WIDTH // 2 - 16))
RIGHT = (slice(None), slice(WIDTH // 2 + 16, WIDTH - 4))


@pytest.fixture(params=["cpu-opencv", "torch"])
def compositor(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test with each full-resolution compositor (``process`` picks by device type)."""
    if request.param == "torch":
        monkeypatch.setattr(Pipeline, "_compose_cpu", Pipeline._compose_torch)
    return request.param


class HalfSegmenter:
    """Person on the left half: a ``1x1x32x32`` mask, 1 on the left, 0 on the right (``value`` scales it)."""

    name = "fake-half"

    def __init__(self, size: int = 32, value: float = 1.0) -> None:
        self.size = size
        self.value = value
        self.calls = 0

    def preferred_size(self, height: int, width: int) -> tuple[int, int]:
        return (32, 32)

    def segment(self, frame: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        mask = torch.zeros(1, 1, self.size, self.size)
        mask[..., : self.size // 2] = self.value
        return mask


class FlickerSegmenter:
    """An unsure left/right mask (0.75 / 0.25) plus random per-frame noise that crosses the threshold
    ramp (a flickering model), seeded."""

    name = "fake-flicker"

    def __init__(self, seed: int = 0, noise: float = 0.3) -> None:
        self.generator = torch.Generator().manual_seed(seed)
        self.noise = noise

    def preferred_size(self, height: int, width: int) -> tuple[int, int]:
        return (32, 32)

    def segment(self, frame: torch.Tensor) -> torch.Tensor:
        mask = torch.full((1, 1, 32, 32), 0.25)
        mask[..., :16] = 0.75
        noise = (torch.rand(1, 1, 32, 32, generator=self.generator) - 0.5) * 2 * self.noise
        return (mask + noise).clamp(0, 1)


@dataclass
class StylizeCall:
    content_shape: tuple[int, ...]
    mask_shape: tuple[int, ...]
    person: RegionStyle | None
    background: RegionStyle | None


@dataclass
class ColorStylizer:
    """Paints each region with its code (an RGB ``1x3x1x1`` colour), mixed by the mask; records calls."""

    name: str = "fake-colour"
    size_multiple: int = 1
    calls: list[StylizeCall] = field(default_factory=list)

    def style_size(self, height: int, width: int) -> tuple[int, int]:
        return height, width

    def encode_style(self, image: torch.Tensor) -> Any:
        return image.mean(dim=(2, 3), keepdim=True)

    def blend_codes(self, codes: Sequence[Any], weights: Sequence[float]) -> Any:
        total = sum(weights)
        return sum(c * (w / total) for c, w in zip(codes, weights))

    def stylize(self, content: torch.Tensor, mask: torch.Tensor, person: RegionStyle | None,
                background: RegionStyle | None) -> torch.Tensor:
        self.calls.append(StylizeCall(tuple(content.shape), tuple(mask.shape), person, background))
        p = person.code.expand_as(content) if person is not None else content
        b = background.code.expand_as(content) if background is not None else content
        return torch.lerp(b, p, mask)


def _content(seed: int = 0) -> np.ndarray:
    """A noise frame, ``HEIGHT x WIDTH x 3 uint8 RGB``."""
    return np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def _settings(person: RegionPlan, background: RegionPlan, smoothing: float = 0.0, style_size: int = 36,
              **kwargs: Any) -> PipelineSettings:
    return PipelineSettings(output_size=(HEIGHT, WIDTH), mask=MaskSettings(smoothing=smoothing),
                            style_size=style_size, person=person, background=background, **kwargs)


def _unit(image: np.ndarray) -> np.ndarray:
    """``uint8`` -> ``float32`` in [0, 1]."""
    return image.astype(np.float32) / 255.0


def _close_to(region: np.ndarray, colour: tuple[int, int, int], atol: float = 0.02) -> bool:
    """Every pixel of ``region`` (``...x3 uint8``) within ``atol`` (in [0, 1] units) of ``colour``."""
    return bool(np.allclose(_unit(region), np.array(colour, np.float32) / 255.0, rtol=0, atol=atol))


def test_fakes_fulfil_the_protocols() -> None:
    assert isinstance(HalfSegmenter(), Segmenter)
    assert isinstance(ColorStylizer(), Stylizer)


@pytest.mark.parametrize("height, width", [(72, 128), (75, 101), (33, 47)])
def test_output_shape_equals_input(height: int, width: int, compositor: str) -> None:
    settings = PipelineSettings(output_size=(height, width), person=RegionPlan("style", style=RegionStyle(RED)),
                                background=RegionPlan("blur", blur=9.0), style_size=20)
    pipeline = Pipeline(HalfSegmenter(), ColorStylizer(), settings, CPU)
    content = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    result = pipeline.process(content)
    assert isinstance(result.image, np.ndarray) and isinstance(result.mask, np.ndarray)
    assert result.image.shape == content.shape
    assert result.image.dtype == np.uint8
    assert result.mask.shape == (height, width)
    assert result.mask.dtype == np.float32
    assert float(result.mask.min()) >= 0 and float(result.mask.max()) <= 1


def test_mask_follows_the_segmenter(compositor: str) -> None:
    pipeline = Pipeline(HalfSegmenter(), None, _settings(RegionPlan(), RegionPlan("blur")), CPU)
    mask = pipeline.process(_content()).mask
    assert float(mask[LEFT].min()) > 0.99
    assert float(mask[RIGHT].max()) < 0.01


def test_colour_effects_land_in_their_regions(compositor: str) -> None:
    settings = _settings(RegionPlan("color", color=RED_RGB), RegionPlan("color", color=BLUE_RGB))
    out = Pipeline(HalfSegmenter(), None, settings, CPU).process(_content()).image
    assert _close_to(out[LEFT], RED_RGB, atol=1e-3)
    assert _close_to(out[RIGHT], BLUE_RGB, atol=1e-3)


def test_original_and_image_effects_land_in_their_regions(compositor: str) -> None:
    content = _content(1)
    picture = _content(2)
    settings = _settings(RegionPlan("original"), RegionPlan("image", image=picture))
    out = Pipeline(HalfSegmenter(), None, settings, CPU).process(content).image
    assert np.array_equal(out[LEFT], content[LEFT])
    assert np.array_equal(out[RIGHT], picture[RIGHT])
    # And the other way round.
    settings = _settings(RegionPlan("image", image=picture), RegionPlan("original"))
    out = Pipeline(HalfSegmenter(), None, settings, CPU).process(content).image
    assert np.array_equal(out[LEFT], picture[LEFT])
    assert np.array_equal(out[RIGHT], content[RIGHT])


def test_blur_effect_blurs_only_its_region(compositor: str) -> None:
    content = _content(3)  # pure noise: any blur lowers its variance a lot
    settings = _settings(RegionPlan("original"), RegionPlan("blur", blur=15.0))
    out = Pipeline(HalfSegmenter(), None, settings, CPU).process(content).image
    assert np.array_equal(out[LEFT], content[LEFT])
    assert float(_unit(out[RIGHT]).var()) < 0.2 * float(_unit(content[RIGHT]).var())
    # Blurring the person instead leaves the background untouched.
    settings = _settings(RegionPlan("blur", blur=15.0), RegionPlan("original"))
    out = Pipeline(HalfSegmenter(), None, settings, CPU).process(content).image
    assert np.array_equal(out[RIGHT], content[RIGHT])
    assert float(_unit(out[LEFT]).var()) < 0.2 * float(_unit(content[LEFT]).var())


def test_style_effect_for_both_regions_in_one_call(compositor: str) -> None:
    stylizer = ColorStylizer()
    person, background = RegionStyle(RED, 0.7), RegionStyle(GREEN, 1.0)
    settings = _settings(RegionPlan("style", style=person), RegionPlan("style", style=background), style_size=36)
    pipeline = Pipeline(HalfSegmenter(), stylizer, settings, CPU)
    for seed in range(3):
        out = pipeline.process(_content(seed)).image
        assert _close_to(out[LEFT], RED_RGB, atol=0.03)
        assert _close_to(out[RIGHT], GREEN_RGB, atol=0.03)
    assert len(stylizer.calls) == 3  # once per frame
    for call in stylizer.calls:
        assert call.person is person and call.background is background  # both regions, one call
        assert call.content_shape == (1, 3, 36, 64)  # the working size: short side style_size, aspect kept
        assert call.mask_shape == (1, 1, 36, 64)


def test_style_in_one_region_and_another_effect_in_the_other(compositor: str) -> None:
    stylizer = ColorStylizer()
    settings = _settings(RegionPlan("color", color=BLUE_RGB), RegionPlan("style", style=RegionStyle(GREEN)))
    out = Pipeline(HalfSegmenter(), stylizer, settings, CPU).process(_content()).image
    assert _close_to(out[LEFT], BLUE_RGB, atol=1e-3)
    assert _close_to(out[RIGHT], GREEN_RGB, atol=0.03)
    assert len(stylizer.calls) == 1
    assert stylizer.calls[0].person is None and stylizer.calls[0].background is not None


def test_style_size_sets_the_working_size() -> None:
    stylizer = ColorStylizer()
    region = RegionPlan("style", style=RegionStyle(RED))
    Pipeline(HalfSegmenter(), stylizer, _settings(region, region, style_size=24), CPU).process(_content())
    Pipeline(HalfSegmenter(), stylizer, _settings(region, region, style_size=1000), CPU).process(_content())
    assert stylizer.calls[0].content_shape[-2:] == (24, 42)  # 24 x 128*24/72 = 42.67 -> even 42
    assert stylizer.calls[1].content_shape[-2:] == (HEIGHT, WIDTH)  # never upscaled


def test_no_stylizer_call_when_no_region_uses_style() -> None:
    stylizer = ColorStylizer()
    styled_but_unused = RegionStyle(RED)
    settings = _settings(RegionPlan("color", color=BLUE_RGB, style=styled_but_unused),
                         RegionPlan("blur", style=styled_but_unused))
    pipeline = Pipeline(HalfSegmenter(), stylizer, settings, CPU)
    for seed in range(3):
        pipeline.process(_content(seed))
    assert stylizer.calls == []
    assert pipeline.process(_content()).stage_ms["style"] >= 0


def test_preserve_color_runs_on_the_stylized_image(compositor: str) -> None:
    stylizer = ColorStylizer()
    region = RegionPlan("style", style=RegionStyle(RED))
    grey = np.full((HEIGHT, WIDTH, 3), 128, dtype=np.uint8)
    plain = Pipeline(HalfSegmenter(), stylizer, _settings(region, region), CPU).process(grey).image
    kept = Pipeline(HalfSegmenter(), stylizer, _settings(region, region, preserve_color=True), CPU).process(grey).image
    assert _close_to(plain[LEFT], RED_RGB, atol=0.03)
    # The content is grey, so with preserve_color the red style keeps only its luma: a grey output.
    assert float(np.abs(_unit(kept[..., 0]) - _unit(kept[..., 1])).max()) < 0.01
    assert float(_unit(kept[LEFT]).mean()) == pytest.approx(0.299, abs=0.02)


def _mask_flicker(smoothing: float, frames: int = 12) -> float:
    settings = PipelineSettings(output_size=(HEIGHT, WIDTH), mask=MaskSettings(smoothing=smoothing),
                                person=RegionPlan("original"), background=RegionPlan("color", color=BLUE_RGB))
    pipeline = Pipeline(FlickerSegmenter(seed=7), None, settings, CPU)
    content = _content()
    masks = [pipeline.process(content).mask for _ in range(frames)]
    return float(np.mean([np.abs(b - a).mean() for a, b in zip(masks[1:], masks[2:])]))


def test_temporal_smoothing_reduces_mask_flicker() -> None:
    unsmoothed = _mask_flicker(0.0)
    smoothed = _mask_flicker(0.6)
    assert unsmoothed > 0.01  # the fake really flickers
    assert smoothed < 0.6 * unsmoothed


def test_replace_keeps_mask_state_with_the_same_segmenter_only() -> None:
    segmenter = HalfSegmenter(value=0.55)
    settings = _settings(RegionPlan("original"), RegionPlan("color", color=BLUE_RGB), smoothing=0.6)
    pipeline = Pipeline(segmenter, None, settings, CPU)
    for _ in range(5):
        pipeline.process(_content())

    # the person fades a little (a jitter-sized change): smoothing must still remember the old mask
    segmenter.value = 0.45
    kept = pipeline.replace(segmenter, None, settings)
    assert float(kept.process(_content()).mask[LEFT].mean()) > 0.5

    other = HalfSegmenter(value=0.45)  # a new model: the old state is meaningless and dropped
    fresh = pipeline.replace(other, None, settings)
    assert float(fresh.process(_content()).mask[LEFT].max()) < 0.3


def test_replace_swaps_settings_and_models(compositor: str) -> None:
    pipeline = Pipeline(HalfSegmenter(), None, _settings(RegionPlan("color", color=RED_RGB), RegionPlan("blur")), CPU)
    stylizer = ColorStylizer()
    swapped = pipeline.replace(pipeline.segmenter, stylizer,
                               _settings(RegionPlan("color", color=BLUE_RGB), RegionPlan("style", style=RegionStyle(GREEN))))
    out = swapped.process(_content()).image
    assert _close_to(out[LEFT], BLUE_RGB, atol=1e-3) and _close_to(out[RIGHT], GREEN_RGB, atol=0.03)
    assert len(stylizer.calls) == 1


def test_reset_forgets_the_mask_state() -> None:
    segmenter = HalfSegmenter(value=1.0)
    pipeline = Pipeline(segmenter, None, _settings(RegionPlan(), RegionPlan("blur"), smoothing=0.6), CPU)
    for _ in range(5):
        pipeline.process(_content())
    pipeline.reset()
    segmenter.value = 0.0
    assert float(pipeline.process(_content()).mask.max()) < 0.01


def test_stage_times_cover_every_stage() -> None:
    region = RegionPlan("style", style=RegionStyle(RED))
    result = Pipeline(HalfSegmenter(), ColorStylizer(), _settings(region, region), CPU).process(_content())
    assert tuple(result.stage_ms) == STAGES == ("denoise", "segment", "mask", "style", "composite")
    assert all(isinstance(v, float) and v >= 0 for v in result.stage_ms.values())


def test_segmenter_is_called_once_per_frame() -> None:
    segmenter = HalfSegmenter()
    pipeline = Pipeline(segmenter, None, _settings(RegionPlan(), RegionPlan("blur")), CPU)
    for _ in range(4):
        pipeline.process(_content())
    assert segmenter.calls == 4


def test_reset_forgets_the_stylizers_state_too() -> None:
    """``reset`` (another camera) also resets a stylizer that keeps state across frames (Magenta's content
    vector); stylizers without state have no ``reset`` and are left alone."""

    @dataclass
    class StatefulStylizer(ColorStylizer):
        resets: int = 0

        def reset(self) -> None:
            self.resets += 1

    stateful = StatefulStylizer()
    settings = _settings(RegionPlan("style", style=RegionStyle(RED)), RegionPlan("style", style=RegionStyle(GREEN)))
    pipeline = Pipeline(HalfSegmenter(), stateful, settings, CPU)
    pipeline.process(_content())
    pipeline.reset()
    assert stateful.resets == 1
    stateless = Pipeline(HalfSegmenter(), ColorStylizer(), settings, CPU)
    stateless.process(_content())
    stateless.reset()  # no reset method: nothing to forget
    assert stateless.process(_content()).image.shape == (HEIGHT, WIDTH, 3)
