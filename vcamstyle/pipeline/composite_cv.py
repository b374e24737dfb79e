"""The CPU compositor: full-resolution work on ``uint8`` frames with OpenCV.

At 1280x720 a float32 torch pass over the frame costs several milliseconds on a 2-core CPU, and the
compositor needs many; OpenCV's SIMD kernels on ``uint8`` do the same work about five times faster.
So on the CPU the networks and the mask run in torch at low resolution, and everything at the output
resolution (mask upsampling, blur, guided upsampling, blending) runs here. ``vcamstyle.pipeline.composite`` is
the torch equivalent used on a GPU; a parity test keeps the two in agreement.

Frames are ``HxWx3 uint8 RGB``; masks ``HxW float32`` in [0, 1]; low-resolution inputs are torch tensors
(``1x1xhxw`` mask, ``1x3xhxw`` images in [0, 1]).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from vcamstyle.frames import resize
from vcamstyle.pipeline import composite


def tensor_to_hwc(image: torch.Tensor) -> np.ndarray:
    """``1xCxhxw`` float tensor -> ``hxwxC float32`` numpy (C = 1 gives ``hxw``)."""
    array = image.detach().float()[0].permute(1, 2, 0).contiguous().cpu().numpy()
    return array[..., 0] if array.shape[2] == 1 else array


def upsample_mask(low: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """``1x1xhxw`` mask -> ``HxW float32`` in [0, 1] at ``size = (H, W)``, bilinear.

    If the output is smaller than the mask in either direction (a small camera or photo against the
    segmenter's 256x256 mask), the resize runs in torch with antialiasing, as ``frames.resize`` does on
    the GPU path: OpenCV's bilinear does not antialias and would alias the edge (about 1e-2 apart).
    """
    if size[0] < low.shape[-2] or size[1] < low.shape[-1]:
        return tensor_to_hwc(resize(low.float(), size, mode="bilinear").clamp_(0, 1))
    return np.clip(cv2.resize(tensor_to_hwc(low), (size[1], size[0]), interpolation=cv2.INTER_LINEAR), 0, 1)


def blur_background(frame: np.ndarray, low_weight: torch.Tensor | None, radius: float) -> np.ndarray:
    """Blur of about ``radius`` output pixels, computed at reduced resolution and upsampled.

    ``low_weight`` (``1x1xhxw``, e.g. ``1 - mask``) normalises the blur so that pixels of weight 0 (the
    person) do not bleed into the blurred region.
    """
    h, w = frame.shape[:2]
    factor = max(1, int(radius // 4))
    small_size = (max(1, w // factor), max(1, h // factor))
    sigma = max(0.5, radius / factor / 2)
    small = cv2.resize(frame, small_size, interpolation=cv2.INTER_AREA).astype(np.float32)
    if low_weight is None:
        blurred = cv2.GaussianBlur(small, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    else:
        weight = cv2.resize(tensor_to_hwc(low_weight), small_size, interpolation=cv2.INTER_AREA)[..., None]
        num = cv2.GaussianBlur(small * weight, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
        den = cv2.GaussianBlur(weight, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
        den = den[..., None] if den.ndim == 2 else den
        blurred = num / np.maximum(den, 1e-3)
    small_u8 = np.clip(blurred + 0.5, 0, 255).astype(np.uint8)
    return cv2.resize(small_u8, (w, h), interpolation=cv2.INTER_LINEAR)


def _box(x: np.ndarray, radius: int) -> np.ndarray:
    k = (2 * radius + 1, 2 * radius + 1)
    return cv2.boxFilter(x, -1, k, borderType=cv2.BORDER_REPLICATE)


def guided_fits(low_outputs: torch.Tensor, low_guide: torch.Tensor, radius: int = 1,
                eps: float = 1e-3) -> list[tuple[np.ndarray, np.ndarray]]:
    """The guided filter's local linear fit ``output ~ a * grey(guide) + b`` of every picture of
    ``low_outputs`` (``Bx3xhxw``, one guide ``1x3xhxw``, [0,1]), at ``1/GUIDE_SUBSAMPLE`` of their
    resolution: ``B`` pairs ``(a, b)`` of ``h'xw'x3 float32`` (``b`` on the [0,1] scale). The guide's
    statistics are computed once; each picture is fitted with three-channel calls (OpenCV's resize and
    filters were 2-4x slower per channel on six channels)."""
    pictures = [tensor_to_hwc(low_outputs[i : i + 1]) for i in range(low_outputs.shape[0])]
    half = (max(1, pictures[0].shape[1] // composite.GUIDE_SUBSAMPLE), max(1, pictures[0].shape[0] // composite.GUIDE_SUBSAMPLE))
    grey_low = cv2.cvtColor(cv2.resize(tensor_to_hwc(low_guide), half, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    mean_i = _box(grey_low, radius)
    var_i = _box(grey_low * grey_low, radius) - mean_i * mean_i
    fits = []
    for picture in pictures:
        p = cv2.resize(picture, half, interpolation=cv2.INTER_AREA)
        mean_p = _box(p, radius)
        cov_ip = _box(p * grey_low[..., None], radius) - mean_p * mean_i[..., None]
        a = cov_ip / (var_i + eps)[..., None]
        fits.append((a, mean_p - a * mean_i[..., None]))
    return fits


def guided_upsample_each(low_outputs: torch.Tensor, low_guide: torch.Tensor, frame: np.ndarray,
                         radius: int = 1, eps: float = 1e-3) -> list[np.ndarray]:
    """``guided_upsample`` of every picture of ``low_outputs`` (``Bx3xhxw``, one guide): ``B`` ``HxWx3 uint8``."""
    h, w = frame.shape[:2]
    if tuple(low_outputs.shape[-2:]) == (h, w):
        return [float_to_u8(tensor_to_hwc(low_outputs[i : i + 1])) for i in range(low_outputs.shape[0])]
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32) * (1.0 / 255.0)
    grey3 = cv2.merge([grey, grey, grey])
    out = []
    for a, b in guided_fits(low_outputs, low_guide, radius, eps):
        a_up = cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)
        b_up = cv2.resize(b, (w, h), interpolation=cv2.INTER_LINEAR)
        out.append(float_to_u8(cv2.add(cv2.multiply(a_up, grey3), b_up)))
    return out


#: ``guided_blend`` mixes the two regions' fits at this fraction of the output size (each side): fine
#: enough for the mask's silhouette (the segmenter's mask is coarser, 256 px wide), and 1/16 of the pixels.
BLEND_SCALE = 4


class FullResBuffers:
    """Reused full-resolution arrays for ``guided_blend`` (a 1280x720 float32 picture is 11 MB: allocating
    it afresh every frame costs page faults), keyed by name; one set per pipeline."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        array = self._arrays.get(name)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = self._arrays[name] = np.empty(shape, dtype)
        return array


def guided_blend(low_outputs: torch.Tensor, low_guide: torch.Tensor, low_mask: torch.Tensor, frame: np.ndarray,
                 buffers: FullResBuffers | None = None, grey: np.ndarray | None = None, radius: int = 1,
                 eps: float = 1e-3, fits: list[tuple[np.ndarray, np.ndarray]] | None = None) -> np.ndarray:
    """Two styled regions in one pass over the full-resolution picture: the guided upsampling of the
    person's picture (``low_outputs[0]``) and of the background's (``low_outputs[-1]``), blended by
    ``low_mask`` (``1x1xhxw``, 1 = person), as ``blend(guided_upsample(p), guided_upsample(b), mask)``.

    Both are linear in the full-resolution grey frame ``g``, so their blend is too:
    ``m (a_p g + b_p) + (1 - m)(a_b g + b_b) = A g + B`` with ``A = lerp(a_b, a_p, m)``, ``B = lerp(b_b, b_p, m)``.
    ``A`` and ``B`` are mixed at ``1/BLEND_SCALE`` of the output size (they and the mask are smooth
    there), upsampled once, and applied: five passes over the 720p picture instead of about twenty,
    and no full-resolution mask. ``grey``: the frame's ``HxW uint8`` grey when it is at hand (denoised). (Each region's picture is no longer clamped to [0, 1] before the blend,
    only the result: they differ only where both overshoot the edge they are blended across.)
    ``fits``: the first and last picture's ``guided_fits`` when already made (with ``style.schedule:
    async`` on the style network's thread, and carried over to the frames after theirs: ``frame`` is then
    a newer frame than ``low_guide``). Returns ``HxWx3 uint8``."""
    h, w = frame.shape[:2]
    if tuple(low_outputs.shape[-2:]) == (h, w):  # nothing to upsample (a network at the output size)
        pictures = guided_upsample_each(low_outputs, low_guide, frame)
        return blend(pictures[0], pictures[-1], upsample_mask(low_mask, (h, w)))
    buffers = buffers or FullResBuffers()
    if fits is None:
        fits = guided_fits(low_outputs[::max(1, low_outputs.shape[0] - 1)], low_guide, radius, eps)
    (a_p, b_p), (a_b, b_b) = fits[0], fits[-1]
    mid = (max(1, w // BLEND_SCALE), max(1, h // BLEND_SCALE))

    def up(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return cv2.resize(x, size, interpolation=cv2.INTER_LINEAR)

    m = np.clip(up(tensor_to_hwc(low_mask), mid), 0, 1)[..., None]
    a_mid, b_p_mid = up(a_b, mid), up(b_b, mid)
    a_mid += m * (up(a_p, mid) - a_mid)
    b_p_mid += m * (up(b_p, mid) - b_p_mid)
    b_p_mid *= 255.0  # the output is on the 0-255 scale; the grey frame stays uint8 (0-255)
    grey3 = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if grey is None else grey, cv2.COLOR_GRAY2RGB)
    a_full = cv2.resize(a_mid, (w, h), dst=buffers.get("a", (h, w, 3), np.float32), interpolation=cv2.INTER_LINEAR)
    b_full = cv2.resize(b_p_mid, (w, h), dst=buffers.get("b", (h, w, 3), np.float32), interpolation=cv2.INTER_LINEAR)
    product = cv2.multiply(a_full, grey3, dst=a_full, dtype=cv2.CV_32F)
    return cv2.add(product, b_full, dtype=cv2.CV_8U)


def guided_upsample(low_output: torch.Tensor, low_guide: torch.Tensor, frame: np.ndarray,
                    radius: int = 1, eps: float = 1e-3) -> np.ndarray:
    """Edge-aware upsampling of ``low_output`` to ``frame``'s size (fast guided filter, the same fit as
    ``composite.guided_upsample``): local linear coefficients ``output ~ a * grey(guide) + b`` are fitted
    at half the stylized resolution with box filters, upsampled, and applied to the sharp full-resolution grey frame.
    Everything runs in OpenCV on float32 (a few milliseconds at 720p). ``low_output``: ``1x3xhxw``; returns
    ``HxWx3 uint8``."""
    return guided_upsample_each(low_output, low_guide, frame, radius, eps)[0]


def float_to_u8(image: np.ndarray) -> np.ndarray:
    """``float32`` in [0, 1] -> ``uint8`` (rounded, saturated: below 0 gives 0, above 1 gives 255), one
    OpenCV pass. (``convertScaleAbs`` would mirror negatives, e.g. -0.05 -> 13, and guided upsampling
    does undershoot below 0 at strong edges.)"""
    image = np.ascontiguousarray(image)
    return cv2.addWeighted(image, 255.0, image, 0.0, 0.0, dtype=cv2.CV_8U)


def blend(person: np.ndarray, background: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``mask * person + (1 - mask) * background`` on ``uint8`` frames, ``mask`` ``HxW float32``."""
    if person is background:
        return person
    return cv2.blendLinear(person, background, mask, 1.0 - mask)


#: The still-scene denoiser judges motion on a grid this many times coarser than the frame.
DENOISE_GRID = 4
#: A block whose change (mean over RGB, 0-255) exceeds the frame's noise floor by this much is moving.
DENOISE_MOTION_SCALE = 10.0
#: The largest noise floor (mean block change, 0-255) believed: heavy low-light noise, not motion.
DENOISE_FLOOR_CAP = 6.0


def still_denoise(frame: np.ndarray, state: np.ndarray | None, amount: float) -> np.ndarray:
    """Motion-gated recursive denoising of a camera frame (``HxWx3 uint8``): where the picture is still,
    keep up to ``amount`` of ``state`` (the previous denoised frame); where it moves, keep none.

    Sensor noise reaches the output twice, through the style network (which amplifies it) and
    through the guided upsampling's full-resolution guide; steadying the input removes both at once.
    Motion is judged on a grid ``DENOISE_GRID`` times coarser (the area average is the noise filter),
    against the frame's own noise floor (a low percentile of the block changes, capped), and spread by one block so that
    a moving edge never keeps history. Returns the new state (the frame to process).
    """
    if state is None or amount <= 0 or state.shape != frame.shape:
        return frame
    return keep_history(state, frame, still_keep(frame, state, amount))


def still_keep(frame: np.ndarray, state: np.ndarray, amount: float) -> np.ndarray:
    """``still_denoise``'s share of history to keep, ``h'xw' float32`` in [0, amount] on its motion grid
    (``DENOISE_GRID`` times coarser than ``frame``; ``frame`` and ``state``: ``HxW`` or ``HxWxC uint8``)."""
    h, w = frame.shape[:2]
    grid = (max(1, w // DENOISE_GRID), max(1, h // DENOISE_GRID))
    change = cv2.resize(cv2.absdiff(frame, state), grid, interpolation=cv2.INTER_AREA).astype(np.float32)
    change = change.mean(axis=2) if change.ndim == 3 else change
    # the noise floor: the quieter quarter of the blocks, capped so that a frame that mostly moves
    # (a pan, a light switched on) is never taken for noise
    floor = min(float(np.percentile(change, 25)), DENOISE_FLOOR_CAP)
    motion = cv2.dilate(change, np.ones((3, 3), np.uint8))
    return np.clip(1.0 - (motion - 2.0 * floor) / DENOISE_MOTION_SCALE, 0.0, 1.0) * amount


def keep_history(state: np.ndarray, frame: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``lerp(frame, state, keep)`` per pixel (``uint8`` pictures of one size), ``keep`` (``still_keep``'s
    grid) stretched to their size."""
    keep = cv2.resize(keep, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)
    return cv2.blendLinear(state, frame, keep, 1.0 - keep)
