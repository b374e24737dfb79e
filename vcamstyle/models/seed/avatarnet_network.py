"""Avatar-Net's encoder/decoder network, with tyui592/Avatar-Net_Pytorch's ``check_point.pth`` key layout.

A VGG-19 encoder to relu4_1 in torchvision's ``features`` layout (zero padding, floor-mode max-pool)
and a mirrored decoder (reflection padding, nearest x2 upsampling). Images are 1x3xHxW float in
ImageNet-normalised RGB; features are float 1xCxhxw.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

# VGG-19 ``features`` up to relu4_1: (index, kind, in, out); pools have no channels.
_VGG19_TO_RELU4_1: tuple[tuple[int, str, int, int], ...] = (
    (0, "conv", 3, 64), (1, "relu", 0, 0),
    (2, "conv", 64, 64), (3, "relu", 0, 0), (4, "pool", 0, 0),
    (5, "conv", 64, 128), (6, "relu", 0, 0),
    (7, "conv", 128, 128), (8, "relu", 0, 0), (9, "pool", 0, 0),
    (10, "conv", 128, 256), (11, "relu", 0, 0),
    (12, "conv", 256, 256), (13, "relu", 0, 0),
    (14, "conv", 256, 256), (15, "relu", 0, 0),
    (16, "conv", 256, 256), (17, "relu", 0, 0), (18, "pool", 0, 0),
    (19, "conv", 256, 512), (20, "relu", 0, 0),
)


#: Encoder block ends (relu1_1, relu2_1, relu3_1, relu4_1), as upstream's ``layers=[1, 6, 11, 20]``.
_FEATURE_LAYERS = (1, 6, 11, 20)


class AvatarEncoder(nn.Module):
    """VGG-19 ``features[0..20]`` split at relu1_1/2_1/3_1/4_1; keys ``encoder.<block>.<vgg index>``.

    Built by hand in torchvision's layout (nothing is downloaded; the checkpoint holds the weights).
    Input ``Bx3xHxW`` ImageNet-normalised RGB; output four features at 1, 1/2, 1/4, 1/8 resolution.
    """

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.ModuleList()
        block: OrderedDict[str, nn.Module] = OrderedDict()
        for index, kind, c_in, c_out in _VGG19_TO_RELU4_1:
            if kind == "conv":
                block[str(index)] = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)
            elif kind == "relu":
                block[str(index)] = nn.ReLU(inplace=True)
            else:
                block[str(index)] = nn.MaxPool2d(kernel_size=2, stride=2)
            if index in _FEATURE_LAYERS:
                self.encoder.append(nn.Sequential(block))
                block = OrderedDict()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for block in self.encoder:
            x = block(x)
            features.append(x)
        return features


class AvatarDecoder(nn.Module):
    """Mirror of the encoder: each conv becomes ReflectionPad(1) + Conv(out->in) + ReLU, each pool a
    nearest x2 upsampling; four blocks ending at the relu3_1/2_1/1_1 resolutions and the image, with
    module numbers running on across blocks (0-12, 13-19, 20-26, 27-28) and no final ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.decoder = nn.ModuleList()
        block: OrderedDict[str, nn.Module] = OrderedDict()
        count = 0
        for index, kind, c_in, c_out in reversed(_VGG19_TO_RELU4_1[:-1]):
            if kind == "conv":
                block[str(count)] = nn.ReflectionPad2d(1)
                block[str(count + 1)] = nn.Conv2d(c_out, c_in, kernel_size=3)
                block[str(count + 2)] = nn.ReLU(inplace=True)
                count += 3
            elif kind == "pool":
                block[str(count)] = nn.Upsample(scale_factor=2.0, mode="nearest")
                count += 1
            if index in _FEATURE_LAYERS:
                self.decoder.append(nn.Sequential(block))
                block = OrderedDict()
        block.popitem()  # the image comes out of the last conv without a ReLU
        self.decoder.append(nn.Sequential(block))


class AvatarNet(nn.Module):
    """The published network's parameters (``encoder.encoder.*``, ``decoder.decoder.*``)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = AvatarEncoder()
        self.decoder = AvatarDecoder()


def _init_random(net: AvatarNet) -> None:
    """He-normal convolutions and zero biases, so random-weight features keep a realistic scale."""
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
