"""AdaIN arbitrary style transfer (Huang & Belongie 2017) with the published pytorch-AdaIN weights.

Files (bare state_dicts, loaded strictly): ``vgg_normalised.pth`` (the 53-module normalised VGG-19,
used up to relu4_1) and ``decoder.pth``. See ``vcamstyle.models.seed.vgg`` for the layouts.

Per style image (once): relu4_1 channel mean and std -> ``AdaINStyleCode``.
Per frame: the content is encoded once to relu4_1; each region's AdaIN features (with its strength
``alpha``: ``alpha*AdaIN + (1-alpha)*content``, upstream's control) are mixed by the mask at the feature
size, and one decode paints both regions.

Style blends: the weighted average of the codes' means and stds. Because AdaIN is affine in the style
statistics (``std_s * normalised_content + mean_s``), this equals upstream's style interpolation
(the weighted sum of the AdaIN'd features) exactly, at no extra per-frame cost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

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
    style_input_size,
    weighted_sum,
)
from vcamstyle.models.seed.vgg import VGGEncoder, build_decoder, build_encoder_layers

log = logging.getLogger(__name__)

ADAIN_WEIGHT_FILES = ("vgg_normalised.pth", "decoder.pth")
ADAIN_LEVEL = "relu4_1"
STD_EPS = 1e-5


def channel_mean_std(feat: torch.Tensor, eps: float = STD_EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std over H x W of ``BxCxHxW`` features, both ``BxCx1x1`` float32.

    std = sqrt(unbiased variance + eps), as upstream; a 1x1 map (no unbiased variance) uses variance 0.
    """
    values = feat.float()
    positions = values.shape[-2] * values.shape[-1]
    var, mean = torch.var_mean(values, dim=(-2, -1), keepdim=True, correction=1 if positions > 1 else 0)
    return mean, torch.sqrt(var + eps)


def normalised_features(feat: torch.Tensor) -> torch.Tensor:
    """``BxCxHxW`` features with each channel shifted/scaled to mean 0 and std 1 (float32)."""
    mean, std = channel_mean_std(feat)
    return (feat.float() - mean) / std


def adain(content_feat: torch.Tensor, style_mean: torch.Tensor, style_std: torch.Tensor) -> torch.Tensor:
    """Adaptive instance normalisation: ``content_feat`` (``BxCxHxW``) re-normalised to the style's
    per-channel ``style_mean``/``style_std`` (``BxCx1x1``). Computed in float32; returns the content's dtype."""
    out = normalised_features(content_feat) * style_std.float() + style_mean.float()
    return out.to(content_feat.dtype)


@dataclass(frozen=True)
class AdaINStyleCode:
    """A style for AdaIN: relu4_1 per-channel ``mean`` and ``std``, each ``1x512x1x1`` float32 on the device."""

    mean: torch.Tensor
    std: torch.Tensor


