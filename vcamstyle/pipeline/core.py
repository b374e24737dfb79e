"""The pure per-frame core: segment -> mask post-processing -> stylize -> region effects -> composite.

Arrays in, arrays out: ``process`` takes the camera frame (``HxWx3 uint8 RGB`` at the output size) and
returns the output frame in the same format, plus the soft mask. No I/O, no threads, no configuration
parsing: models, encoded styles and region assets arrive ready-made in ``PipelineSettings`` (see
``vcamstyle.pipeline.scene``). The only state kept between frames is the temporally smoothed mask.

The networks and the mask run in torch at low resolution on the runtime device. Work at the output
resolution runs where it is cheapest: OpenCV on ``uint8`` on the CPU (``composite_cv``), torch on a GPU
(``composite``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import torch

from vcamstyle.frames import resize, short_side_size, shrink, to_numpy, to_tensor
from vcamstyle.models import RegionStyle, Segmenter, Stylizer
from vcamstyle.pipeline import composite, composite_cv
from vcamstyle.pipeline.denoise_split import SplitDenoiser
from vcamstyle.pipeline.painting import Painted, Painter, PaintJob
from vcamstyle.pipeline.style_worker import StyleWorker

EFFECTS = ("original", "blur", "color", "image", "style")
#: ``every_frame``: the style network runs in ``process`` for each frame; ``async``: on its own thread
#: (``StyleWorker``) for the newest frame whenever it is free, each frame composed with the newest result.
SCHEDULES = ("every_frame", "async")
STAGES = ("denoise", "segment", "mask", "style", "composite")


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

    ``color``: RGB ``uint8`` triple; ``image``: ``HxWx3 uint8 RGB`` at the output size;
    ``style``: an encoded style with its strength.
    """

    effect: str = "original"
    blur: float = 25.0
    color: tuple[int, int, int] = (32, 32, 32)
    image: np.ndarray | None = None
    style: RegionStyle | None = None


@dataclass(frozen=True)
class PipelineSettings:
    output_size: tuple[int, int]
    mask: MaskSettings = field(default_factory=MaskSettings)
    style_size: int = 256
    preserve_color: bool = False
    #: Temporal smoothing of the stylized image where the scene is still, [0, 1).
    style_smoothing: float = 0.0
    #: Motion-gated temporal denoising of the camera frame where the scene is still, [0, 1).
    input_smoothing: float = 0.0
    #: Style strength on the face when the person is styled (None: as the rest of the person).
    face_strength: float | None = None
    person: RegionPlan = field(default_factory=RegionPlan)
    background: RegionPlan = field(default_factory=lambda: RegionPlan(effect="blur"))
    #: When the style network runs (``SCHEDULES``).
    schedule: str = "every_frame"


def mask_needed(settings: PipelineSettings) -> bool:
    """Whether any part of the output depends on the person mask.

    Not when both regions get the same picture: both the camera's (``original`` or a style at strength
    0: ``shows_camera``), the same ``color``, the same
    ``image``, or the same style at the same strength with no face strength below it (the face is
    found in the person mask). ``blur`` always needs it (the person is kept out of the background
    blur), as does any pair of different effects.
    """
    p, b = settings.person, settings.background
    if face_spared(settings):
        return True
    if shows_camera(p) and shows_camera(b):
        return False
    if p.effect != b.effect:
        return True
    if p.effect == "color":
        return p.color != b.color
    if p.effect == "image":
        return p.image is not b.image
    if p.effect == "style":
        return p.style is None or b.style is None or p.style.code is not b.style.code or p.style.strength != b.style.strength
    return True


def shows_camera(plan: RegionPlan) -> bool:
    """Whether the region shows the camera picture unchanged: ``original``, or a style at strength 0."""
    return plan.effect == "original" or (plan.effect == "style" and plan.style is not None
                                         and plan.style.strength <= 0)


