"""The seed's per-frame algorithm, rebuilt from vcamstyle's own networks (``bench --seed-baseline``).

The seed (AlbertPi-Git/Semantic-Recognized-Realtime-Camera-Style-Transfer) prepared its two style
images once at pixel level (centre square crop, 512x512) and did everything else on every frame, in
float32, without caching. This module repeats that work with the *same network instances and
weights* the current pipeline uses, so that ``bench --seed-baseline`` compares algorithms, not weights:

- segmentation: the configured segmenter (the same object as the pipeline's) on the full frame, its
  probability resized to the output size and cut at a hard 0.5 (``> 0.5``; the seed's ``round``): no
  temporal smoothing, no feathering;
- ``adain``: per style, the style image *and* the content are encoded again (relu4_1), AdaIN with
  ``alpha = strength``, one decode each; the two full-frame results are cut with the hard mask,
  added and clamped;
- ``sanet``: per style, style and content encoded again (relu4_1, relu5_1), ``Transform`` over every
  position, one decode each (no strength, as the seed had none); hard-mask composite, clamped;
- ``avatarnet``: one forward per frame with both styles and both hard masks, as the seed did: the
  content encoded once, each style re-encoded, whitened and cut into normalised patch kernels every
  frame, the content whitened again per style (three eigendecompositions per style), patches matched
  over the whole frame, and the seed's halved masked mixing (interpolation weights 0.5/0.5 at relu4_1
  and after each decoder AdaIN). It uses the project's vectorised operations (``torch.linalg.eigh``
  with a tensor threshold, matmul + argmax matching, ``F.fold`` reassembly), because the seed's
  ``torch.symeig`` and its per-pixel Python loop no longer exist: this baseline is therefore *faster*
  than the real seed, and speed-ups measured against it are conservative.
- ``magenta`` has no seed counterpart; asking for it raises ``ConfigError``.

Networks run in float32 in the contiguous memory format. On CPU the pipeline's modules already are,
and are shared; on CUDA (where the pipeline runs float16, channels_last) the baseline uses float32
copies of the same modules. Frames: ``HxWx3 uint8 RGB`` in and out; masks ``1x1xHxW float32``.
The networks run at the output size by default (as the seed did), or at any ``network_size`` (the
stylized results are then resized to the output size with bicubic filtering, as the seed resized its
outputs back).
"""

from __future__ import annotations

import copy
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vcamstyle.errors import ConfigError
from vcamstyle.frames import resize, to_numpy, to_tensor
from vcamstyle.models.seed.adain import ADAIN_LEVEL, AdaINStylizer, adain, channel_mean_std
from vcamstyle.models.seed.avatarnet import (
    ADAIN_EPS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    AvatarNetStylizer,
    channel_std_mean,
    content_patch_rows,
    covariance_eigh,
    covariance_power,
    match_patches,
    overlap_counts,
    reassemble_patches,
    style_patch_kernels,
    whiten,
)
from vcamstyle.models.base import Segmenter, Stylizer
from vcamstyle.models.seed.sanet import SANET_LEVELS, SANetStylizer
from vcamstyle.models.stylize_common import ComputePolicy, pad_content

log = logging.getLogger(__name__)

#: Methods the seed had (one folder each in the seed repository).
SEED_METHODS: tuple[str, ...] = ("adain", "sanet", "avatarnet")
#: The seed's style images: centre square crop resized to this side (its code; its README says 400).
SEED_STYLE_SIDE = 512
#: The seed's mask cut: ``round(probability)``.
SEED_THRESHOLD = 0.5
#: Avatar-Net's masked call in the seed passed no weights, which upstream turns into 1/len(styles).
SEED_INTERPOLATION_WEIGHTS: tuple[float, float] = (0.5, 0.5)
#: Avatar-Net's patch size and stride in the seed's call.
SEED_PATCH_SIZE = 3
SEED_PATCH_STRIDE = 1
#: Avatar-Net input padding (upstream floors to a multiple of 8; the baseline pads and crops like the pipeline).
AVATAR_SIZE_MULTIPLE = 8
AVATAR_MIN_SIDE = 16


