"""The one place where frame layout and dtype change.

Contract used everywhere else:
- at the edges (sources, sinks, files): numpy ``HxWx3 uint8 RGB`` in [0, 255];
- inside the pipeline: torch ``1x3xHxW float32`` RGB in [0, 1] on the runtime device;
- masks: torch ``1x1xHxW float32`` in [0, 1], 1 = person.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def to_tensor(frame: np.ndarray, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``HxWx3 uint8 RGB`` numpy -> ``1x3xHxW`` float tensor in [0, 1] on ``device``.

    The uint8 array is copied to the device first and converted there (one small transfer).
    """
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 frame, got {frame.dtype} {frame.shape}")
    t = torch.from_numpy(np.ascontiguousarray(frame)).to(device, non_blocking=True)
    return t.permute(2, 0, 1).unsqueeze(0).to(dtype).div_(255.0)


def to_numpy(image: torch.Tensor) -> np.ndarray:
    """``1x3xHxW`` (or ``3xHxW``) float tensor in [0, 1] -> ``HxWx3 uint8 RGB`` numpy (rounded, clamped)."""
    if image.dim() == 4:
        image = image[0]
    out = image.detach().float().clamp(0, 1).mul(255.0).add_(0.5).to(torch.uint8)
    return out.permute(1, 2, 0).contiguous().cpu().numpy()


def mask_to_numpy(mask: torch.Tensor) -> np.ndarray:
    """``1x1xHxW`` float mask in [0, 1] -> ``HxW uint8`` in [0, 255]."""
    return mask.detach().float()[0, 0].clamp(0, 1).mul(255.0).add_(0.5).to(torch.uint8).cpu().numpy()


def resize(image: torch.Tensor, size: tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """Resize ``BxCxHxW`` to ``size = (H, W)``; antialiased when shrinking with bilinear/bicubic."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    if mode in ("bilinear", "bicubic"):
        shrinking = size[0] < image.shape[-2] or size[1] < image.shape[-1]
        return F.interpolate(image, size=size, mode=mode, align_corners=False, antialias=shrinking)
    return F.interpolate(image, size=size, mode=mode)


def short_side_size(height: int, width: int, short_side: int, multiple: int = 1) -> tuple[int, int]:
    """The (H, W) with the given short side that keeps the aspect ratio, rounded to ``multiple``.

    Never upscales: if the frame is already smaller, its own size (rounded) is returned.
    """
    scale = min(1.0, short_side / min(height, width))
    h = max(multiple, int(round(height * scale / multiple)) * multiple)
    w = max(multiple, int(round(width * scale / multiple)) * multiple)
    return h, w


def padded_size(height: int, width: int, multiple: int, min_size: int = 0) -> tuple[int, int]:
    """(H, W) rounded up to ``multiple`` and to at least ``min_size``."""
    def one(n: int) -> int:
        return max(-(-n // multiple) * multiple, min_size)

    return one(height), one(width)


def pad_to_multiple(image: torch.Tensor, multiple: int, mode: str = "reflect",
                    minimum: int = 0) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``BxCxHxW`` on the bottom/right to ``padded_size(H, W, multiple, minimum)``; returns the
    padded tensor and (H, W). Reflection falls back to repeating the edge where the padding is not
    smaller than the image (tiny frames).

    Crop the result back with ``out[..., :H, :W]``.
    """
    h, w = image.shape[-2:]
    target_h, target_w = padded_size(h, w, multiple, minimum)
    ph, pw = target_h - h, target_w - w
    if ph == 0 and pw == 0:
        return image, (h, w)
    if mode == "reflect" and (ph >= h or pw >= w):
        mode = "replicate"
    return F.pad(image, (0, pw, 0, ph), mode=mode), (h, w)


def shrink(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``HxWxC uint8`` to ``size = (h, w)`` with an area filter (no aliasing when shrinking).

    OpenCV's area filter is fastest by far for an exact halving (measured at 1280x720 on 2 cores:
    0.6 ms for /2, 2.4 ms for /5, 11 ms for /3, 7 ms for 640x360 -> 342x192), so the frame is halved
    while a halving stays at least ``size``; the rest, less than a factor of two of an already
    low-passed picture, is bilinear (close to the area filter there, and ten times cheaper). A frame
    that cannot be halved is area-resized in one step.
    """
    h, w = frame.shape[:2]
    if (h, w) == tuple(size):
        return frame
    halved = False
    while h // 2 >= size[0] and w // 2 >= size[1] and min(h, w) >= 2:
        frame = cv2.resize(frame, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        h, w, halved = h // 2, w // 2, True
    if (h, w) == tuple(size):
        return frame
    smaller = size[0] <= h and size[1] <= w
    return cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA if smaller and not halved else cv2.INTER_LINEAR)
