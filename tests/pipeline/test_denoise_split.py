"""vcamstyle.pipeline.denoise_split: the still-scene denoiser on the grey frame and the network inputs,
used when both regions are painted on the CPU."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from vcamstyle.frames import shrink
from vcamstyle.models.base import RegionStyle
from vcamstyle.pipeline import composite_cv
from vcamstyle.pipeline.core import MaskSettings, Pipeline, PipelineSettings, RegionPlan
from vcamstyle.pipeline.denoise_split import SplitDenoiser

H, W = 72, 128


def _noisy_frames(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    clean = np.stack([60 + xx, 90 + yy, 150 - xx // 2], axis=-1).astype(np.float32)
    return [np.clip(clean + rng.normal(0, 3, clean.shape), 0, 255).astype(np.uint8) for _ in range(count)]


def _change(pictures: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(b.astype(np.float32) - a.astype(np.float32)).mean()
                          for a, b in zip(pictures[10:], pictures[11:])]))


def test_the_grey_frame_is_steadied_as_the_rgb_denoiser_steadies_it() -> None:
    """Where the scene is still, the grey frame changes from frame to frame about as little as the grey of
    the RGB-denoised frame does, and much less than the camera's."""
    frames = _noisy_frames(30)
    split, state, greys, rgb_greys = SplitDenoiser(0.7), None, [], []
    for frame in frames:
        greys.append(split.grey(frame))
        state = composite_cv.still_denoise(frame, state, 0.7)
        rgb_greys.append(cv2.cvtColor(state, cv2.COLOR_RGB2GRAY))
    raw = _change([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    assert _change(greys) < 0.6 * raw
    assert abs(_change(greys) - _change(rgb_greys)) < 0.25 * raw


def test_the_network_inputs_are_steadied_at_their_size_and_motion_is_followed_at_once() -> None:
    frames = _noisy_frames(30)
    split, smalls, raw = SplitDenoiser(0.7), [], []
    for frame in frames:
        split.grey(frame)
        small = shrink(frame, (18, 32))
        raw.append(small)
        smalls.append(split.small(small))
    assert _change(smalls) < 0.6 * _change(raw)
    moved = frames[-1].copy()
    moved[:, : W // 2] = 250  # a large change: taken at once, no ghost of the old picture
    split.grey(moved)
    out = split.small(shrink(moved, (18, 32)))
    assert np.abs(out[:, :12].astype(int) - 250).max() <= 1


def test_the_first_frame_and_a_new_size_pass_unchanged() -> None:
    frame = _noisy_frames(1)[0]
    split = SplitDenoiser(0.7)
    grey = split.grey(frame)
    assert np.array_equal(grey, cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
    small = shrink(frame, (18, 32))
    assert split.small(small) is small  # no history yet
    bigger = cv2.resize(frame, (W * 2, H * 2))
    assert np.array_equal(split.grey(bigger), cv2.cvtColor(bigger, cv2.COLOR_RGB2GRAY))  # a new camera size


class _Segmenter:
    name = "left-half"

    def preferred_size(self, h: int, w: int) -> tuple[int, int]:
        return 36, 64

    def segment(self, image: torch.Tensor) -> torch.Tensor:
        mask = torch.zeros(1, 1, *image.shape[-2:])
        mask[..., : image.shape[-1] // 2] = 1
        return mask


class _Stylizer:
    def stylize(self, content, mask, person, background):
        return torch.cat([(content * 0.5 + 0.5 * person.code).clamp(0, 1), (1 - content * 0.5).clamp(0, 1)])


def _pipeline(person: str, smoothing: float = 0.7) -> Pipeline:
    style = RegionStyle(torch.tensor([0.9, 0.2, 0.6]).view(1, 3, 1, 1))
    settings = PipelineSettings(output_size=(H, W), mask=MaskSettings(smoothing=0.0), style_size=24,
                                input_smoothing=smoothing, person=RegionPlan(person, style=style),
                                background=RegionPlan("style", style=style))
    return Pipeline(_Segmenter(), _Stylizer(), settings, torch.device("cpu"))


def test_the_pipeline_denoises_only_the_grey_frame_when_both_regions_are_painted() -> None:
    assert _pipeline("style").denoises_grey_only
    assert not _pipeline("original").denoises_grey_only  # the camera's colours show at full resolution
    assert not _pipeline("style", smoothing=0.0).denoises_grey_only
    steady, plain = _pipeline("style"), _pipeline("style", smoothing=0.0)
    frames = _noisy_frames(30, seed=3)
    outputs = [steady.process(f).image for f in frames]
    unsmoothed = [plain.process(f).image for f in frames]
    assert _change(outputs) < 0.7 * _change(unsmoothed)  # the painted output shimmers less
    steady.reset()  # the history goes with a reset: the next frame is taken as it is
    first = steady.process(frames[0]).image
    assert np.array_equal(first, _pipeline("style").process(frames[0]).image)
