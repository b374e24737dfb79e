"""Helpers shared by the VGG-family stylizers (AdaIN, SANet).

- ``ComputePolicy``: device, weight dtype (float16 only on CUDA when asked) and memory format.
- Padding to a size multiple and cropping back; the person mask brought to a feature map's size.
- Region mixing in feature space with per-region strengths; weight normalisation for style blends.
- Weight-file lookup and strict loading of bare state_dicts through ``vcamstyle.models.weights.checkpoint``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vcamstyle.errors import WeightsError
from vcamstyle.frames import pad_to_multiple, resize
from vcamstyle.models.base import RegionStyle
from vcamstyle.models.weights.checkpoint import (
    extract_state_dict,
    load_checkpoint,
    load_strict,
    require_file,
)
from vcamstyle.models.registry import BuildOptions
from vcamstyle.models.style_shape import bounded_style_size

#: Upstream test scripts resize the style image so its short side is 512 px.
DEFAULT_STYLE_SHORT_SIDE = 512


@dataclass(frozen=True)
class ComputePolicy:
    """Where and how a stylizer's networks run.

    ``dtype`` is the weight/activation dtype (``BuildOptions.stylizer_dtype``: float16 on CUDA with
    ``half``, bfloat16 on the CPU with ``cpu_bfloat16``, else float32). Channel statistics and softmax
    are always computed in float32 by the callers. ``channels_last`` is used on CUDA (faster cuDNN
    convolutions) and with bfloat16 on the CPU (faster oneDNN), not for float32 on the CPU.
    """

    device: torch.device
    dtype: torch.dtype
    channels_last: bool

    @classmethod
    def from_options(cls, options: BuildOptions) -> "ComputePolicy":
        device = torch.device(options.device)
        dtype = options.stylizer_dtype
        return cls(device=device, dtype=dtype, channels_last=device.type == "cuda" or dtype != torch.float32)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def prepare_module(self, module: nn.Module) -> nn.Module:
        """Move ``module`` to the device, dtype and memory format; put it in eval mode, no gradients."""
        module.to(device=self.device, dtype=self.dtype, memory_format=self.memory_format)
        module.eval()
        module.requires_grad_(False)
        return module

    def to_input(self, image: torch.Tensor) -> torch.Tensor:
        """A ``BxCxHxW`` tensor on the device in the compute dtype and memory format."""
        return image.to(device=self.device, dtype=self.dtype, memory_format=self.memory_format)


def style_input_size(height: int, width: int, short_side: int | None, min_side: int = 1,
                     method: str = "stylizer") -> tuple[int, int]:
    """(H, W) with the short side equal to ``short_side`` (up or down, aspect kept), like upstream's
    ``transforms.Resize(512)``; ``None`` keeps the size. The long side is capped at ``STYLE_LONG_CAP``
    (bounded memory) and degenerate shapes are refused (``StyleImageError``; see ``style_shape``)."""
    return bounded_style_size(height, width, short_side, method, min_side=min_side)


def prepare_style_image(image: torch.Tensor, short_side: int | None, policy: ComputePolicy,
                        min_side: int = 1, method: str = "stylizer") -> torch.Tensor:
    """``1x3xHxW`` RGB [0,1] style image -> resized (short side ``short_side``, long side at most
    ``STYLE_LONG_CAP``, at least ``min_side``) on the device, compute dtype."""
    _check_image(image, "style image")
    size = style_input_size(image.shape[-2], image.shape[-1], short_side, min_side, method)
    resized = resize(image.float(), size, mode="bilinear").clamp(0.0, 1.0)
    return policy.to_input(resized)


def pad_content(content: torch.Tensor, multiple: int, policy: ComputePolicy,
                min_size: int = 1) -> tuple[torch.Tensor, tuple[int, int]]:
    """``1x3xHxW`` RGB [0,1] -> (padded on the bottom/right to a multiple of ``multiple`` and at least
    ``min_size`` (``frames.pad_to_multiple``), on the device in the compute dtype; the original (H, W)
    to crop back to)."""
    _check_image(content, "content")
    padded, size = pad_to_multiple(content, multiple, minimum=min_size)
    return policy.to_input(padded), size


def finish_output(decoded: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Decoder output ``1x3xH'xW'`` (any dtype) -> cropped to ``size``, float32, clamped to [0, 1], contiguous."""
    height, width = size
    out = decoded[..., :height, :width].float().clamp_(0.0, 1.0)
    return out.contiguous()