def _styles(settings: PipelineSettings) -> tuple[RegionStyle | None, RegionStyle | None]:
    """The person's and the background's style (None where the region's effect is not ``style``)."""
    return tuple(plan.style if plan.effect == "style" else None  # type: ignore[return-value]
                 for plan in (settings.person, settings.background))


def face_spared(settings: PipelineSettings) -> bool:
    """Whether the person is styled with a lower strength on the face (``face_strength``)."""
    style = settings.person.style if settings.person.effect == "style" else None
    return (style is not None and settings.face_strength is not None and style.strength > 0
            and settings.face_strength < style.strength)


#: A full-resolution mask, or how to make it: the fused compositor needs none, so the daemon (which
#: never looks at it) does not pay its upsampling; ``render --compare`` and the benchmarks do.
MaskSource = np.ndarray | Callable[[], np.ndarray]


def resolve_mask(mask: MaskSource) -> np.ndarray:
    """The ``HxW float32`` mask of a ``MaskSource``."""
    return mask() if callable(mask) else mask


class FrameResult:
    """``image``: ``HxWx3 uint8 RGB``; ``mask``: ``HxW float32`` in [0,1] (made on first use); ``stage_ms``:
    time per stage."""

    def __init__(self, image: np.ndarray, mask: MaskSource, stage_ms: dict[str, float]) -> None:
        self.image = image
        self._mask = mask
        self.stage_ms = stage_ms

    @property
    def mask(self) -> np.ndarray:
        self._mask = resolve_mask(self._mask)
        return self._mask


@dataclass
class Analysis:
    """Low-resolution results of one frame: the processed mask ``1x1xhxw`` (``None`` when nothing uses
    it: no segmentation ran) and, when a region is styled, the stylized pictures (``Bx3xh'xw'`` in [0,1]:
    one for every styled region, or the person's and the background's) and their guide (``1x3xh'xw'``)."""

    low_mask: torch.Tensor | None
    styled: torch.Tensor | None = None
    styled_guide: torch.Tensor | None = None
    #: The denoised ``HxW uint8`` grey frame when only it was denoised at full resolution (``SplitDenoiser``).
    grey: np.ndarray | None = None
    #: The guided fits of the first and last picture, when made with them (``Painted.fits``).
    fits: list | None = None


