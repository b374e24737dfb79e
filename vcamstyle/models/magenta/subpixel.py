"""Exact rewrites of full-resolution convolutions as convolutions on 2x2 pixel phases.

A full-resolution ``C x H x W`` tensor and its ``pixel_unshuffle(x, 2)`` (``4C x H/2 x W/2``, channel
``c*4 + p*2 + q`` holding pixels ``(2i + p, 2j + q)``) carry the same numbers. A convolution with few
channels at full resolution (3 -> 8, 9x9) keeps oneDNN's vector units mostly idle; the same
convolution written on the phases has four times the channels at a quarter of the pixels, which runs
two to three times faster, and it lets a network skip ``pixel_shuffle`` round trips between layers.

Every kernel here is built from the original weights once (at load time); each original tap lands
on exactly one (tap, phase) pair of the new kernel, so results agree with the original convolution
to float32 rounding.
"""

from __future__ import annotations

import torch


def _phase_taps(kernel: int, offset: int) -> list[tuple[int, int, int, int]]:
    """``(r, p, u, a)`` for every output phase ``r`` and original tap ``a``.

    Output row ``2i + r`` of a ``kernel``-tap convolution reads input row ``2i + r + a - offset``;
    written as ``2(i + u) + p`` that is phase ``p`` of low-resolution row ``i + u``.
    """
    taps = []
    for r in (0, 1):
        for a in range(kernel):
            u, p = divmod(r + a - offset, 2)
            taps.append((r, p, u, a))
    return taps


def phase_conv_kernel(weight: torch.Tensor, offset: int = 0, stride: int = 1) -> torch.Tensor:
    """``Cout x Cin x k x k`` -> the kernel that does the same convolution on ``pixel_unshuffle(x, 2)``.

    ``offset``: how many rows (and columns) before the first output row the original convolution's
    input starts (its top/left padding, when the caller pads the phases instead of the full image).
    The phase input must then start at low-resolution row ``floor(-offset / 2)``: pad it by
    ``ceil(offset / 2)`` rows (and columns).

    ``stride`` 1: the output has phases too, ``Cout*4`` channels in ``pixel_shuffle`` order (channel
    ``o*4 + r*2 + s``). ``stride`` 2: the original convolution kept only phase 0, so the output is the
    plain ``Cout`` channels at half resolution.
    """
    if stride not in (1, 2):
        raise ValueError(f"stride must be 1 or 2, got {stride}")
    cout, cin, k, k2 = weight.shape
    if k != k2:
        raise ValueError(f"square kernels only, got {k}x{k2}")
    taps = [t for t in _phase_taps(k, offset) if stride == 1 or t[0] == 0]
    low = min(u for _, _, u, _ in taps)
    span = max(u for _, _, u, _ in taps) - low + 1
    phases = 4 if stride == 1 else 1
    out = weight.new_zeros(cout * phases, cin * 4, span, span)
    in_channels = torch.arange(cin) * 4
    out_channels = torch.arange(cout) * phases
    for r, p, u, a in taps:
        for s, q, v, b in taps:
            rows = out_channels + (r * 2 + s if stride == 1 else 0)
            cols = in_channels + p * 2 + q
            out[rows[:, None], cols[None, :], u - low, v - low] = weight[:, :, a, b]
    return out


