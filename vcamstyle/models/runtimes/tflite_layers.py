"""Torch layers for the TFLite ops that torch.nn has no exact equivalent of.

Layout: NCHW float tensors in and out, as in the rest of the replayed graph.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn


class TransposeConvBias(nn.Module):
    """MediaPipe's ``Convolution2DTransposeBias`` in NCHW.

    Every input pixel ``(y, x)`` scatters ``input * weight`` to output ``(y*s - pad/2 + ky, ...)``,
    starting from the bias; ``pad = max(0, k - (in - 1) % s - 1)`` for SAME, 0 for VALID, and the
    output is ``s*(in-1) + k - pad`` long. That equals a full (unpadded) transposed convolution
    cropped by ``pad // 2`` at the start. Weights are given in TFLite's OHWI layout.
    """

    def __init__(
        self,
        weight_ohwi: np.ndarray,
        bias: np.ndarray,
        stride: tuple[int, int],
        same_padding: bool,
        input_hw: tuple[int, int],
    ) -> None:
        super().__init__()
        out_channels, kh, kw, in_channels = weight_ohwi.shape
        self.deconv = nn.ConvTranspose2d(in_channels, out_channels, (kh, kw), stride=stride, bias=True)
        with torch.no_grad():
            self.deconv.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight_ohwi.transpose(3, 0, 1, 2))))
            self.deconv.bias.copy_(torch.from_numpy(np.ascontiguousarray(bias.reshape(out_channels))))
        crops = []
        for size, k, s in zip(input_hw, (kh, kw), stride):
            pad = max(0, k - (size - 1) % s - 1) if same_padding else 0
            crops.append((pad // 2, s * (size - 1) + k - pad))
        (self.top, self.height), (self.left, self.width) = crops

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``NxCxHxW`` -> ``NxOx(out_h)x(out_w)``."""
        y = self.deconv(x)
        return y[:, :, self.top : self.top + self.height, self.left : self.left + self.width]


class LegacyBilinearResize(nn.Module):
    """TFLite RESIZE_BILINEAR with ``align_corners = half_pixel_centers = False``: the source of output
    pixel ``i`` is ``i * in / out`` (no half-pixel shift), which ``F.interpolate`` has no mode for.
    Implemented as two interpolation matrices (``out = A_h @ x @ A_w^T``) built once."""

    def __init__(self, input_hw: tuple[int, int], output_hw: tuple[int, int]) -> None:
        super().__init__()
        self.register_buffer("rows", _legacy_interpolation_matrix(input_hw[0], output_hw[0]))
        self.register_buffer("cols_t", _legacy_interpolation_matrix(input_hw[1], output_hw[1]).t().contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``NxCxHxW`` -> ``NxCx(out_h)x(out_w)``."""
        return torch.matmul(torch.matmul(self.rows, x), self.cols_t)


def _legacy_interpolation_matrix(size_in: int, size_out: int) -> torch.Tensor:
    matrix = torch.zeros(size_out, size_in, dtype=torch.float32)
    scale = size_in / size_out
    for i in range(size_out):
        source = i * scale
        low = min(int(np.floor(source)), size_in - 1)
        high = min(low + 1, size_in - 1)
        frac = source - low
        matrix[i, low] += 1.0 - frac
        matrix[i, high] += frac
    return matrix