class Pipeline:
    """Runs one frame at a time. Swap settings or models between frames with ``replace``; ``close`` when
    done (with ``schedule: async`` it stops the style network's thread)."""

    def __init__(self, segmenter: Segmenter | None, stylizer: Stylizer | None, settings: PipelineSettings,
                 device: torch.device, mask_state: torch.Tensor | None = None,
                 scheduler: Callable[[StyleWorker, int], None] | None = None) -> None:
        """``segmenter`` may be None only when ``mask_needed(settings)`` is False (no segmentation runs).
        ``scheduler``: with ``schedule: async``, a synchronous style worker instead of a thread, and the
        manual scheduler that runs its jobs (``StyleWorker``; tests, the quality benchmark)."""
        if segmenter is None and mask_needed(settings):
            raise ValueError("these settings need the person mask: a segmenter is required")
        if settings.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {settings.schedule!r}")
        self.segmenter = segmenter
        self.stylizer = stylizer
        self.settings = settings
        self.device = device
        self._mask_state = mask_state
        self._input_state: np.ndarray | None = None  # the last denoised camera frame
        self._split = SplitDenoiser(settings.input_smoothing)  # or its grey and the network inputs
        self._solid: dict[tuple, np.ndarray] = {}
        self._assets: dict[tuple, torch.Tensor] = {}
        self._no_mask: dict[tuple, np.ndarray] = {}
        self._buffers = composite_cv.FullResBuffers()  # the CPU compositor's full-resolution arrays
        #: False when both regions get the same picture: then no segmentation runs (``mask_needed``).
        self.uses_mask = mask_needed(settings)
        self.scheduler = scheduler
        self._painter: Painter | None = None
        if self.stylizes:
            person, background = _styles(settings)
            fit = device.type == "cpu" and settings.person.effect == settings.background.effect == "style"
            self._painter = Painter(stylizer, person, background, settings.face_strength if face_spared(settings) else None,
                                    settings.preserve_color, settings.style_smoothing, fit)
        #: ``schedule: async``: the style network's own thread (started by the first frame).
        self.worker: StyleWorker[PaintJob] | None = None
        if self._painter is not None and settings.schedule == "async":
            self.worker = StyleWorker(self._painter.paint, threaded=scheduler is None, scheduler=scheduler)
        self._frame_no = 0
        self._used_seq = -1
        #: ``schedule: async``: the run time (ms, on its thread) of the newest network result used.
        self.network_ms: float | None = None

    def replace(self, segmenter: Segmenter | None, stylizer: Stylizer | None, settings: PipelineSettings) -> "Pipeline":
        """A pipeline with new parts that keeps the smoothed mask when the segmenter is unchanged. It has
        its own style worker: no result of this pipeline's stylizer reaches it (``close`` this one)."""
        state = self._mask_state if segmenter is self.segmenter else None
        return Pipeline(segmenter, stylizer, settings, self.device, state, self.scheduler)

    def close(self, wait: bool = True) -> None:
        """Stop the style network's thread (after the run under way; ``wait``: join it)."""
        if self.worker is not None:
            self.worker.stop(None if wait else 0.0)

    def network_rate(self) -> float | None:
        """Style network results per second on its own thread (``schedule: async``), else None."""
        return self.worker.rate() if self.worker is not None else None

    @property
    def stylizes(self) -> bool:
        """Whether the style network runs: a stylizer and a region whose effect is ``style`` at a strength
        above 0 (strength 0 is the camera picture)."""
        return self.stylizer is not None and any(
            style is not None and style.strength > 0 for style in _styles(self.settings))

    @property
    def torch_runs_networks(self) -> bool:
        """Whether torch runs one of the networks this pipeline uses on the CPU (the bfloat16 transformer,
        the seed methods, a TorchScript segmenter), rather than only the glue around onnxruntime's
        (the threads policy gives torch one thread then: ``compute.set_torch_runs_networks``)."""
        if self.device.type != "cpu":
            return True
        used = [self.stylizer] + ([self.segmenter] if self.uses_mask else [])
        return any(getattr(model, "runtime", "torch") not in ("onnxruntime",) for model in used if model is not None)

    def set_style_size(self, size: int) -> None:
        """Run the style network at short side ``size`` from the next frame (``style.size: auto``).
        The smoothed stylized image is dropped (it has the old size); the mask is kept."""
        if size != self.settings.style_size:
            self.settings = replace(self.settings, style_size=int(size))
            if self._painter is not None and self.worker is None:
                self._painter.reset()  # (the worker's painter sees the new size itself)

    def reset(self) -> None:
        """Forget temporal state (e.g. after the camera came back or another camera was opened), the
        stylizer's too (the Magenta content vector: ``reset`` where a stylizer has one)."""
        self._mask_state = None
        self._input_state = None
        if self.worker is not None:
            self.worker.retire()  # no painting of the frames before reaches the frames after
        elif self._painter is not None:
            self._painter.reset()
        self._split.reset()
        reset_stylizer = getattr(self.stylizer, "reset", None)
        if reset_stylizer is not None:
            reset_stylizer()

    def _clock(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def _shrunk(self, frame: np.ndarray, size: tuple[int, int], steady: bool = False) -> torch.Tensor:
        """``frame`` resized to ``size = (h, w)`` (area filter) as a ``1x3xhxw`` tensor on the device;
        ``steady``: denoised at that size (``SplitDenoiser.small``)."""
        small = shrink(frame, size)
        return to_tensor(self._split.small(small) if steady else small, self.device)

    @property
    def denoises_grey_only(self) -> bool:
        """Whether the still-scene denoiser steadies only the grey frame at full resolution and the network
        inputs at theirs (``SplitDenoiser``): on the CPU, with both regions painted (then the full-resolution
        frame reaches the output only as the guided filter's grey guide)."""
        s = self.settings
        return (self.device.type == "cpu" and s.input_smoothing > 0 and self.stylizes
                and s.person.effect == s.background.effect == "style")

    @torch.inference_mode()
    def analyse(self, frame: np.ndarray, times: dict[str, float], steady: bool = False) -> Analysis:
        """Segmentation, mask post-processing and stylization at low resolution. ``steady``: the network
        inputs are denoised at their size (``SplitDenoiser``; ``frame`` itself was not)."""
        s = self.settings
        h, w = frame.shape[:2]
        t0 = self._clock()
        if not self.uses_mask:
            self._mask_state = None  # a later mask starts fresh rather than from a stale one
            low = None
            t2 = t0
            times["segment"] = times["mask"] = 0.0
        else:
            seg_input = self._shrunk(frame, self.segmenter.preferred_size(h, w), steady)
            raw = self.segmenter.segment(seg_input).float()
            t1 = self._clock()
            times["segment"] = (t1 - t0) * 1000

            low = composite.ema(self._mask_state, raw, s.mask.smoothing)
            self._mask_state = low
            low = composite.soft_threshold(low, s.mask.threshold, s.mask.softness)
            low = composite.feather(low, s.mask.feather * low.shape[-1] / w)
            t2 = self._clock()
            times["mask"] = (t2 - t1) * 1000

        analysis = Analysis(low)
        if self.stylizes:
            small = self._shrunk(frame, short_side_size(h, w, s.style_size, multiple=2), steady)
            if low is None:  # the same style in both regions: any mask gives the same picture
                small_mask = torch.ones_like(small[:, :1])
            else:
                small_mask = resize(low, tuple(small.shape[-2:]), mode="bilinear").clamp_(0, 1).to(small.dtype)
            job = PaintJob(small, small_mask)
            painted = self._painter.paint(job) if self.worker is None else self._carried(job, times)
            analysis.styled, analysis.styled_guide, analysis.fits = painted.styled, painted.guide, painted.fits
            if low is None:  # the same style in both regions: composite it everywhere
                analysis.low_mask = torch.ones_like(small_mask, dtype=torch.float32)
        times["style"] = (self._clock() - t2) * 1000
        return analysis

    def _carried(self, job: PaintJob, times: dict[str, float]) -> Painted:
        """``schedule: async``: offer this frame to the style worker and take its newest result (the
        first frame, or the first after ``reset``, waits for its own). ``times["network"]``: the network's
        run time on its thread, once per result; ``times["network_age"]``: frames the painting trails."""
        self._frame_no += 1
        self.worker.submit(job, self._frame_no)
        finished = self.worker.latest() or self.worker.wait()
        if finished is None:
            raise RuntimeError("the style network's thread stopped before painting this frame")
        if finished.seq != self._used_seq:
            self._used_seq = finished.seq
            times["network"] = self.network_ms = finished.ms
        times["network_age"] = float(self._frame_no - finished.seq)
        return finished.value

    def process(self, frame: np.ndarray) -> FrameResult:
        """``frame``: ``HxWx3 uint8 RGB`` at the output size."""
        times: dict[str, float] = {}
        t0 = time.perf_counter()
        split, grey = self.denoises_grey_only, None
        if split:
            grey = self._split.grey(frame)
        elif self.settings.input_smoothing > 0:
            frame = self._input_state = composite_cv.still_denoise(frame, self._input_state, self.settings.input_smoothing)
        times["denoise"] = (time.perf_counter() - t0) * 1000
        analysis = self.analyse(frame, times, steady=split)
        analysis.grey = grey
        t0 = self._clock()
        if self.device.type == "cpu":
            image, mask = self._compose_cpu(frame, analysis)
        else:
            image, mask = self._compose_torch(frame, analysis)
        times["composite"] = (self._clock() - t0) * 1000
        return FrameResult(image, mask, times)

    def _compose_unmasked(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both regions get the same picture (``mask_needed`` is False): that picture, and a zero mask."""
        shape = frame.shape[:2]
        if shape not in self._no_mask:
            self._no_mask = {shape: np.zeros(shape, np.float32)}
        plan = self.settings.person
        if plan.effect == "color":
            return self._solid_color(plan.color, frame.shape), self._no_mask[shape]
        if plan.effect == "image" and plan.image is not None:
            return plan.image, self._no_mask[shape]
        return frame, self._no_mask[shape]

    # ------------------------------------------------------------------ CPU: OpenCV on uint8
    def _solid_color(self, color: tuple[int, int, int], shape: tuple[int, ...]) -> np.ndarray:
        key = (color, shape)
        if key not in self._solid:
            self._solid = {key: np.full(shape, color, dtype=np.uint8)}
        return self._solid[key]

    def _compose_cpu(self, frame: np.ndarray, a: Analysis) -> tuple[np.ndarray, MaskSource]:
        if a.low_mask is None:
            return self._compose_unmasked(frame)
        size = frame.shape[:2]
        if a.styled is not None and self.settings.person.effect == self.settings.background.effect == "style":
            # both regions painted: upsampling and blend fused into one pass (``guided_blend``), which
            # needs no full-resolution mask
            low_mask = a.low_mask
            return (composite_cv.guided_blend(a.styled, a.styled_guide, low_mask, frame, self._buffers, a.grey, fits=a.fits),
                    lambda: composite_cv.upsample_mask(low_mask, size))
        mask = composite_cv.upsample_mask(a.low_mask, size)
        styled: list[np.ndarray] = []
        if a.styled is not None:
            styled = composite_cv.guided_upsample_each(a.styled, a.styled_guide, frame)

        def region(plan: RegionPlan, low_weight: torch.Tensor, picture: int) -> np.ndarray:
            if plan.effect == "style" and styled:
                return styled[picture]
            if plan.effect == "blur":
                return composite_cv.blur_background(frame, low_weight, plan.blur)
            if plan.effect == "color":
                return self._solid_color(plan.color, frame.shape)
            if plan.effect == "image" and plan.image is not None:
                return plan.image
            return frame

        person = region(self.settings.person, a.low_mask, 0)
        background = region(self.settings.background, 1 - a.low_mask, -1)
        return composite_cv.blend(person, background, mask), mask

    # ------------------------------------------------------------------ GPU: torch at full resolution
    def _device_asset(self, key: tuple, make: Callable[[], torch.Tensor]) -> torch.Tensor:
        """A region's colour or image as a device tensor, uploaded once per pipeline (per config), not per frame."""
        if key not in self._assets:
            self._assets[key] = make()
        return self._assets[key]

    @torch.inference_mode()
    def _compose_torch(self, frame: np.ndarray, a: Analysis) -> tuple[np.ndarray, np.ndarray]:
        if a.low_mask is None:
            return self._compose_unmasked(frame)
        content = to_tensor(frame, self.device)
        size = tuple(content.shape[-2:])
        mask = resize(a.low_mask, size, mode="bilinear").clamp_(0, 1)
        styled = None
        if a.styled is not None:
            styled = composite.guided_upsample(a.styled.float(), a.styled_guide.float(), content)

        def region(plan: RegionPlan, weight: torch.Tensor, picture: int) -> torch.Tensor:
            if plan.effect == "style" and styled is not None:
                return styled[picture].unsqueeze(0)
            if plan.effect == "blur":
                return composite.blur_strong(content, plan.blur, weight)
            if plan.effect == "color":
                return self._device_asset(("color", plan.color), lambda: torch.tensor(
                    plan.color, device=self.device, dtype=torch.float32).view(1, 3, 1, 1).div(255)).expand_as(content)
            if plan.effect == "image" and plan.image is not None:
                return self._device_asset(("image", id(plan.image)), lambda: to_tensor(plan.image, self.device))
            return content

        out = composite.blend(region(self.settings.person, mask, 0), region(self.settings.background, 1 - mask, -1), mask)
        return to_numpy(out), mask[0, 0].float().cpu().numpy()