def unshuffled_input_kernel(kernel: torch.Tensor) -> torch.Tensor:
    """A kernel for ``pixel_unshuffle(x, 2)`` (``Cout x Cin*4 x k x k``, input channel ``c*4 + dy*2 + dx``)
    -> the same convolution as a stride-2 ``Cout x Cin x 2k x 2k`` kernel on ``x`` itself.

    Tap ``(u, v)`` of input phase ``(dy, dx)`` reads full-resolution pixel ``(2u + dy, 2v + dx)``, so
    ``conv2d(x, result, stride=2) == conv2d(pixel_unshuffle(x, 2), kernel)``: one convolution instead
    of a 6-d transpose and a convolution (what the ONNX export uses; onnxruntime's transposes are slow).
    """
    cout, channels, k, k2 = kernel.shape
    if channels % 4 or k != k2:
        raise ValueError(f"expected a Cout x Cin*4 x k x k phase kernel, got {tuple(kernel.shape)}")
    phases = kernel.reshape(cout, channels // 4, 2, 2, k, k)  # o, c, dy, dx, u, v
    return phases.permute(0, 1, 4, 2, 5, 3).reshape(cout, channels // 4, 2 * k, 2 * k).contiguous()


def upsample_conv_kernel(weight: torch.Tensor) -> torch.Tensor:
    """Kernel that does "nearest x2 upsample, then 3x3 conv" as one 3x3 conv at the low resolution.

    ``weight``: ``Cout x Cin x 3 x 3``. Returns ``4*Cout x Cin x 3 x 3`` whose output is the upsampled
    convolution's output in phases (``pixel_shuffle(out, 2)`` gives it at full resolution). Output row
    ``2i + p`` of the upsampled conv reads low-res rows ``i-1, i, i`` (taps 0, 1, 2) for ``p = 0`` and
    ``i, i, i+1`` for ``p = 1``; the same holds for columns. Reflect padding by 1 of the upsampled input
    equals replicate padding by 1 of the low-res input, so the caller pads with ``replicate``.
    """
    w0, w1, w2 = weight.unbind(dim=2)  # rows
    zero = torch.zeros_like(w0)
    rows = (torch.stack((w0, w1 + w2, zero), dim=2), torch.stack((zero, w0 + w1, w2), dim=2))
    phases = []
    for by_row in rows:
        c0, c1, c2 = by_row.unbind(dim=3)  # columns
        zc = torch.zeros_like(c0)
        phases.append(torch.stack((c0, c1 + c2, zc), dim=3))
        phases.append(torch.stack((zc, c0 + c1, c2), dim=3))
    # pixel_shuffle expects channel index c * 4 + row_phase * 2 + col_phase
    return torch.stack(phases, dim=1).reshape(-1, *weight.shape[1:])


def _reflected_source(index: int, size: int) -> int:
    """The row that reflect padding copies into row ``index`` of a ``size``-row image (edge not repeated)."""
    if index < 0:
        return -index
    if index >= size:
        return 2 * (size - 1) - index
    return index


def reflect_pad_phases(x: torch.Tensor, pad: int) -> torch.Tensor:
    """``pixel_unshuffle(reflect_pad(pixel_shuffle(x, 2), pad), 2)`` without leaving the phases.

    ``x``: ``1 x 4C x h x w`` phases of a ``C x 2h x 2w`` image; ``pad`` even (full-resolution pixels on
    every side). Returns ``1 x 4C x (h + pad) x (w + pad)``, channels_last. Reflection keeps parity
    (the image size is even), so each phase plane is padded from itself: one interior copy and a few
    row and column copies.
    """
    if pad % 2 or pad <= 0:
        raise ValueError(f"pad must be even and positive, got {pad}")
    n, channels, h, w = x.shape
    k = pad // 2
    if k >= h or k >= w:
        raise ValueError(f"pad {pad} too large for {2 * h}x{2 * w}")
    out = torch.empty((n, channels, h + pad, w + pad), dtype=x.dtype, device=x.device,
                      memory_format=torch.channels_last)
    out[:, :, k : k + h, k : k + w] = x
    planes = out.unflatten(1, (channels // 4, 2, 2))  # n, C, row phase, column phase, h, w
    for phase in (0, 1):  # rows first, interior columns only
        for i in list(range(k)) + list(range(h + k, h + pad)):
            source = _reflected_source(2 * (i - k) + phase, 2 * h) // 2
            planes[:, :, phase, :, i, k : k + w] = planes[:, :, phase, :, k + source, k : k + w]
    for phase in (0, 1):  # then whole columns, corners included
        for j in list(range(k)) + list(range(w + k, w + pad)):
            source = _reflected_source(2 * (j - k) + phase, 2 * w) // 2
            planes[:, :, :, phase, :, j] = planes[:, :, :, phase, :, k + source]
    return out