def feature_mask(mask: torch.Tensor, content_size: tuple[int, int], padded_size: tuple[int, int],
                 feature_size: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
    """Person mask for a feature map: ``1x1xhxw`` soft mask in [0, 1], dtype/device of ``like``.

    ``mask`` (``1x1xH'xW'``, any size) is resized to the content's (H, W) if needed, padded like the
    content (edge values repeated), then area-averaged to the feature size, so each feature position
    gets the mean of the mask over the pixels it covers.
    """
    if mask.dim() != 4 or mask.shape[:2] != (1, 1):
        raise ValueError(f"expected a 1x1xHxW mask, got {tuple(mask.shape)}")
    m = mask.to(device=like.device, dtype=torch.float32)
    m = resize(m, content_size, mode="bilinear")
    pad_h = padded_size[0] - content_size[0]
    pad_w = padded_size[1] - content_size[1]
    if pad_h or pad_w:
        m = F.pad(m, (0, pad_w, 0, pad_h), mode="replicate")
    m = F.interpolate(m, size=feature_size, mode="area")
    return m.clamp_(0.0, 1.0).to(like.dtype)


def snap_mask(mask: torch.Tensor, tolerance: float = 1e-3) -> torch.Tensor:
    """``mask`` with values within ``tolerance`` of 0 or 1 set exactly to 0 or 1 (so a region whose
    weight is zero somewhere can skip work there without changing the result)."""
    snapped = torch.where(mask <= tolerance, torch.zeros_like(mask), mask)
    return torch.where(snapped >= 1.0 - tolerance, torch.ones_like(mask), snapped)


def region_strength(region: RegionStyle | None) -> float:
    """The region's strength clamped to [0, 1] (0 for ``None``)."""
    if region is None:
        return 0.0
    strength = float(region.strength)
    if not math.isfinite(strength):
        raise ValueError(f"style strength must be a finite number, got {region.strength!r}")
    return min(1.0, max(0.0, strength))


def mix_regions(base: torch.Tensor | None, person: torch.Tensor | None, background: torch.Tensor | None,
                mask: torch.Tensor | None, person_strength: float, background_strength: float) -> torch.Tensor:
    """Per-region strength and mask mixing in feature space.

    ``base`` is the unstyled path (strength 0), ``person``/``background`` the fully styled features
    (``BxCxhxw``), ``mask`` ``1x1xhxw`` in [0, 1] (1 = person). Returns
    ``base + m*sp*(person - base) + (1-m)*sb*(background - base)``. With one region ``None`` the other's
    style (at its strength) covers the whole frame and the mask is not used; with both ``None``, ``base``.
    ``base`` may be ``None`` only when every styled region has strength 1 (it is then not needed).
    """
    if person is None and background is None:
        if base is None:
            raise ValueError("nothing to mix: no base and no styled region")
        return base
    if person is None or background is None:
        styled, strength = (background, background_strength) if person is None else (person, person_strength)
        assert styled is not None
        if strength >= 1.0:
            return styled
        return torch.lerp(_need_base(base), styled, strength)
    if mask is None:
        raise ValueError("two styled regions need a mask")
    if person_strength >= 1.0 and background_strength >= 1.0:
        return torch.lerp(background, person, mask)
    base = _need_base(base)
    person_weight = mask * person_strength
    background_weight = (1.0 - mask) * background_strength
    return base + person_weight * (person - base) + background_weight * (background - base)


def _need_base(base: torch.Tensor | None) -> torch.Tensor:
    if base is None:
        raise ValueError("a strength below 1 needs the unstyled base features")
    return base


def normalise_weights(weights: Sequence[float], count: int) -> list[float]:
    """Blend weights as floats summing to 1; ``ValueError`` for a length mismatch, a negative or
    non-finite weight, or an all-zero list."""
    if len(weights) != count or count == 0:
        raise ValueError(f"need one weight per style code: {count} codes, {len(weights)} weights")
    values = [float(w) for w in weights]
    if any(not math.isfinite(w) or w < 0 for w in values):
        raise ValueError(f"blend weights must be finite and >= 0, got {values}")
    total = sum(values)
    if total <= 0:
        raise ValueError(f"blend weights must not all be zero, got {values}")
    return [w / total for w in values]


def weighted_sum(tensors: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """``sum_i weights[i] * tensors[i]`` (weights as given; normalise them first)."""
    total = tensors[0] * weights[0]
    for tensor, weight in zip(tensors[1:], weights[1:]):
        total = total + tensor * weight
    return total


def require_weight_files(weights_dir: Path | None, filenames: Sequence[str], model: str) -> list[Path]:
    """Paths of all ``filenames`` in ``weights_dir``; one ``WeightsError`` listing every missing file
    (with the ``vcamstyle weights fetch <model>`` hint) if any is absent."""
    paths: list[Path] = []
    missing: list[str] = []
    first_error: WeightsError | None = None
    for filename in filenames:
        try:
            paths.append(require_file(weights_dir, filename, model))
        except WeightsError as exc:
            missing.append(filename)
            first_error = first_error or exc
    if first_error is not None:
        if weights_dir is None or len(missing) == 1:
            raise first_error
        raise WeightsError(f"{model}: weights files missing from {weights_dir}: {', '.join(missing)}",
                           hint=first_error.hint)
    return paths


def load_bare_state_dict(module: nn.Module, path: Path) -> None:
    """Load the bare state_dict file at ``path`` into ``module`` strictly (``WeightsError`` on any mismatch)."""
    state = extract_state_dict(load_checkpoint(path), path)
    load_strict(module, state, path)


def _check_image(image: torch.Tensor, what: str) -> None:
    if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] != 3:
        raise ValueError(f"{what}: expected a 1x3xHxW RGB tensor, got {tuple(image.shape)}")