class AdaINStylizer:
    """AdaIN with per-region styles and strengths, one content encode and one decode per frame."""

    name = "adain"
    size_multiple = 8
    #: Smallest network input side: the reflection pads need relu4_1 to be at least 2x2.
    min_input_size = 16

    def __init__(self, encoder: VGGEncoder, decoder: nn.Sequential, policy: ComputePolicy,
                 style_short_side: int | None = DEFAULT_STYLE_SHORT_SIDE) -> None:
        self.encoder = encoder
        self.decoder = decoder
        self.policy = policy
        #: Style images are resized so their short side is this (upstream test.py: 512); None keeps the size.
        self.style_short_side = style_short_side

    def encode_content(self, content: torch.Tensor) -> torch.Tensor:
        """Padded ``1x3xHxW`` RGB [0,1] on the device -> relu4_1 ``1x512x(H/8)x(W/8)`` (compute dtype)."""
        return self.encoder.encode(content, (ADAIN_LEVEL,))[ADAIN_LEVEL]

    def style_size(self, height: int, width: int) -> tuple[int, int]:
        """The (H, W) a style image of ``height x width`` is resized to (see ``style_shape`` for the bounds)."""
        return style_input_size(height, width, self.style_short_side, self.min_input_size, self.name)

    def encode_style(self, image: torch.Tensor) -> AdaINStyleCode:
        """``1x3xHxW`` RGB [0,1] style image -> its relu4_1 statistics (short side resized to 512 first)."""
        with torch.inference_mode():
            style = prepare_style_image(image, self.style_short_side, self.policy, self.min_input_size, self.name)
            mean, std = channel_mean_std(self.encode_content(style))
        return AdaINStyleCode(mean=mean, std=std)

    def blend_codes(self, codes: Sequence[AdaINStyleCode], weights: Sequence[float]) -> AdaINStyleCode:
        """Weighted average of the codes' means and stds (weights normalised to sum 1)."""
        _check_codes(codes)
        normalised = normalise_weights(weights, len(codes))
        return AdaINStyleCode(
            mean=weighted_sum([code.mean for code in codes], normalised),
            std=weighted_sum([code.std for code in codes], normalised),
        )

    def stylize(self, content: torch.Tensor, mask: torch.Tensor,
                person: RegionStyle | None, background: RegionStyle | None) -> torch.Tensor:
        """``1x3xHxW`` RGB [0,1] content and ``1x1xH'xW'`` mask -> ``1x3xHxW`` float32 RGB [0,1].

        Both regions ``None``: the content itself. One ``None``: the other's style everywhere.
        """
        if person is None and background is None:
            return content
        _check_codes([r.code for r in (person, background) if r is not None])
        with torch.inference_mode():
            padded, size = pad_content(content, self.size_multiple, self.policy, self.min_input_size)
            content_feat = self.encode_content(padded)
            normalised = normalised_features(content_feat)

            def styled(region: RegionStyle | None) -> torch.Tensor | None:
                if region is None:
                    return None
                return normalised * region.code.std + region.code.mean

            person_feat, background_feat = styled(person), styled(background)
            mixing_mask = None
            if person_feat is not None and background_feat is not None:
                mixing_mask = feature_mask(mask, size, tuple(padded.shape[-2:]), tuple(content_feat.shape[-2:]),
                                           like=person_feat)
            mixed = mix_regions(content_feat.float(), person_feat, background_feat, mixing_mask,
                                region_strength(person), region_strength(background))
            decoded = self.decoder(mixed.to(self.policy.dtype))
            return finish_output(decoded, size)


def _check_codes(codes: Sequence[object]) -> None:
    wrong = [type(code).__name__ for code in codes if not isinstance(code, AdaINStyleCode)]
    if wrong:
        raise TypeError(f"adain needs AdaINStyleCode style codes (from AdaINStylizer.encode_style), got {wrong}")


def build_adain_networks(options: BuildOptions) -> tuple[VGGEncoder, nn.Sequential]:
    """The encoder (to relu4_1) and decoder, loaded strictly from the published files unless
    ``options.random_weights``; on CPU, not yet moved to the device."""
    full_encoder = build_encoder_layers()
    decoder = build_decoder()
    if options.random_weights:
        log.info("adain: random weights (no files read)")
    else:
        vgg_path, decoder_path = require_weight_files(options.weights_dir, ADAIN_WEIGHT_FILES, "adain")
        load_bare_state_dict(full_encoder, vgg_path)
        load_bare_state_dict(decoder, decoder_path)
    return VGGEncoder(full_encoder, (ADAIN_LEVEL,)), decoder


@register_stylizer(
    "adain",
    "AdaIN arbitrary style transfer (Huang & Belongie 2017), pytorch-AdaIN weights",
    weight_files=ADAIN_WEIGHT_FILES,
)
def create_adain(options: BuildOptions) -> AdaINStylizer:
    """Factory: an ``AdaINStylizer`` on ``options.device`` (fp16 weights on CUDA with ``options.half``)."""
    policy = ComputePolicy.from_options(options)
    encoder, decoder = build_adain_networks(options)
    policy.prepare_module(encoder)
    policy.prepare_module(decoder)
    return AdaINStylizer(encoder, decoder, policy)
