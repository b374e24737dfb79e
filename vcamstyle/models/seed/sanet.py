"""SANet style-attentional networks (Park & Lee 2019) with the GlebBrykin/SANET weights.

Files (bare state_dicts, loaded strictly): ``vgg_normalised.pth`` (the AdaIN encoder, used to relu5_1),
``decoder_iter_500000.pth`` (the AdaIN decoder architecture) and ``transformer_iter_500000.pth``
(``Transform``: 18 tensors ``sanet4_1.{f,g,h,out_conv}.{weight,bias}``, ``sanet5_1.*``,
``merge_conv.{weight,bias}``).

One SANet block, for content features ``c`` and style features ``s`` (``1x512xhxw``), with
``mvn`` = per-channel mean/std normalisation: queries ``f(mvn(c))``, keys ``g(mvn(s))``, values ``h(s)``;
attention = softmax over style positions of query.key (no scaling); output ``out_conv(attention @ values) + c``.
``Transform`` = ``merge_conv(pad(sanet4_1(c4, s4) + up2(sanet5_1(c5, s5))))``, then the decoder.

Per style image (once): keys and values at relu4_1 and relu5_1 (``SANetStyleCode``).

Strength (upstream has none; defined here): a region with strength ``s`` gets
``s*T(c, style) + (1-s)*T(c, c)``, where ``T(c, c)`` uses the content's own features as keys and values:
the path SANet's identity loss trains to reconstruct the content, so ``s = 0`` gives the decoder's
reconstruction of the frame (as AdaIN's ``alpha = 0`` does). ``T(c, c)`` costs one content
self-attention and is computed only when a region's strength is below 1. Because ``merge_conv`` is
affine, the strength blend is done on the pre-merge sums (exactly equal to blending the ``T`` outputs).
The two regions are mixed by the mask at the same place, so one merge conv and one decode serve both.

Per frame: the content is encoded once (relu4_1, relu5_1). With two regions, the mask is brought to the
relu4_1 size (area average, snapped to exactly 0/1 within 1e-3) and each region's attention runs only
for the query positions where its weight is non-zero (at relu5_1: where any of the 2x2 relu4_1
positions it is upsampled to is), which does not change the result.

Style blends: a blended code keeps every component style's keys/values and weight; each query attends
to each component separately (its own softmax) and the attention outputs are averaged with the weights.
As ``out_conv`` is affine and the residual is shared, this equals the weighted average of the per-style
SANet outputs (upstream AdaIN's interpolation of transformed features, applied to SANet); with weights
(1, 0) it is exactly the first style. Cost grows with the number of blended styles.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vcamstyle.models.seed.adain import normalised_features
from vcamstyle.models.base import RegionStyle
from vcamstyle.models.registry import BuildOptions, register_stylizer
from vcamstyle.models.stylize_common import (
    DEFAULT_STYLE_SHORT_SIDE,
    ComputePolicy,
    feature_mask,
    finish_output,
    load_bare_state_dict,
    mix_regions,
    normalise_weights,
    pad_content,
    prepare_style_image,
    region_strength,
    require_weight_files,
    snap_mask,
    style_input_size,
)
from vcamstyle.models.seed.vgg import VGGEncoder, build_decoder, build_encoder_layers

log = logging.getLogger(__name__)

SANET_WEIGHT_FILES = ("vgg_normalised.pth", "decoder_iter_500000.pth", "transformer_iter_500000.pth")
SANET_LEVELS = ("relu4_1", "relu5_1")
CHANNELS = 512


def _positions(feat: torch.Tensor) -> torch.Tensor:
    """``BxCxHxW`` -> ``Bx(H*W)xC`` float32 (one row per spatial position)."""
    return feat.float().flatten(2).transpose(1, 2)


@dataclass(frozen=True)
class KeysValues:
    """One style's attention inputs at one level: ``keys`` = g(mvn(s)) and ``values`` = h(s), each
    ``1xNxC`` float32 (N = style positions)."""

    keys: torch.Tensor
    values: torch.Tensor


class SANet(nn.Module):
    """One style-attention block; ``f``, ``g``, ``h``, ``out_conv`` are 1x1 convs ``channels -> channels``."""

    def __init__(self, channels: int = CHANNELS) -> None:
        super().__init__()
        self.f = nn.Conv2d(channels, channels, kernel_size=1)
        self.g = nn.Conv2d(channels, channels, kernel_size=1)
        self.h = nn.Conv2d(channels, channels, kernel_size=1)
        self.out_conv = nn.Conv2d(channels, channels, kernel_size=1)

    def keys_values(self, style: torch.Tensor) -> KeysValues:
        """Style features ``1xCxhxw`` (compute dtype) -> its keys and values (float32)."""
        keys = self.g(normalised_features(style).to(style.dtype))
        return KeysValues(keys=_positions(keys), values=_positions(self.h(style)))

    def queries(self, content: torch.Tensor) -> torch.Tensor:
        """Content features ``1xCxhxw`` -> queries ``1x(h*w)xC`` float32."""
        return _positions(self.f(normalised_features(content).to(content.dtype)))

    @staticmethod
    def attend(queries: torch.Tensor, style: KeysValues) -> torch.Tensor:
        """``softmax(queries @ keys^T) @ values`` (no 1/sqrt(C) scaling), float32, ``1xNcxC``."""
        return F.scaled_dot_product_attention(queries, style.keys, style.values, scale=1.0)

    def finish(self, content: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """Attention output ``1xNcxC`` -> ``out_conv(.) + content`` as ``1xCxhxw`` (content's dtype/format)."""
        batch, channels, height, width = content.shape
        grid = attended.transpose(1, 2).reshape(batch, channels, height, width).to(content.dtype)
        return self.out_conv(grid) + content

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.finish(content, self.attend(self.queries(content), self.keys_values(style)))


class Transform(nn.Module):
    """SANet at relu4_1 and relu5_1, merged: ``merge_conv(pad(sanet4_1(c4,s4) + up2(sanet5_1(c5,s5))))``."""

    def __init__(self, channels: int = CHANNELS) -> None:
        super().__init__()
        self.sanet4_1 = SANet(channels)
        self.sanet5_1 = SANet(channels)
        self.upsample5_1 = nn.Upsample(scale_factor=2, mode="nearest")
        self.merge_conv_pad = nn.ReflectionPad2d(1)
        self.merge_conv = nn.Conv2d(channels, channels, kernel_size=3)

    def merge(self, combined: torch.Tensor) -> torch.Tensor:
        """The pre-merge sum ``1xCxhxw`` -> the decoder's input."""
        return self.merge_conv(self.merge_conv_pad(combined))

    def forward(self, content4: torch.Tensor, style4: torch.Tensor,
                content5: torch.Tensor, style5: torch.Tensor) -> torch.Tensor:
        return self.merge(self.sanet4_1(content4, style4) + self.upsample5_1(self.sanet5_1(content5, style5)))


@dataclass(frozen=True)
class SANetStylePart:
    """One style image's keys/values at relu4_1 (``level4``) and relu5_1 (``level5``) and its blend weight."""

    weight: float
    level4: KeysValues
    level5: KeysValues


@dataclass(frozen=True)
class SANetStyleCode:
    """A style for SANet: one part per blended style image (weights sum to 1)."""

    parts: tuple[SANetStylePart, ...]


class SANetStylizer:
    """SANet with per-region styles and strengths, one content encode and one decode per frame."""

    name = "sanet"
    size_multiple = 16
    #: Smallest network input side: the reflection pads need relu5_1 to be at least 2x2.
    min_input_size = 32

    def __init__(self, encoder: VGGEncoder, transform: Transform, decoder: nn.Sequential, policy: ComputePolicy,
                 style_short_side: int | None = DEFAULT_STYLE_SHORT_SIDE) -> None:
        self.encoder = encoder
        self.transform = transform
        self.decoder = decoder
        self.policy = policy
        #: Style images are resized so their short side is this (512 like the seed and training); None keeps it.
        self.style_short_side = style_short_side

    def style_size(self, height: int, width: int) -> tuple[int, int]:
        """The (H, W) a style image of ``height x width`` is resized to (see ``style_shape`` for the bounds)."""
        return style_input_size(height, width, self.style_short_side, self.min_input_size, self.name)

    def encode_style(self, image: torch.Tensor) -> SANetStyleCode:
        """``1x3xHxW`` RGB [0,1] style image -> keys and values at relu4_1 and relu5_1."""
        with torch.inference_mode():
            style = prepare_style_image(image, self.style_short_side, self.policy, self.min_input_size, self.name)
            part = self._keys_values(self.encoder.encode(style, SANET_LEVELS), weight=1.0)
        return SANetStyleCode(parts=(part,))

    def blend_codes(self, codes: Sequence[SANetStyleCode], weights: Sequence[float]) -> SANetStyleCode:
        """A code whose parts are all the codes' parts, each weighted by its code's normalised weight
        (parts with weight 0 are dropped)."""
        _check_codes(codes)
        normalised = normalise_weights(weights, len(codes))
        parts = tuple(
            SANetStylePart(weight=weight * part.weight, level4=part.level4, level5=part.level5)
            for code, weight in zip(codes, normalised)
            for part in code.parts
            if weight * part.weight > 0
        )
        return SANetStyleCode(parts=parts)

    def stylize(self, content: torch.Tensor, mask: torch.Tensor,
                person: RegionStyle | None, background: RegionStyle | None) -> torch.Tensor:
        """``1x3xHxW`` RGB [0,1] content and ``1x1xH'xW'`` mask -> ``1x3xHxW`` float32 RGB [0,1].

        Both regions ``None``: the content itself. One ``None``: the other's style everywhere.
        """
        if person is None and background is None:
            return content
        _check_codes([r.code for r in (person, background) if r is not None])
        strengths = (region_strength(person), region_strength(background))
        with torch.inference_mode():
            padded, size = pad_content(content, self.size_multiple, self.policy, self.min_input_size)
            feats = self.encoder.encode(padded, SANET_LEVELS)
            content4, content5 = feats["relu4_1"], feats["relu5_1"]
            queries4 = self.transform.sanet4_1.queries(content4)
            queries5 = self.transform.sanet5_1.queries(content5)

            person_rows = background_rows = base_rows = None
            mixing_mask = None
            if person is not None and background is not None:
                mixing_mask = snap_mask(feature_mask(mask, size, tuple(padded.shape[-2:]),
                                                     tuple(content4.shape[-2:]), like=content4))
                person_rows = _rows_in_use(mixing_mask > 0)
                background_rows = _rows_in_use(mixing_mask < 1)
                base_rows = _rows_in_use(((mixing_mask > 0) & (strengths[0] < 1.0))
                                         | ((mixing_mask < 1) & (strengths[1] < 1.0)))

            def pre_merge(parts: Sequence[SANetStylePart], rows: _Rows | None) -> torch.Tensor:
                return self._pre_merge(content4, content5, queries4, queries5, parts, rows)

            person_feat = pre_merge(person.code.parts, person_rows) if person is not None else None
            background_feat = pre_merge(background.code.parts, background_rows) if background is not None else None
            needs_base = any(region is not None and strength < 1.0
                             for region, strength in zip((person, background), strengths))
            base = pre_merge((self._keys_values(feats, weight=1.0),), base_rows) if needs_base else None
            mixed = mix_regions(base, person_feat, background_feat, mixing_mask, *strengths)
            decoded = self.decoder(self.transform.merge(mixed))
            return finish_output(decoded, size)

    def _keys_values(self, feats: dict[str, torch.Tensor], weight: float) -> SANetStylePart:
        return SANetStylePart(
            weight=weight,
            level4=self.transform.sanet4_1.keys_values(feats["relu4_1"]),
            level5=self.transform.sanet5_1.keys_values(feats["relu5_1"]),
        )

    def _pre_merge(self, content4: torch.Tensor, content5: torch.Tensor, queries4: torch.Tensor,
                   queries5: torch.Tensor, parts: Sequence[SANetStylePart], rows: _Rows | None) -> torch.Tensor:
        """``sanet4_1(c4, style) + up2(sanet5_1(c5, style))`` for a (blended) style, ``1xCxh4xw4``.

        With ``rows``, attention runs only for those query positions; the others hold the residual
        path only (their mixing weight is zero)."""
        attended4 = _blend_attention(queries4, [(p.weight, p.level4) for p in parts],
                                      None if rows is None else rows.level4)
        attended5 = _blend_attention(queries5, [(p.weight, p.level5) for p in parts],
                                      None if rows is None else rows.level5)
        out4 = self.transform.sanet4_1.finish(content4, attended4)
        out5 = self.transform.sanet5_1.finish(content5, attended5)
        return out4 + self.transform.upsample5_1(out5)


@dataclass(frozen=True)
class _Rows:
    """Query positions (flat indices) a region uses at relu4_1 and at relu5_1."""

    level4: torch.Tensor
    level5: torch.Tensor


def _rows_in_use(active4: torch.Tensor) -> _Rows | None:
    """``1x1xh4xw4`` bool map of relu4_1 positions with a non-zero weight -> the query rows to compute at
    both levels (a relu5_1 position is needed when any of the 2x2 relu4_1 positions it is upsampled to
    is); ``None`` when every position is needed."""
    if bool(active4.all()):
        return None
    active5 = F.max_pool2d(active4.float(), kernel_size=2).bool()
    return _Rows(level4=active4.flatten().nonzero().squeeze(1), level5=active5.flatten().nonzero().squeeze(1))


def _blend_attention(queries: torch.Tensor, parts: Sequence[tuple[float, KeysValues]],
                     rows: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted sum of each part's attention output (each with its own softmax), float32 ``1xNcxC``.

    With ``rows`` (flat query indices), only those rows are computed; the others are zero."""
    if not parts:
        raise ValueError("a SANet style code needs at least one part")
    selected = queries if rows is None else queries[:, rows]
    total = torch.zeros(selected.shape[0], selected.shape[1], parts[0][1].values.shape[-1],
                        dtype=torch.float32, device=queries.device)
    if selected.shape[1] > 0:
        for weight, keys_values in parts:
            total += SANet.attend(selected, keys_values) * weight
    if rows is None:
        return total
    full = torch.zeros(queries.shape[0], queries.shape[1], total.shape[-1], dtype=total.dtype, device=total.device)
    full[:, rows] = total
    return full


def _check_codes(codes: Sequence[object]) -> None:
    wrong = [type(code).__name__ for code in codes if not isinstance(code, SANetStyleCode)]
    if wrong:
        raise TypeError(f"sanet needs SANetStyleCode style codes (from SANetStylizer.encode_style), got {wrong}")


def build_sanet_networks(options: BuildOptions) -> tuple[VGGEncoder, Transform, nn.Sequential]:
    """The encoder (to relu5_1), transform and decoder, loaded strictly from the published files unless
    ``options.random_weights``; on CPU, not yet moved to the device."""
    full_encoder = build_encoder_layers()
    transform = Transform()
    decoder = build_decoder()
    if options.random_weights:
        log.info("sanet: random weights (no files read)")
    else:
        vgg_path, decoder_path, transform_path = require_weight_files(options.weights_dir, SANET_WEIGHT_FILES, "sanet")
        load_bare_state_dict(full_encoder, vgg_path)
        load_bare_state_dict(decoder, decoder_path)
        load_bare_state_dict(transform, transform_path)
    return VGGEncoder(full_encoder, SANET_LEVELS), transform, decoder


@register_stylizer(
    "sanet",
    "SANet style-attentional networks (Park & Lee 2019), GlebBrykin/SANET weights",
    weight_files=SANET_WEIGHT_FILES,
)
def create_sanet(options: BuildOptions) -> SANetStylizer:
    """Factory: a ``SANetStylizer`` on ``options.device`` (fp16 weights on CUDA with ``options.half``)."""
    policy = ComputePolicy.from_options(options)
    encoder, transform, decoder = build_sanet_networks(options)
    for module in (encoder, transform, decoder):
        policy.prepare_module(module)
    return SANetStylizer(encoder, transform, decoder, policy)
