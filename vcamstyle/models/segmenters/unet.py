"""UNet with a ResNet18 backbone: Human-Segmentation-PyTorch's person segmenter (the seed's).

The module reproduces the published ``UNet_ResNet18.pth`` exactly (204 tensors, keys ``backbone.*``,
``decoder1..4.*``, ``conv_last.*``) so the file loads strictly. Differences from the seed's use of it:
RGB input (the seed fed BGR), letterboxing as in training (the seed squashed 16:9 into a square), and a
soft mask (the seed rounded it).
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch import nn

from vcamstyle.frames import resize
from vcamstyle.models.weights.checkpoint import (
    extract_state_dict,
    load_checkpoint,
    load_strict,
    require_file,
)
from vcamstyle.models.registry import BuildOptions, register_segmenter

log = logging.getLogger(__name__)

WEIGHTS_FILE = "UNet_ResNet18.pth"
#: The pickled class inside the Human-Seg trainer checkpoint; loaded as an inert stub.
LOGGER_CLASS = "utils.logger.Logger"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: The network halves its input five times and concatenates skips, so H and W must divide by 32.
SIZE_MULTIPLE = 32


class ResNet18Backbone(nn.Module):
    """ResNet18 trunk without pooling head or fc, with the 2x2/stride-2 max-pool of Human-Seg.

    Built from torchvision's ``resnet18(weights=None)`` (no download); keys ``conv1``, ``bn1``,
    ``layer1..4`` as in the checkpoint.
    """

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import resnet18  # heavy (pulls in torch._dynamo): only when this model is built

        trunk = resnet18(weights=None)
        self.conv1 = trunk.conv1
        self.bn1 = trunk.bn1
        self.relu = nn.ReLU(inplace=True)
        # Human-Seg uses a 2x2 stride-2 pool, not torchvision's 3x3/s2/p1 (no parameters either way).
        self.maxpool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.layer1 = trunk.layer1
        self.layer2 = trunk.layer2
        self.layer3 = trunk.layer3
        self.layer4 = trunk.layer4

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``Bx3xHxW`` -> skip features at 1/2 (64), 1/4 (64), 1/8 (128), 1/16 (256), 1/32 (512)."""
        x1 = self.relu(self.bn1(self.conv1(x)))
        x2 = self.layer1(self.maxpool(x1))
        x3 = self.layer2(x2)
        x4 = self.layer3(x3)
        x5 = self.layer4(x4)
        return x1, x2, x3, x4, x5


