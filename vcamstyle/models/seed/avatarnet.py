"""Avatar-Net (Sheng et al. 2018), loading tyui592/Avatar-Net_Pytorch's ``check_point.pth`` strictly.

Network (keys as published, 36 tensors): a VGG-19 encoder to relu4_1 in torchvision's ``features``
layout (zero padding, floor-mode max-pool), and a mirrored decoder (reflection padding, nearest x2
upsampling) with AdaIN after its first three blocks, towards the style's relu3_1, relu2_1, relu1_1
statistics. The style decorator works on relu4_1: ZCA-whiten content and style, match every content
3x3 patch to its most correlated normalised style patch, reassemble the winners (overlaps averaged),
colour with the style covariance and mean.

What differs from upstream (and from the seed that copied it):
- Everything on the style side is computed once per style image (``encode_style``): the decoder
  statistics, the whitened and normalised patch kernels, the colouring matrix and mean.
- The content is encoded and whitened once per frame, shared by both regions.
- ``torch.linalg.eigh`` with a tensor mask for small eigenvalues (relative 1e-5, absolute 1e-8 of the
  pixel-normalised covariance) instead of the removed ``torch.symeig`` and a Python scan.
- Matching is a matmul + argmax and reassembly gathers the winning patches and sums them with
  ``F.fold`` (the same sum as upstream's one-hot map through ``conv_transpose2d``), no per-pixel loop.
- Regions are mixed by the soft mask with full weights ``m`` and ``1 - m`` (the seed halved both).
  Matching is skipped where a region's weight is at most ``REGION_EPS`` (and not within a patch of
  such a place), so two regions cost about one full-frame match.
- ``strength`` s: at relu4_1 the decorated feature is ``(1-s)*content + s*decorated`` as upstream.
  Upstream keeps the decoder AdaIN stages at full strength, so s = 0 is not the content. Here, by
  default (``strength_in_decoder=True``), each decoder AdaIN targets the statistics interpolated
  between the content's own encoder statistics and the style's, by s: s = 1 is upstream exactly and
  s = 0 is the decoder's training (reconstruction) path. A region without a style behaves as s = 0.
- Output is clamped to [0, 1] (the seed did not clamp).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from vcamstyle.errors import StyleImageError
from vcamstyle.frames import resize
from vcamstyle.models.seed.avatarnet_decorator import (
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
from vcamstyle.models.seed.avatarnet_network import AvatarNet, _init_random
from vcamstyle.models.base import RegionStyle
from vcamstyle.models.weights.checkpoint import (
    extract_state_dict,
    load_checkpoint,
    load_strict,
    require_file,
)
from vcamstyle.models.registry import BuildOptions, register_stylizer
from vcamstyle.models.style_shape import check_style_shape
from vcamstyle.models.stylize_common import normalise_weights

log = logging.getLogger(__name__)

WEIGHTS_FILE = "check_point.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SIZE_MULTIPLE = 8
#: Smallest padded side: keeps at least 2x2 positions at relu4_1 (std needs two samples).
MIN_SIDE = 16
#: AdaIN epsilon, added to the content std as upstream.
ADAIN_EPS = 1e-5
#: A region whose mask weight is at most this is not matched there (its contribution is negligible).
REGION_EPS = 1e-3






# --------------------------------------------------------------------------------------------
# Style code and statistics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AvatarNetStyle:
    """One style, encoded once.

    ``kernels``: ``P x 512*k*k`` whitened relu4_1 style patches, unit norm (compute dtype);
    ``norms``: ``P`` float32 patch norms (kernel * norm = the unnormalised patch);
    ``colour_matrix``: ``512x512`` float32 square root of the style covariance;
    ``colour_mean``: ``1x512x1x1`` float32 style mean;
    ``stds``/``means``: float32 ``1xCx1x1`` statistics of relu3_1, relu2_1, relu1_1 (decoder order).
    """

    kernels: torch.Tensor
    norms: torch.Tensor
    colour_matrix: torch.Tensor
    colour_mean: torch.Tensor
    stds: tuple[torch.Tensor, ...]
    means: tuple[torch.Tensor, ...]

    @property
    def num_patches(self) -> int:
        return int(self.kernels.shape[0])


def style_resize_size(height: int, width: int, short_side: int, long_cap: int) -> tuple[int, int]:
    """(H, W) with the short side at ``short_side`` (up or down, like upstream's ``Resize(512)``), scaled
    further down if the long side would exceed ``long_cap`` (bounds the patch count)."""
    scale = short_side / min(height, width)
    scale = min(scale, long_cap / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def _pad_to(image: torch.Tensor, height: int, width: int, mode: str) -> torch.Tensor:
    """Pad ``BxCxhxw`` on the bottom/right to ``height x width`` (reflect falls back to replicate)."""
    ph, pw = height - image.shape[-2], width - image.shape[-1]
    if ph == 0 and pw == 0:
        return image
    if mode == "reflect" and (ph >= image.shape[-2] or pw >= image.shape[-1]):
        mode = "replicate"
    return F.pad(image, (0, pw, 0, ph), mode=mode)


def _padded_side(side: int) -> int:
    return max(MIN_SIDE, -(-side // SIZE_MULTIPLE) * SIZE_MULTIPLE)


@dataclass(frozen=True)
class _Region:
    """A region as the frame loop sees it: its style (None = unstyled) and clamped strength."""

    style: AvatarNetStyle | None
    strength: float

    @property
    def decorates(self) -> bool:
        return self.style is not None and self.strength > 0.0


# --------------------------------------------------------------------------------------------
# Stylizer
# --------------------------------------------------------------------------------------------


class AvatarNetStylizer:
    """Stylizer over ``AvatarNet``: per-region styles in one encode and one decode.

    Tensors: images ``1x3xHxW`` float32 RGB in [0,1]; masks ``1x1xHxW`` in [0,1] (1 = person).
    On CUDA with ``half`` the convolutions and the patch matching run in float16 (channels_last);
    covariances, eigendecompositions, colouring and statistics stay float32.
    """

    name = "avatarnet"
    size_multiple = SIZE_MULTIPLE

    def __init__(self, net: AvatarNet, device: torch.device, half: bool = False, *, patch_size: int = 3,
                 patch_stride: int = 1, style_short_side: int = 512, style_long_cap: int = 1024,
                 strength_in_decoder: bool = True, compute_dtype: torch.dtype | None = None) -> None:
        """``compute_dtype`` overrides the half/CUDA rule (tests run the float16 path on CPU with it)."""
        if patch_size < 1 or patch_size % 2 == 0:
            raise ValueError(f"patch_size must be odd and positive, got {patch_size}")
        self.device = torch.device(device)
        self.dtype = torch.float16 if half and self.device.type == "cuda" else torch.float32
        if half and self.dtype is torch.float32:
            log.debug("avatarnet: half precision is CUDA-only; running float32 on %s", self.device)
        if compute_dtype is not None:
            self.dtype = compute_dtype
        reduced = self.dtype != torch.float32
        self.memory_format = torch.channels_last if self.device.type == "cuda" or reduced else torch.contiguous_format
        self.net = net.eval().to(device=self.device, dtype=self.dtype, memory_format=self.memory_format)
        for parameter in self.net.parameters():
            parameter.requires_grad_(False)
        self.patch_size = patch_size
        self.patch_stride = patch_stride
        self.style_short_side = style_short_side
        self.style_long_cap = style_long_cap
        self.strength_in_decoder = strength_in_decoder
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)
        self._counts: dict[tuple[int, int], torch.Tensor] = {}

    # -- helpers ------------------------------------------------------------------------------

    def _encode(self, image: torch.Tensor) -> list[torch.Tensor]:
        """``1x3xHxW`` RGB [0,1] -> encoder features (compute dtype)."""
        normalised = ((image.to(self.device, torch.float32) - self._mean) / self._std)
        return self.net.encoder(normalised.to(self.dtype).contiguous(memory_format=self.memory_format))

    def _overlap_counts(self, height: int, width: int) -> torch.Tensor:
        key = (height, width)
        if key not in self._counts:
            self._counts[key] = overlap_counts(height, width, self.patch_size, self.device)
        return self._counts[key]

    # -- style side ---------------------------------------------------------------------------

    def style_size(self, height: int, width: int) -> tuple[int, int]:
        """The (H, W) a style image of ``height x width`` is resized to: short side ``style_short_side``,
        long side at most ``style_long_cap``; degenerate shapes refused (``style_shape``)."""
        check_style_shape(height, width, self.name)
        size = style_resize_size(height, width, self.style_short_side, self.style_long_cap)
        if min(size) < MIN_SIDE:
            raise StyleImageError(f"avatarnet: style image resized to {size} is too small (minimum {MIN_SIDE} px)",
                                  hint="use a less elongated style image")
        return size

    @torch.inference_mode()
    def encode_style(self, image: torch.Tensor) -> AvatarNetStyle:
        """``1x3xHxW`` RGB [0,1] style image -> ``AvatarNetStyle`` (resized so its short side is
        ``style_short_side``, long side at most ``style_long_cap``)."""
        if image.dim() != 4 or image.shape[:2] != (1, 3):
            raise StyleImageError(f"avatarnet: expected a 1x3xHxW style image, got {tuple(image.shape)}",
                                  hint="pass an RGB image")
        size = self.style_size(image.shape[-2], image.shape[-1])
        features = self._encode(resize(image.float(), size))
        stds, means = zip(*(channel_std_mean(f) for f in reversed(features[:3])))
        style4 = features[3].float()
        mean, evals, evecs = covariance_eigh(style4)
        whitened = (covariance_power(evals, evecs, -0.5) @ (style4.flatten(2)[0] - mean)).view(1, *style4.shape[1:])
        kernels, norms = style_patch_kernels(whitened, self.patch_size, self.patch_stride)
        log.debug("avatarnet: style %s -> %d patches", size, kernels.shape[0])
        return AvatarNetStyle(
            kernels=kernels.to(self.dtype),
            norms=norms,
            colour_matrix=covariance_power(evals, evecs, 0.5),
            colour_mean=mean.view(1, -1, 1, 1),
            stds=tuple(stds),
            means=tuple(means),
        )

    def blend_codes(self, codes: Sequence[AvatarNetStyle], weights: Sequence[float]) -> AvatarNetStyle:
        """Weighted blend: statistics, colouring matrices and means are averaged with the normalised
        weights; the patch sets are pooled (concatenated) from every style with a positive weight, so
        each content patch picks its best match from any of them (the weights act on colour and
        decoder statistics, not on which patches are chosen)."""
        pairs = [(code, w) for code, w in zip(codes, normalise_weights(weights, len(codes))) if w > 0]
        if len(pairs) == 1:
            return pairs[0][0]

        def average(values: Sequence[torch.Tensor]) -> torch.Tensor:
            return sum(w * v for (_, w), v in zip(pairs, values))

        return AvatarNetStyle(
            kernels=torch.cat([code.kernels for code, _ in pairs]),
            norms=torch.cat([code.norms for code, _ in pairs]),
            colour_matrix=average([code.colour_matrix for code, _ in pairs]),
            colour_mean=average([code.colour_mean for code, _ in pairs]),
            stds=tuple(average([code.stds[i] for code, _ in pairs]) for i in range(3)),
            means=tuple(average([code.means[i] for code, _ in pairs]) for i in range(3)),
        )

    # -- frame side ---------------------------------------------------------------------------

    def decorate(self, content4: torch.Tensor, content_rows: torch.Tensor, region: _Region,
                 weight: torch.Tensor) -> torch.Tensor:
        """relu4_1 content (float32 ``1x512xhxw``) -> the region's decorated feature, float32.

        ``content_rows``: the whitened content patches (``content_patch_rows``). Patches are matched
        only where the region's ``weight`` (``1x1xhxw``) exceeds ``REGION_EPS`` or within a patch of
        such a place; elsewhere the result is only partially assembled, and the caller gives it a
        weight of at most ``REGION_EPS``.
        """
        style = region.style
        if style is None or region.strength <= 0.0:
            return content4
        height, width = content4.shape[-2:]
        needed = F.max_pool2d((weight > REGION_EPS).float(), self.patch_size, stride=1,
                              padding=(self.patch_size - 1) // 2).flatten() > 0
        positions: torch.Tensor | None = needed.nonzero().squeeze(1)
        if positions.numel() == 0:
            return content4
        if positions.numel() == needed.numel():
            positions = None
        winners = match_patches(content_rows, style.kernels, positions)
        swapped = reassemble_patches(winners, style.kernels, style.norms, (height, width), self.patch_size,
                                     self._overlap_counts(height, width), positions)
        coloured = (style.colour_matrix @ swapped.flatten(2)[0]).view_as(content4) + style.colour_mean
        return torch.lerp(content4, coloured, region.strength)

    def _stage_target(self, region: _Region, stage: int,
                      content_stats: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        """(std, mean) the region's decoder AdaIN ``stage`` aims at, float32 ``1xCx1x1``.

        ``content_stats``: the content's own encoder statistics per stage (the reconstruction path).
        """
        style = region.style
        if style is None:
            return content_stats[stage]
        if not self.strength_in_decoder or region.strength >= 1.0:
            return style.stds[stage], style.means[stage]
        c_std, c_mean = content_stats[stage]
        return (torch.lerp(c_std, style.stds[stage], region.strength),
                torch.lerp(c_mean, style.means[stage], region.strength))

    @staticmethod
    def _mixed_adain(y: torch.Tensor, person: tuple[torch.Tensor, torch.Tensor],
                     background: tuple[torch.Tensor, torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        """``m * AdaIN(y, person) + (1 - m) * AdaIN(y, background)`` as one affine map per pixel.

        ``person``/``background``: target (std, mean) ``1xCx1x1``; ``mask``: ``1x1xHxW`` at y's size.
        """
        y_std, y_mean = channel_std_mean(y)
        p_scale = person[0] / (y_std + ADAIN_EPS)
        b_scale = background[0] / (y_std + ADAIN_EPS)
        scale = torch.lerp(b_scale, p_scale, mask)
        shift = torch.lerp(background[1], person[1], mask)
        return ((y.float() - y_mean) * scale + shift).to(y.dtype)

    @torch.inference_mode()
    def stylize(self, content: torch.Tensor, mask: torch.Tensor, person: RegionStyle | None,
                background: RegionStyle | None) -> torch.Tensor:
        """Paint ``content`` (``1x3xHxW`` RGB [0,1]) with ``person`` where ``mask`` is 1 and ``background``
        where it is 0, mixing features with full weights; returns ``1x3xHxW`` float32 in [0,1]."""
        if content.dim() != 4 or content.shape[:2] != (1, 3):
            raise ValueError(f"expected a 1x3xHxW content image, got {tuple(content.shape)}")
        regions = [self._region(person), self._region(background)]
        if all(r.style is None for r in regions):
            return content.to(self.device, torch.float32).clamp(0.0, 1.0)
        height, width = content.shape[-2:]
        padded_h, padded_w = _padded_side(height), _padded_side(width)
        image = _pad_to(content.to(self.device, torch.float32), padded_h, padded_w, "reflect")
        features = self._encode(image)
        content4 = features[3].float()

        masks = self._mask_pyramid(mask, (height, width), (padded_h, padded_w))
        m4 = masks[3]
        if any(r.decorates for r in regions):
            rows = content_patch_rows(whiten(content4), self.patch_size, self.dtype)
            person4 = self.decorate(content4, rows, regions[0], m4)
            background4 = self.decorate(content4, rows, regions[1], 1.0 - m4)
            del rows
            mixed = torch.lerp(background4, person4, m4)
        else:
            mixed = content4

        content_stats = [channel_std_mean(f) for f in reversed(features[:3])]
        y = mixed.to(self.dtype).contiguous(memory_format=self.memory_format)
        for stage, block in enumerate(self.net.decoder.decoder):
            y = block(y)
            if stage < 3:
                y = self._mixed_adain(y, self._stage_target(regions[0], stage, content_stats),
                                      self._stage_target(regions[1], stage, content_stats), masks[2 - stage])
        out = y.float() * self._std + self._mean
        return out[..., :height, :width].clamp(0.0, 1.0)

    @staticmethod
    def _region(region: RegionStyle | None) -> _Region:
        if region is None:
            return _Region(None, 0.0)
        if not isinstance(region.code, AvatarNetStyle):
            raise TypeError(f"avatarnet: expected a code from AvatarNetStylizer.encode_style, got {type(region.code).__name__}")
        return _Region(region.code, min(1.0, max(0.0, float(region.strength))))

    def _mask_pyramid(self, mask: torch.Tensor, size: tuple[int, int], padded: tuple[int, int]) -> list[torch.Tensor]:
        """The person mask at full, 1/2, 1/4 and 1/8 of the padded size (area averages), float32."""
        m = mask.to(self.device, torch.float32)
        if tuple(m.shape[-2:]) != size:
            m = F.interpolate(m, size=size, mode="bilinear", align_corners=False)
        m = _pad_to(m.clamp(0.0, 1.0), padded[0], padded[1], "replicate")
        pyramid = [m]
        for _ in range(3):
            pyramid.append(F.avg_pool2d(pyramid[-1], 2))
        return pyramid


def load_avatarnet_weights(net: AvatarNet, options: BuildOptions) -> None:
    """Load ``check_point.pth`` (``{'iteration', 'state_dict', 'loss_seq'}``) into ``net`` strictly."""
    path = require_file(options.weights_dir, WEIGHTS_FILE, AvatarNetStylizer.name)
    load_strict(net, extract_state_dict(load_checkpoint(path), path, "state_dict"), path)


@register_stylizer(
    "avatarnet",
    "Avatar-Net (Sheng et al. 2018): whitened style-patch swap at relu4_1, multi-scale AdaIN decoder",
    weight_files=(WEIGHTS_FILE,),
)
def build_avatarnet(options: BuildOptions) -> AvatarNetStylizer:
    """Factory: tyui592's published ``check_point.pth`` loaded strictly (or random weights when asked)."""
    net = AvatarNet()
    if options.random_weights:
        log.info("avatarnet: random weights (benchmark/test mode)")
        _init_random(net)
    else:
        load_avatarnet_weights(net, options)
    return AvatarNetStylizer(net, options.device, compute_dtype=options.stylizer_dtype)
