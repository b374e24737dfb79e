"""Instance-norm statistics of the Magenta transformer, for the whole frame or per region.

With two styles mixed by a mask, statistics over the whole frame would tie the regions together: the
background's style shifts the frame's mean and variance, and with them the person's colours (a
stained-glass background turned a face olive-green). ``region_affines`` gives each region its own
statistics instead, weighted by the soft mask (person: ``m``, background: ``1 - m``), so a region's
look depends only on its own style and content, up to the band along the edge where the
convolutions see across it (which is left out of the statistics, ``ERODE_PIXELS``). The cost is one extra elementwise pass (``x_hat ** 2``) and a thin matrix product
per norm layer; no second forward pass.

Layouts: ``x_hat`` is ``1xC'xhxw`` channels-last, ``C' = C * phases``; with ``phases`` 4 each layer
channel ``c`` is held as four phase channels ``c*4 + p`` (2x2 pixel phases at half resolution) and
statistics pool them. All statistics are float32 whatever the activations' dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

#: Weight, as a fraction of the frame's pixels, of the whole-frame statistics mixed into a region's
#: own: a region covering 1 % of the frame gets half its own statistics, an empty region the frame's
#: (so statistics stay defined and change smoothly as a region shrinks to nothing).
REGION_PRIOR = 0.01
#: The statistics of a region leave out a band this wide (in the layer's own pixels) along its edge,
#: where the convolutions mix in the other region's features: measured on two photos, the person's
#: interior (24 px from the edge) then moves 0.8-1.3/255 instead of 1.4-2.4/255 when only the other
#: region's style changes.
ERODE_PIXELS = 2


@dataclass(frozen=True)
class Moments:
    """Per phase channel (``C'``, float32): ``x = mean + scale * x_hat``; ``hat_square``: mean of ``x_hat**2``;
    ``pixels``: ``h * w`` (a 0-d tensor while exporting to ONNX)."""

    mean: torch.Tensor
    scale: torch.Tensor
    hat_square: torch.Tensor
    pixels: int | torch.Tensor


def normalize(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, Moments]:
    """Instance-normalize every channel of ``x`` (``1xCxhxw``): ``(x_hat, moments)``.

    ``F.batch_norm`` in training mode on a batch of one computes the instance statistics in float32
    for any input dtype in one fused pass and leaves them in the running buffers (``momentum`` 1).
    While exporting to ONNX (which has no such batch norm) the same is written with ``var_mean``, and
    the pixel count is computed in the graph so that height and width stay free.
    """
    if torch.onnx.is_in_onnx_export():
        var, mean = torch.var_mean(x, dim=(0, 2, 3), unbiased=False)
        scale = (var + eps).sqrt()
        x_hat = (x - mean.view(1, -1, 1, 1)) / scale.view(1, -1, 1, 1)
        return x_hat, Moments(mean, scale, var / (var + eps), torch.ones_like(x[0, 0]).sum())
    channels, pixels = x.shape[1], x.shape[2] * x.shape[3]
    mean = torch.zeros(channels, device=x.device)
    var = torch.ones(channels, device=x.device)
    x_hat = F.batch_norm(x, mean, var, training=True, momentum=1.0, eps=eps)
    var = var * ((pixels - 1) / pixels)  # the running variance is unbiased
    return x_hat, Moments(mean, (var + eps).sqrt(), var / (var + eps), pixels)


def pooled_affine(moments: Moments, phases: int, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole-frame statistics: ``(gain, offset)`` (``C'``) turning per-phase ``x_hat`` into the layer's
    normalization pooled over the ``phases`` phase channels of each channel."""
    mean, scale = moments.mean.view(-1, phases), moments.scale.view(-1, phases)
    pooled_mean = mean.mean(dim=1, keepdim=True)
    second = (scale * scale * moments.hat_square.view(-1, phases) + (mean - pooled_mean) ** 2).mean(dim=1, keepdim=True)
    rstd = (second + eps).rsqrt()
    return (scale * rstd).reshape(-1), ((mean - pooled_mean) * rstd).reshape(-1)


def min_filter(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Minimum over each ``(2r+1)^2`` window of ``1xPxhxw`` (the border repeats, i.e. is ignored).

    Written as shifted minimums, rows then columns: on these one-to-four-channel maps torch's
    ``max_pool2d`` took 3-12 ms a call on the CPU, this 0.03-0.2 ms.
    """
    if radius <= 0:
        return x
    if torch.onnx.is_in_onnx_export():  # one MaxPool node instead of 4r slices and minimums
        padded = F.pad(x, (radius, radius, radius, radius), mode="replicate")
        return -F.max_pool2d(-padded, 2 * radius + 1, stride=1)
    height, width = x.shape[-2:]
    padded = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    rows = padded[..., 0:height, :]
    for i in range(1, 2 * radius + 1):
        rows = torch.minimum(rows, padded[..., i : i + height, :])
    out = rows[..., 0:width]
    for j in range(1, 2 * radius + 1):
        out = torch.minimum(out, rows[..., j : j + width])
    return out


def region_weights(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``1xPxhxw`` mask (``P`` phases, or 1) -> ``(h*w) x 2P`` statistics weights (person, background)
    in ``dtype``: ``m`` and ``1 - m``, each eroded by ``ERODE_PIXELS`` (a minimum filter)."""
    phases, m = mask.shape[1], mask.float()
    person, background = min_filter(m, ERODE_PIXELS), min_filter(1.0 - m, ERODE_PIXELS)

    def rows(t: torch.Tensor) -> torch.Tensor:
        return t.permute(0, 2, 3, 1).reshape(-1, phases)

    return torch.cat([rows(person), rows(background)], dim=1).to(dtype).contiguous()


def region_affines(x_hat: torch.Tensor, moments: Moments, weights: torch.Tensor, phases: int,
                   eps: float) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Per-region ``(gain, offset)`` pairs (``C'`` each, float32), person first then background.

    Region ``r`` normalizes channel ``c`` with its weighted mean and variance (pooled over phases),
    so its normalized value is ``x_hat * gain_r + offset_r``. ``weights``: ``region_weights`` at
    ``x_hat``'s resolution and phase layout.
    """
    channels = x_hat.shape[1]
    if torch.onnx.is_in_onnx_export():  # ONNX tensors are NCHW: C' x hw is free, hw x C' a transpose
        flat = x_hat.reshape(channels, -1)
        sums = torch.stack([flat.mm(weights).t(), (flat * flat).mm(weights).t()]).float()
    else:
        rows = x_hat.permute(0, 2, 3, 1).reshape(-1, channels)  # a view for channels-last
        sums = torch.stack([weights.t().mm(rows), weights.t().mm(rows * rows)]).float()  # 2 x 2P x C'
    # keep each phase's own weights: entry [region, p, c*P + p]
    sums = sums.view(2, 2, phases, channels // phases, phases).diagonal(dim1=2, dim2=4)  # 2 x 2 x C x P
    first_hat, second_hat = sums[0], sums[1]
    weight = weights.float().sum(dim=0).view(2, 1, phases)  # region x 1 x P
    mean, scale = moments.mean.view(1, -1, phases), moments.scale.view(1, -1, phases)
    centre = mean.mean(dim=2, keepdim=True)  # the frame's mean of each channel
    shift = mean - centre
    # weighted moments of (x - centre), x = mean + scale * x_hat, summed over pixels and phases
    first = (shift * weight + scale * first_hat).sum(dim=2)
    second = (shift * shift * weight + 2 * shift * scale * first_hat + scale * scale * second_hat).sum(dim=2)
    total = moments.pixels * phases
    frame_second = (shift * shift + scale * scale * moments.hat_square.view(1, -1, phases)).mean(dim=2)
    prior = REGION_PRIOR * total
    count = weight.sum(dim=2) + prior  # region x 1
    region_first = first / count  # the frame's first moment about its centre is 0
    region_var = ((second + prior * frame_second) / count - region_first**2).clamp_(min=0.0)
    rstd = (region_var + eps).rsqrt().unsqueeze(2)
    gains = scale * rstd
    offsets = (shift - region_first.unsqueeze(2)) * rstd
    return ((gains[0].reshape(-1), offsets[0].reshape(-1)), (gains[1].reshape(-1), offsets[1].reshape(-1)))