class DecoderBlock(nn.Module):
    """x2 transposed-conv upsampling, concatenation with the skip, then a residual BasicBlock."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        from torchvision.models.resnet import BasicBlock  # see ResNet18Backbone

        self.deconv = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1)
        residual = nn.Sequential(
            nn.Conv2d(2 * out_channels, out_channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.block_unit = BasicBlock(2 * out_channels, out_channels, stride=1, downsample=residual)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.block_unit(torch.cat([self.deconv(x), skip], dim=1))


class UNetResNet18(nn.Module):
    """``Bx3xHxW`` ImageNet-normalised RGB (H, W multiples of 32) -> ``Bx2xHxW`` logits (1 = person)."""

    def __init__(self, num_classes: int = 2) -> None:
        super().__init__()
        self.backbone = ResNet18Backbone()
        self.decoder1 = DecoderBlock(512, 256)
        self.decoder2 = DecoderBlock(256, 128)
        self.decoder3 = DecoderBlock(128, 64)
        self.decoder4 = DecoderBlock(64, 64)
        # Two plain convolutions, no activation between them (as published).
        self.conv_last = nn.Sequential(
            nn.Conv2d(64, 3, kernel_size=3, padding=1),
            nn.Conv2d(3, num_classes, kernel_size=3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] % SIZE_MULTIPLE or x.shape[-1] % SIZE_MULTIPLE:
            raise ValueError(f"UNetResNet18 needs H and W divisible by {SIZE_MULTIPLE}, got {tuple(x.shape[-2:])}")
        x1, x2, x3, x4, x5 = self.backbone(x)
        y = self.decoder1(x5, x4)
        y = self.decoder2(y, x3)
        y = self.decoder3(y, x2)
        y = self.decoder4(y, x1)
        y = self.conv_last(y)
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=True)


def letterbox_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(h, w) with the long side scaled to ``long_side`` and the aspect ratio kept (both >= 1)."""
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def center_padding(height: int, width: int, multiple: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) zero padding that centres an ``height x width`` image in the next
    multiple of ``multiple`` (as Human-Seg's training letterbox centres the image)."""
    pad_h = math.ceil(height / multiple) * multiple - height
    pad_w = math.ceil(width / multiple) * multiple - width
    return pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2


class UNetSegmenter:
    """Segmenter over ``UNetResNet18``.

    ``segment``: frame ``1x3xHxW`` float RGB in [0,1] -> mask ``1x1xhxw`` float32 in [0,1] (1 = person),
    where ``h x w`` is the frame letterboxed to ``input_size`` on its long side (same aspect ratio).
    Preprocessing follows Human-Seg's training: long side to ``input_size``, zero (black) padding centred,
    here only up to the next multiple of 32 instead of a full square, then ImageNet mean/std. The
    downscale is antialiased bilinear (training used OpenCV's plain bilinear ``INTER_LINEAR``).
    """

    name = "unet_resnet18"

    def __init__(self, model: UNetResNet18, device: torch.device, half: bool = False, input_size: int = 320,
                 compute_dtype: torch.dtype | None = None) -> None:
        """``compute_dtype`` overrides the half/CUDA rule (tests run the float16 path on CPU with it)."""
        if input_size < SIZE_MULTIPLE:
            raise ValueError(f"input_size must be at least {SIZE_MULTIPLE}, got {input_size}")
        self.device = torch.device(device)
        self.dtype = torch.float16 if half and self.device.type == "cuda" else torch.float32
        if half and self.dtype is torch.float32:
            log.debug("unet_resnet18: half precision is CUDA-only; running float32 on %s", self.device)
        if compute_dtype is not None:
            self.dtype = compute_dtype
        self.input_size = input_size
        reduced = self.dtype != torch.float32
        memory_format = torch.channels_last if self.device.type == "cuda" or reduced else torch.contiguous_format
        self.memory_format = memory_format
        self.model = model.eval().to(device=self.device, dtype=self.dtype, memory_format=memory_format)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    @torch.inference_mode()
    def preferred_size(self, height: int, width: int) -> tuple[int, int]:
        """The letterboxed size before padding: long side ``input_size``, aspect ratio kept."""
        return letterbox_size(height, width, self.input_size)

    def segment(self, frame: torch.Tensor) -> torch.Tensor:
        """``1x3xHxW`` RGB [0,1] -> person probability ``1x1xhxw`` float32 in [0,1] (letterbox removed)."""
        if frame.dim() != 4 or frame.shape[1] != 3:
            raise ValueError(f"expected a 1x3xHxW RGB frame, got {tuple(frame.shape)}")
        h, w = letterbox_size(frame.shape[-2], frame.shape[-1], self.input_size)
        image = resize(frame.to(self.device, torch.float32), (h, w))
        left, right, top, bottom = center_padding(h, w, SIZE_MULTIPLE)
        # Pad in pixel space with black (0), as training padded the uint8 image before normalising.
        image = F.pad(image, (left, right, top, bottom), mode="constant", value=0.0)
        image = ((image - self._mean) / self._std).to(self.dtype).contiguous(memory_format=self.memory_format)
        logits = self.model(image).float()
        person = torch.softmax(logits, dim=1)[:, 1:2]
        return person[..., top:top + h, left:left + w].contiguous()


def load_unet_weights(model: UNetResNet18, options: BuildOptions) -> None:
    """Load Human-Seg's trainer checkpoint (``state_dict`` entry) into ``model`` strictly."""
    path = require_file(options.weights_dir, WEIGHTS_FILE, UNetSegmenter.name)
    checkpoint = load_checkpoint(path, allowed_classes=(LOGGER_CLASS,))
    load_strict(model, extract_state_dict(checkpoint, path, "state_dict"), path)


@register_segmenter(
    "unet_resnet18",
    "UNet with a ResNet18 backbone (Human-Segmentation-PyTorch, the seed's segmenter); input 320 letterboxed",
    weight_files=(WEIGHTS_FILE,),
)
def build_unet_segmenter(options: BuildOptions) -> UNetSegmenter:
    """Factory: the published ``UNet_ResNet18.pth`` loaded strictly (or random weights when asked)."""
    model = UNetResNet18()
    if options.random_weights:
        log.info("unet_resnet18: random weights (benchmark/test mode)")
    else:
        load_unet_weights(model, options)
    return UNetSegmenter(model, options.device, half=options.half)
