"""Instance-norm statistics of the Magenta transformer, one set per style stream.

The transformer runs a batch of ``B`` style streams over the same content (``B`` = 2: the person's
style and the background's, each over the whole frame). Every stream is normalized with its own
statistics over the whole frame, so a stream depends only on the content and its own style: the
person's stream is the same whatever the background's style is (and vice versa), exactly.

Layouts: ``x`` is ``BxC'xhxw`` (channels-last in torch), ``C' = C * phases``; with ``phases`` 4 each
layer channel ``c`` is held as four phase channels ``c*4 + p`` (2x2 pixel phases at half resolution)
and statistics pool them. All statistics are float32 whatever the activations' dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Moments:
    """Per stream and phase channel (``BxC'``, float32): ``x = mean + scale * x_hat``; ``hat_square``:
    mean of ``x_hat**2`` (1 up to epsilon)."""

    mean: torch.Tensor
    scale: torch.Tensor
    hat_square: torch.Tensor


def normalize(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, Moments]:
    """Instance-normalize every channel of every stream of ``x`` (``BxCxhxw``): ``(x_hat, moments)``.

    ``F.batch_norm`` in training mode on each stream (a batch of one) computes its statistics in
    float32 for any input dtype in one fused pass and leaves them in the running buffers (``momentum``
    1). While exporting to ONNX (which has no such batch norm) the same is written with ``var_mean``.
    """
    streams, channels = x.shape[0], x.shape[1]
    if torch.onnx.is_in_onnx_export():
        var, mean = torch.var_mean(x, dim=(2, 3), unbiased=False, keepdim=True)
        scale = (var + eps).sqrt()
        x_hat = (x - mean) / scale
        return x_hat, Moments(mean.flatten(1), scale.flatten(1), (var / (var + eps)).flatten(1))
    pixels = x.shape[2] * x.shape[3]
    means, variances, parts = [], [], []
    for stream in range(streams):  # a batch slice is a view, also channels-last
        mean = torch.zeros(channels, device=x.device)
        var = torch.ones(channels, device=x.device)
        parts.append(F.batch_norm(x[stream : stream + 1], mean, var, training=True, momentum=1.0, eps=eps))
        means.append(mean)
        variances.append(var * ((pixels - 1) / pixels))  # the running variance is unbiased
    x_hat = parts[0] if streams == 1 else torch.cat(parts)
    mean, var = torch.stack(means), torch.stack(variances)
    return x_hat, Moments(mean, (var + eps).sqrt(), var / (var + eps))


def pooled_affine(moments: Moments, phases: int, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Statistics pooled over the ``phases`` phase channels of each channel: ``(gain, offset)``
    (``BxC'``) turning per-phase ``x_hat`` into the layer's per-channel normalization."""
    streams = moments.mean.shape[0]
    mean, scale = moments.mean.view(streams, -1, phases), moments.scale.view(streams, -1, phases)
    pooled_mean = mean.mean(dim=2, keepdim=True)
    second = (scale * scale * moments.hat_square.view(streams, -1, phases) + (mean - pooled_mean) ** 2).mean(dim=2, keepdim=True)
    rstd = (second + eps).rsqrt()
    return (scale * rstd).reshape(streams, -1), ((mean - pooled_mean) * rstd).reshape(streams, -1)
