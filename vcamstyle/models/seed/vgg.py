"""The "normalised" VGG-19 encoder and the mirrored decoder shared by AdaIN and SANet.

Layouts follow the published checkpoints (``vgg_normalised.pth``, ``decoder.pth``,
``decoder_iter_500000.pth``) so that they load strictly:

- encoder: ``nn.Sequential`` of 53 modules. Module 0 is a 1x1 conv 3->3 (it turns RGB in [0, 1] into
  the Caffe-style BGR, mean-subtracted input the original Torch model expected, so callers pass plain
  RGB [0, 1] with no ImageNet normalisation). Every 3x3 conv has a ``ReflectionPad2d(1)`` before it and
  padding 0; every max-pool is ``MaxPool2d(2, 2, ceil_mode=True)``. 34 tensors, keys ``{i}.weight`` /
  ``{i}.bias`` for the conv indices 0, 2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42, 45, 48, 51.
- decoder: ``nn.Sequential`` of 29 modules from relu4_1 (512 channels, H/8) back to RGB, nearest x2
  upsampling at indices 3, 16, 23, no output activation (callers clamp). Conv keys 1, 5, 8, 11, 14, 18,
  21, 25, 28.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

#: Feature levels and the encoder module index one past their ReLU.
LEVEL_ENDS: dict[str, int] = {"relu1_1": 4, "relu2_1": 11, "relu3_1": 18, "relu4_1": 31, "relu5_1": 44}
ENCODER_MODULES = 53
DECODER_MODULES = 29

# Encoder plan after the 1x1 colour conv: ints are 3x3 conv output channels, "M" a max-pool.
_ENCODER_PLAN: tuple[int | str, ...] = (
    64, 64, "M",
    128, 128, "M",
    256, 256, 256, 256, "M",
    512, 512, 512, 512, "M",
    512, 512, 512, 512,
)
# Decoder plan from 512 channels: ints are 3x3 conv output channels (ReLU after all but the last), "U" an upsample.
_DECODER_PLAN: tuple[int | str, ...] = (256, "U", 256, 256, 256, 128, "U", 128, 64, "U", 64, 3)


def build_encoder_layers() -> nn.Sequential:
    """The full 53-module normalised VGG-19 (up to relu5_4), randomly initialised."""
    layers: list[nn.Module] = [nn.Conv2d(3, 3, kernel_size=1)]
    channels = 3
    for item in _ENCODER_PLAN:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2, padding=0, ceil_mode=True))
        else:
            out = int(item)
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, out, kernel_size=3), nn.ReLU()]
            channels = out
    sequential = nn.Sequential(*layers)
    assert len(sequential) == ENCODER_MODULES
    return sequential


def build_decoder() -> nn.Sequential:
    """The 29-module decoder: ``1x512xhxw`` relu4_1-like features -> ``1x3x(8h)x(8w)`` RGB (unbounded)."""
    layers: list[nn.Module] = []
    channels = 512
    convs = sum(1 for item in _DECODER_PLAN if item != "U")
    seen = 0
    for item in _DECODER_PLAN:
        if item == "U":
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            continue
        out = int(item)
        seen += 1
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, out, kernel_size=3)]
        if seen < convs:
            layers.append(nn.ReLU())
        channels = out
    sequential = nn.Sequential(*layers)
    assert len(sequential) == DECODER_MODULES
    return sequential


def deepest_level_end(levels: Sequence[str]) -> int:
    """Number of encoder modules needed to reach the deepest of ``levels``."""
    unknown = [level for level in levels if level not in LEVEL_ENDS]
    if unknown or not levels:
        raise ValueError(f"unknown VGG levels {unknown or levels}; choose from {list(LEVEL_ENDS)}")
    return max(LEVEL_ENDS[level] for level in levels)


class VGGEncoder(nn.Module):
    """The normalised VGG-19 truncated after the deepest level a method needs.

    ``layers`` holds modules ``[0:end]`` of the full Sequential with their original indices, so
    ``layers.state_dict()`` keys are a prefix-subset of the published file's keys. Load the published
    file strictly into the full Sequential (``build_encoder_layers``) and pass it here to truncate.
    """

    def __init__(self, full_layers: nn.Sequential, levels: Sequence[str]) -> None:
        super().__init__()
        if len(full_layers) != ENCODER_MODULES:
            raise ValueError(f"expected the full {ENCODER_MODULES}-module encoder, got {len(full_layers)}")
        self.levels = tuple(sorted(set(levels), key=lambda level: LEVEL_ENDS[level]))
        self.layers = full_layers[: deepest_level_end(self.levels)]

    def encode(self, image: torch.Tensor, levels: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """``Bx3xHxW`` RGB [0,1] -> ``{level: BxCxhxw}`` features (relu1_1 is HxW, relu4_1 ceil(H/8), ...).

        Runs the layers once, stopping after the deepest requested level (default: all levels this
        encoder was built for). Dtype and memory format follow the input.
        """
        wanted = self.levels if levels is None else tuple(levels)
        end = deepest_level_end(wanted)
        if end > len(self.layers):
            raise ValueError(f"this encoder stops at {self.levels[-1]}; cannot give {wanted}")
        features: dict[str, torch.Tensor] = {}
        x = image
        start = 0
        for level, level_end in LEVEL_ENDS.items():
            if level_end > end:
                break
            x = self.layers[start:level_end](x)
            start = level_end
            if level in wanted:
                features[level] = x
        return features

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.encode(image)
