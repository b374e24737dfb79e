"""The pure per-frame core: segment -> mask post-processing -> stylize -> region effects -> composite.

Tensors in, tensors out: no I/O, no threads, no configuration parsing. Everything a frame needs that
can be prepared once (models, encoded styles, background images at output size, colours) arrives
ready-made in ``PipelineSettings`` (see ``vcamstyle.scene``). The only state kept between frames is the
temporally smoothed mask.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from vcamstyle import composite
from vcamstyle.frames import resize, short_side_size
from vcamstyle.models.base import RegionStyle, Segmenter, Stylizer

EFFECTS = ("original", "blur", "color", "image", "style")
STAGES = ("segment", "mask", "style", "composite")


@dataclass(frozen=True)
class MaskSettings:
    """``smoothing``: EMA factor in [0,1); ``threshold``/``softness``: the soft cut; ``feather``: edge
    softness in output pixels."""

    smoothing: float = 0.6
    threshold: float = 0.5
    softness: float = 0.15
    feather: float = 4.0


@dataclass(frozen=True)
class RegionPlan:
    """One region's effect, prepared for the frame loop.

    ``color``: ``1x3x1x1`` RGB [0,1]; ``image``: ``1x3xHxW`` RGB [0,1] at the output size;
    ``style``: an encoded style with its strength.
    """

    effect: str = "original"
    blur: float = 25.0
    color: torch.Tensor | None = None
    image: torch.Tensor | None = None
    style: RegionStyle | None = None


@dataclass(frozen=True)
class PipelineSettings:
    output_size: tuple[int, int]
    mask: MaskSettings = field(default_factory=MaskSettings)
    style_size: int = 360
    preserve_color: bool = False
    person: RegionPlan = field(default_factory=RegionPlan)
    background: RegionPlan = field(default_factory=lambda: RegionPlan(effect="blur"))


@dataclass
class FrameResult:
    """``image``: ``1x3xHxW`` RGB [0,1]; ``mask``: ``1x1xHxW`` [0,1]; ``stage_ms``: time per stage."""

    image: torch.Tensor
    mask: torch.Tensor
    stage_ms: dict[str, float]


class Pipeline:
    """Runs one frame at a time. Swap settings or models between frames with ``replace``."""

    def __init__(self, segmenter: Segmenter, stylizer: Stylizer | None, settings: PipelineSettings,
                 device: torch.device, mask_state: torch.Tensor | None = None) -> None:
        self.segmenter = segmenter
        self.stylizer = stylizer
        self.settings = settings
        self.device = device
        self._mask_state = mask_state

    def replace(self, segmenter: Segmenter, stylizer: Stylizer | None, settings: PipelineSettings) -> "Pipeline":
        """A pipeline with new parts that keeps the smoothed mask when the segmenter is unchanged."""
        state = self._mask_state if segmenter is self.segmenter else None
        return Pipeline(segmenter, stylizer, settings, self.device, state)

    def reset(self) -> None:
        """Forget temporal state (e.g. after the camera came back)."""
        self._mask_state = None

    def _clock(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    @torch.inference_mode()
    def process(self, content: torch.Tensor) -> FrameResult:
        """``content``: ``1x3xHxW`` RGB [0,1] at the output size, on ``self.device``."""
        s = self.settings
        size = tuple(content.shape[-2:])
        times: dict[str, float] = {}
        t0 = self._clock()

        raw = self.segmenter.segment(content).float()
        t1 = self._clock()
        times["segment"] = (t1 - t0) * 1000

        low = composite.ema(self._mask_state, raw, s.mask.smoothing)
        self._mask_state = low
        low = composite.soft_threshold(low, s.mask.threshold, s.mask.softness)
        low = composite.feather(low, s.mask.feather * low.shape[-1] / size[1])
        mask = resize(low, size, mode="bilinear").clamp_(0, 1).to(content.dtype)
        t2 = self._clock()
        times["mask"] = (t2 - t1) * 1000

        styled = self._stylize(content, low)
        t3 = self._clock()
        times["style"] = (t3 - t2) * 1000

        person = self._region(s.person, content, styled, mask)
        background = self._region(s.background, content, styled, 1 - mask)
        out = composite.blend(person, background, mask)
        times["composite"] = (self._clock() - t3) * 1000
        return FrameResult(out, mask, times)

    def _stylize(self, content: torch.Tensor, low_mask: torch.Tensor) -> torch.Tensor | None:
        s = self.settings
        person = s.person.style if s.person.effect == "style" else None
        background = s.background.style if s.background.effect == "style" else None
        if self.stylizer is None or (person is None and background is None):
            return None
        h, w = content.shape[-2:]
        work = short_side_size(h, w, s.style_size, multiple=2)
        small = resize(content, work)
        small_mask = resize(low_mask, work, mode="bilinear").clamp_(0, 1).to(small.dtype)
        styled = self.stylizer.stylize(small, small_mask, person, background)
        if s.preserve_color:
            styled = composite.preserve_color(styled, small)
        return composite.guided_upsample(styled, small, content)

    @staticmethod
    def _region(plan: RegionPlan, content: torch.Tensor, styled: torch.Tensor | None,
                weight: torch.Tensor) -> torch.Tensor:
        """The full-frame image of one region's effect; ``weight`` is that region's mask."""
        if plan.effect == "style" and styled is not None:
            return styled
        if plan.effect == "blur":
            return composite.blur_strong(content, plan.blur, weight)
        if plan.effect == "color" and plan.color is not None:
            return plan.color.to(content.dtype).expand_as(content)
        if plan.effect == "image" and plan.image is not None:
            return plan.image.to(content.dtype)
        return content