@dataclass
class SeedResult:
    """``image``: ``HxWx3 uint8 RGB``; ``mask``: the hard person mask ``HxW float32`` (only 0 and 1);
    ``stage_ms``: milliseconds per stage (convert, segment, style, composite)."""

    image: np.ndarray
    mask: np.ndarray
    stage_ms: dict[str, float]


# --------------------------------------------------------------------------------------------------
# Pixel-level preparation, masks, modules
# --------------------------------------------------------------------------------------------------


def seed_style_square(image: np.ndarray, side: int = SEED_STYLE_SIDE) -> np.ndarray:
    """``HxWx3 uint8 RGB`` -> the centred square of side ``min(H, W)`` resized (bilinear) to
    ``side x side``, ``uint8 RGB``: the seed's one-time style preparation."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 image, got {image.dtype} {image.shape}")
    if side < 1:
        raise ValueError(f"side must be positive, got {side}")
    height, width = image.shape[:2]
    square = min(height, width)
    top, left = (height - square) // 2, (width - square) // 2
    crop = np.ascontiguousarray(image[top:top + square, left:left + square])
    if square == side:
        return crop
    return cv2.resize(crop, (side, side), interpolation=cv2.INTER_LINEAR)


def hard_mask(probability: torch.Tensor, size: tuple[int, int], threshold: float = SEED_THRESHOLD) -> torch.Tensor:
    """Person probability ``1x1xhxw`` in [0,1] -> ``1x1xHxW float32`` with only 0 and 1: bilinear to
    ``size = (H, W)``, then 1 where it exceeds ``threshold``."""
    if probability.dim() != 4 or probability.shape[:2] != (1, 1):
        raise ValueError(f"expected a 1x1xhxw mask, got {tuple(probability.shape)}")
    full = probability.float()
    if tuple(full.shape[-2:]) != tuple(size):
        full = F.interpolate(full, size=size, mode="bilinear", align_corners=False)
    return (full > threshold).float()


def _same_device(a: torch.device, b: torch.device) -> bool:
    return a.type == b.type and (a.index or 0) == (b.index or 0)


def fp32_module(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` itself when all its parameters are float32 on ``device`` in the default memory format
    (the CPU case: shared with the pipeline), else an eval-mode float32, contiguous copy on ``device``
    (the CUDA case, where the pipeline runs float16 channels_last)."""
    parameters = list(module.parameters())
    if all(p.dtype == torch.float32 and _same_device(p.device, device) and p.is_contiguous() for p in parameters):
        return module
    clone = copy.deepcopy(module).to(device=device, dtype=torch.float32, memory_format=torch.contiguous_format)
    clone.eval()
    clone.requires_grad_(False)
    return clone


# --------------------------------------------------------------------------------------------------
# The frame loop shared by the three methods
# --------------------------------------------------------------------------------------------------


