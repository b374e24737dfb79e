"""The quality benchmark's measures, as pure functions of frames and masks (no models).

Frames are ``HxWx3 uint8 RGB`` (errors are reported in 0-255 units); masks are ``HxW float32`` in
[0, 1] (1 = person) or boolean.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np


def still_change(frames: Sequence[np.ndarray]) -> float:
    """Frame-difference error over a still scene: the mean absolute change between consecutive frames
    (0-255). The scene does not move, so every change is shimmer (the ideal output scores 0)."""
    if len(frames) < 2:
        raise ValueError("still_change needs at least two frames")
    diffs = [np.abs(b.astype(np.float32) - a.astype(np.float32)).mean() for a, b in zip(frames, frames[1:])]
    return float(np.mean(diffs))


def _dis() -> cv2.DISOpticalFlow:
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


def backward_flow(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """DIS optical flow from ``current`` to ``previous`` (``HxWx2 float32``, pixels): the pixel at
    ``(x, y)`` of ``current`` came from ``(x + fx, y + fy)`` of ``previous``."""
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (current, previous)]
    return _dis().calc(grey[0], grey[1], None)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` resampled at ``(x + fx, y + fy)`` (bilinear, edges replicated), float32."""
    h, w = flow.shape[:2]
    xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image.astype(np.float32), xx + flow[..., 0], yy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def warping_error(outputs: Sequence[np.ndarray], inputs: Sequence[np.ndarray], valid_error: float = 12.0) -> float:
    """Flow warping error over a moving scene (0-255): the mean ``|out_t - warp(out_{t-1})|`` with
    DIS flow computed on the inputs, over the pixels where the flow explains the input itself
    (input warping error below ``valid_error``; occlusions and flow failures are left out)."""
    if len(outputs) != len(inputs) or len(outputs) < 2:
        raise ValueError("warping_error needs as many outputs as inputs, at least two")
    total, count = 0.0, 0
    for t in range(1, len(inputs)):
        flow = backward_flow(inputs[t], inputs[t - 1])
        explained = np.abs(inputs[t].astype(np.float32) - warp(inputs[t - 1], flow)).mean(axis=2) < valid_error
        err = np.abs(outputs[t].astype(np.float32) - warp(outputs[t - 1], flow)).mean(axis=2)
        total += float(err[explained].sum())
        count += int(explained.sum())
    return total / max(count, 1)


def mask_iou(predicted: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> float:
    """Intersection over union of ``predicted > threshold`` and ``truth > threshold`` (1.0 if both empty)."""
    p, t = predicted > threshold, truth > threshold
    union = np.logical_or(p, t).sum()
    return 1.0 if union == 0 else float(np.logical_and(p, t).sum() / union)


def region(alpha: np.ndarray, person: bool, margin: int) -> np.ndarray:
    """The person (``alpha > 0.5`` eroded by ``margin`` px) or background (dilated, inverted) as a bool
    mask, away from the edge band where the two regions legitimately blend."""
    inside = (alpha > 0.5).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    if person:
        return cv2.erode(inside, kernel) > 0
    return cv2.dilate(inside, kernel) == 0


def region_difference(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    """Mean absolute difference (0-255, over RGB) of two frames inside the boolean mask ``where``."""
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean(axis=2)[where].mean())


def signed_distance(alpha: np.ndarray) -> np.ndarray:
    """Distance in pixels to the silhouette ``alpha = 0.5``: positive outside the person, negative inside."""
    inside = (alpha > 0.5).astype(np.uint8)
    outside_d = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)
    inside_d = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    return np.where(inside > 0, 0.5 - inside_d, outside_d - 0.5).astype(np.float32)


def off_blend(output: np.ndarray, person: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Per pixel, how far (0-255, RGB distance / sqrt(3)) ``output`` is from every mix
    ``m * person + (1 - m) * background``, m in [0, 1]: zero wherever the output is one region's own
    stylized image, the other's, or a blend of the two (a feathered edge); a halo is not."""
    o, p, b = (x.astype(np.float32) for x in (output, person, background))
    d = p - b
    m = np.clip(((o - b) * d).sum(axis=2) / np.maximum((d * d).sum(axis=2), 1e-6), 0, 1)[..., None]
    return np.sqrt(((o - (b + m * d)) ** 2).sum(axis=2) / 3)


def halo_profile(deviation: np.ndarray, distance: np.ndarray, reach: int = 24) -> np.ndarray:
    """Mean ``deviation`` per 1-px band of signed ``distance`` from ``-reach`` to ``reach - 1``
    (index ``i`` covers distances ``[i - reach, i - reach + 1)``; NaN for an empty band)."""
    bands = np.floor(distance).astype(np.int32) + reach
    keep = (bands >= 0) & (bands < 2 * reach)
    sums = np.bincount(bands[keep], weights=deviation[keep], minlength=2 * reach)
    counts = np.bincount(bands[keep], minlength=2 * reach)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def halo_width(profile: np.ndarray, excess: float = 6.0, floor_bands: int = 6) -> int:
    """Width in pixels of the band around the silhouette whose mean off-blend deviation exceeds the
    level far from the edge on the same side (the median of that side's ``floor_bands`` outermost
    bands) by more than ``excess`` (0-255): the run of such bands that touches the silhouette,
    counted outward and inward and summed."""
    reach = len(profile) // 2
    values = np.nan_to_num(profile, nan=0.0)
    width = 0
    for side, floor in ((range(reach, 2 * reach), np.nanmedian(profile[-floor_bands:])),
                        (range(reach - 1, -1, -1), np.nanmedian(profile[:floor_bands]))):
        for i in side:
            if values[i] <= floor + excess:
                break
            width += 1
    return width


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """IoU of two ``(x, y, w, h)`` boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