class SeedBaseline(ABC):
    """One seed frame: convert, segment with a hard mask, stylize both regions, composite.

    ``styles``: the person's and the background's prepared style images, ``1x3xSxS`` float32 RGB
    [0,1] on ``device`` (see ``seed_style_square``); ``strengths``: the seed's ``--ratio`` per region.
    ``network_size``: (h, w) the stylization networks run at; ``None`` = the output size (the seed).
    """

    name = "seed"

    def __init__(self, segmenter: Segmenter, device: torch.device, styles: Sequence[torch.Tensor],
                 strengths: Sequence[float], network_size: tuple[int, int] | None = None) -> None:
        if len(styles) != 2 or len(strengths) != 2:
            raise ValueError("the seed baseline takes exactly two styles (person, background) and two strengths")
        for style in styles:
            if style.dim() != 4 or style.shape[:2] != (1, 3):
                raise ValueError(f"expected 1x3xSxS style images, got {tuple(style.shape)}")
        self.segmenter = segmenter
        self.device = torch.device(device)
        self.styles = tuple(style.to(self.device, torch.float32) for style in styles)
        self.strengths = tuple(min(1.0, max(0.0, float(s))) for s in strengths)
        self.network_size = network_size
        self.policy = ComputePolicy(device=self.device, dtype=torch.float32, channels_last=False)

    def _clock(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    @torch.inference_mode()
    def process(self, frame: np.ndarray) -> SeedResult:
        """``frame``: ``HxWx3 uint8 RGB`` at the output size -> the seed's output for it."""
        times: dict[str, float] = {}
        t0 = self._clock()
        content = to_tensor(frame, self.device)
        size = (frame.shape[0], frame.shape[1])
        t1 = self._clock()
        mask = hard_mask(self.segmenter.segment(content), size)
        t2 = self._clock()
        small = content
        if self.network_size is not None and tuple(self.network_size) != size:
            small = resize(content, tuple(self.network_size), mode="bicubic").clamp_(0.0, 1.0)
        outputs = self.stylize(small, mask)
        t3 = self._clock()
        image = to_numpy(self.compose(outputs, mask))
        t4 = self._clock()
        times.update(convert=(t1 - t0) * 1000, segment=(t2 - t1) * 1000, style=(t3 - t2) * 1000,
                     composite=(t4 - t3) * 1000)
        return SeedResult(image, mask[0, 0].cpu().numpy(), times)

    @abstractmethod
    def stylize(self, content: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Content ``1x3xhxw`` RGB [0,1] at the network size, hard mask ``1x1xHxW`` at the output size ->
        the method's raw outputs (``1x3xhxw`` float32, unclamped)."""

    @abstractmethod
    def compose(self, outputs: tuple[torch.Tensor, ...], mask: torch.Tensor) -> torch.Tensor:
        """The raw outputs and the hard mask -> the output frame ``1x3xHxW`` float32 in [0,1]."""

    @staticmethod
    def _to_output(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if tuple(image.shape[-2:]) == tuple(size):
            return image
        return F.interpolate(image, size=size, mode="bicubic", align_corners=False)


class PixelCompositeBaseline(SeedBaseline):
    """AdaIN and SANet in the seed: one full-frame stylization per style, cut with the hard mask."""

    @abstractmethod
    def stylize_one(self, content: torch.Tensor, style: torch.Tensor, strength: float) -> torch.Tensor:
        """One full-frame stylization: ``1x3xhxw`` content, ``1x3xSxS`` style -> ``1x3xhxw`` float32."""

    def region_outputs(self, content: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The person's and the background's full-frame stylizations of ``content``, unclamped."""
        return (self.stylize_one(content, self.styles[0], self.strengths[0]),
                self.stylize_one(content, self.styles[1], self.strengths[1]))

    def stylize(self, content: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.region_outputs(content)

    def compose(self, outputs: tuple[torch.Tensor, ...], mask: torch.Tensor) -> torch.Tensor:
        size = tuple(mask.shape[-2:])
        person, background = (self._to_output(out, size) for out in outputs)
        return (person * mask + background * (1.0 - mask)).clamp_(0.0, 1.0)


# --------------------------------------------------------------------------------------------------
# AdaIN and SANet
# --------------------------------------------------------------------------------------------------


class SeedAdaIN(PixelCompositeBaseline):
    """The seed's ``style_transfer`` twice per frame: ``vgg(content)``, ``vgg(style)``, AdaIN with
    ``alpha = strength``, decode."""

    name = "adain"

    def __init__(self, stylizer: AdaINStylizer, segmenter: Segmenter, device: torch.device,
                 styles: Sequence[torch.Tensor], strengths: Sequence[float],
                 network_size: tuple[int, int] | None = None) -> None:
        super().__init__(segmenter, device, styles, strengths, network_size)
        self.encoder = fp32_module(stylizer.encoder, self.device)
        self.decoder = fp32_module(stylizer.decoder, self.device)
        self.size_multiple = stylizer.size_multiple
        self.min_input_size = stylizer.min_input_size

    def stylize_one(self, content: torch.Tensor, style: torch.Tensor, strength: float) -> torch.Tensor:
        padded, (height, width) = pad_content(content, self.size_multiple, self.policy, self.min_input_size)
        content_feat = self.encoder.encode(padded, (ADAIN_LEVEL,))[ADAIN_LEVEL]
        style_feat = self.encoder.encode(style, (ADAIN_LEVEL,))[ADAIN_LEVEL]
        mean, std = channel_mean_std(style_feat)
        feat = adain(content_feat, mean, std)
        feat = strength * feat + (1.0 - strength) * content_feat
        return self.decoder(feat)[..., :height, :width].float()


class SeedSANet(PixelCompositeBaseline):
    """The seed's SANet twice per frame: ``enc(content)``, ``enc(style)`` at relu4_1 and relu5_1,
    ``Transform`` over every position, decode. The seed had no strength: ``strengths`` are ignored."""

    name = "sanet"

    def __init__(self, stylizer: SANetStylizer, segmenter: Segmenter, device: torch.device,
                 styles: Sequence[torch.Tensor], strengths: Sequence[float],
                 network_size: tuple[int, int] | None = None) -> None:
        super().__init__(segmenter, device, styles, strengths, network_size)
        self.encoder = fp32_module(stylizer.encoder, self.device)
        self.transform = fp32_module(stylizer.transform, self.device)
        self.decoder = fp32_module(stylizer.decoder, self.device)
        self.size_multiple = stylizer.size_multiple
        self.min_input_size = stylizer.min_input_size

    def stylize_one(self, content: torch.Tensor, style: torch.Tensor, strength: float) -> torch.Tensor:
        padded, (height, width) = pad_content(content, self.size_multiple, self.policy, self.min_input_size)
        content_feats = self.encoder.encode(padded, SANET_LEVELS)
        style_feats = self.encoder.encode(style, SANET_LEVELS)
        merged = self.transform(content_feats["relu4_1"], style_feats["relu4_1"],
                                content_feats["relu5_1"], style_feats["relu5_1"])
        return self.decoder(merged)[..., :height, :width].float()


# --------------------------------------------------------------------------------------------------
# Avatar-Net
# --------------------------------------------------------------------------------------------------


def _adain_to(y: torch.Tensor, style_feature: torch.Tensor) -> torch.Tensor:
    """Upstream Avatar-Net's AdaIN: ``(y - mean_y) / (std_y + eps) * std_s + mean_s`` (unbiased stds),
    ``BxCxhxw`` float32."""
    y_std, y_mean = channel_std_mean(y)
    s_std, s_mean = channel_std_mean(style_feature)
    return (y.float() - y_mean) / (y_std + ADAIN_EPS) * s_std + s_mean


class SeedAvatarNet(SeedBaseline):
    """The seed's single Avatar-Net forward with both styles and both hard masks, style side redone
    every frame, masked mixing with ``interpolation_weights`` (the seed's 0.5/0.5 by default)."""

    name = "avatarnet"

    def __init__(self, stylizer: AvatarNetStylizer, segmenter: Segmenter, device: torch.device,
                 styles: Sequence[torch.Tensor], strengths: Sequence[float],
                 network_size: tuple[int, int] | None = None,
                 interpolation_weights: Sequence[float] = SEED_INTERPOLATION_WEIGHTS) -> None:
        super().__init__(segmenter, device, styles, strengths, network_size)
        if len(interpolation_weights) != 2:
            raise ValueError(f"need two interpolation weights, got {list(interpolation_weights)}")
        self.net = fp32_module(stylizer.net, self.device)
        self.interpolation_weights = tuple(float(w) for w in interpolation_weights)
        self.patch_size = SEED_PATCH_SIZE
        self.patch_stride = SEED_PATCH_STRIDE
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)
        # The seed ImageNet-normalised its style images once, at pixel level.
        self.normalised_styles = tuple(self._normalise(style) for style in self.styles)

    def _normalise(self, image: torch.Tensor) -> torch.Tensor:
        return (image.float() - self._mean) / self._std

    def decorate(self, content4: torch.Tensor, style4: torch.Tensor, strength: float) -> torch.Tensor:
        """Upstream's style decorator for one style, everything recomputed: whiten content and style,
        normalised style patches, match over the whole frame, reassemble, colour, blend by ``strength``.
        ``1x512xhxw`` float32 features in and out."""
        height, width = content4.shape[-2:]
        rows = content_patch_rows(whiten(content4), self.patch_size, torch.float32)
        kernels, norms = style_patch_kernels(whiten(style4), self.patch_size, self.patch_stride)
        winners = match_patches(rows, kernels)
        counts = overlap_counts(height, width, self.patch_size, self.device)
        swapped = reassemble_patches(winners, kernels, norms, (height, width), self.patch_size, counts)
        mean, evals, evecs = covariance_eigh(style4)
        colour_matrix = covariance_power(evals, evecs, 0.5)
        coloured = (colour_matrix @ swapped.flatten(2)[0]).view_as(content4) + mean.view(1, -1, 1, 1)
        return (1.0 - strength) * content4 + strength * coloured

    def _mix(self, features: Sequence[torch.Tensor], masks: Sequence[torch.Tensor]) -> torch.Tensor:
        """``sum_i weight_i * nearest(mask_i) * features_i`` (upstream's masked mixing)."""
        size = tuple(features[0].shape[-2:])
        total = torch.zeros_like(features[0])
        for weight, mask, feature in zip(self.interpolation_weights, masks, features):
            total += weight * F.interpolate(mask, size=size, mode="nearest") * feature
        return total

    def stylize(self, content: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        padded, (height, width) = pad_content(content, AVATAR_SIZE_MULTIPLE, self.policy, AVATAR_MIN_SIDE)
        person = F.interpolate(mask, size=(height, width), mode="nearest")
        person = F.pad(person, (0, padded.shape[-1] - width, 0, padded.shape[-2] - height), mode="replicate")
        masks = (person, 1.0 - person)
        content_features = self.net.encoder(self._normalise(padded))
        content4 = content_features[3].float()
        style_features = [self.net.encoder(style) for style in self.normalised_styles]
        decorated = [self.decorate(content4, features[3].float(), strength)
                     for features, strength in zip(style_features, self.strengths)]
        y = self._mix(decorated, masks)
        for stage, block in enumerate(self.net.decoder.decoder):
            y = block(y)
            if stage < 3:
                level = 2 - stage  # relu3_1, relu2_1, relu1_1
                y = self._mix([_adain_to(y, features[level]) for features in style_features], masks)
        out = y.float() * self._std + self._mean
        return (out[..., :height, :width],)

    def compose(self, outputs: tuple[torch.Tensor, ...], mask: torch.Tensor) -> torch.Tensor:
        return self._to_output(outputs[0], tuple(mask.shape[-2:])).clamp(0.0, 1.0)


_BASELINES: dict[str, type[SeedBaseline]] = {"adain": SeedAdaIN, "sanet": SeedSANet, "avatarnet": SeedAvatarNet}


# --------------------------------------------------------------------------------------------------
# Construction
# --------------------------------------------------------------------------------------------------


def check_seed_method(method: str) -> None:
    """``ConfigError`` unless the seed had ``method``."""
    if method == "magenta":
        raise ConfigError("magenta has no seed counterpart (the seed ran AdaIN, SANet and Avatar-Net)",
                          hint="compare with --method adain, sanet or avatarnet "
                               "(add --random-weights without the files)")
    if method not in SEED_METHODS:
        raise ConfigError(f"style method {method!r} has no seed baseline",
                          hint=f"choose one of: {', '.join(SEED_METHODS)}")


def build_seed_baseline(method: str, stylizer: Stylizer, segmenter: Segmenter, device: torch.device,
                        styles: Sequence[torch.Tensor], strengths: Sequence[float],
                        network_size: tuple[int, int] | None = None) -> SeedBaseline:
    """The seed baseline for ``method`` over the given (pipeline's) stylizer and segmenter instances."""
    check_seed_method(method)
    baseline_type = _BASELINES[method]
    expected = {"adain": AdaINStylizer, "sanet": SANetStylizer, "avatarnet": AvatarNetStylizer}[method]
    if not isinstance(stylizer, expected):
        raise TypeError(f"the {method} seed baseline needs a {expected.__name__}, got {type(stylizer).__name__}")
    return baseline_type(stylizer, segmenter, device, styles, strengths, network_size)  # type: ignore[call-arg]
