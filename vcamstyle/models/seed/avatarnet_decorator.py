"""Avatar-Net's style decorator on relu4_1 features: ZCA whitening and colouring, patch matching, reassembly.

Tensors are float features 1xCxHxW (or CxN matrices where noted); statistics and eigendecompositions
run in float32, falling back to float64 when float32 LAPACK does not converge. No module state: the
stylizer in ``avatarnet`` calls these once per style image and once per frame.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

#: Eigenvalues of the (pixel-normalised) covariance kept for whitening/colouring.
EIGEN_REL_TOL = 1e-5


EIGEN_ABS_TOL = 1e-8


#: Upper bound on elements of one score block (positions x patches) to bound memory.
SCORE_BLOCK_ELEMENTS = 1 << 24


def covariance_eigh(feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``1xCxHxW`` feature -> (mean ``Cx1``, eigenvalues ``C`` ascending, eigenvectors ``CxC``) of its
    pixel-normalised channel covariance, all float32."""
    flat = feature.float().flatten(2)[0]
    mean = flat.mean(dim=1, keepdim=True)
    centred = flat - mean
    cov = centred @ centred.T / max(1, centred.shape[1])
    try:
        evals, evecs = torch.linalg.eigh(cov)
    except torch.linalg.LinAlgError as exc:
        # LAPACK's float32 solver can fail on nearly singular covariances with many repeated eigenvalues
        # (dead channels, bfloat16-rounded features); float64 with a tiny ridge converges, and the
        # eigenvalues the ridge touches are below the tolerance that ``covariance_power`` drops anyway
        log.debug("covariance eigh retried in float64: %s", exc)
        ridge = cov.diagonal().mean().clamp(min=EIGEN_ABS_TOL).double() * 1e-7
        eye = torch.eye(cov.shape[0], dtype=torch.float64, device=cov.device)
        evals, evecs = torch.linalg.eigh(cov.double() + ridge * eye)
        evals, evecs = evals.float(), evecs.float()
    return mean, evals, evecs


def covariance_power(evals: torch.Tensor, evecs: torch.Tensor, power: float) -> torch.Tensor:
    """``evecs @ diag(evals**power) @ evecs.T`` over the eigenvalues above the tolerance (others 0)."""
    threshold = torch.clamp(evals.max() * EIGEN_REL_TOL, min=EIGEN_ABS_TOL)
    keep = evals > threshold
    scaled = torch.where(keep, evals.clamp(min=EIGEN_ABS_TOL).pow(power), torch.zeros_like(evals))
    return (evecs * scaled) @ evecs.T


def whiten(feature: torch.Tensor) -> torch.Tensor:
    """ZCA whitening: ``1xCxHxW`` -> float32 ``1xCxHxW`` with zero mean and identity (pixel-normalised)
    covariance on the kept eigen-directions."""
    mean, evals, evecs = covariance_eigh(feature)
    flat = covariance_power(evals, evecs, -0.5) @ (feature.float().flatten(2)[0] - mean)
    return flat.view(1, *feature.shape[1:])


def style_patch_kernels(whitened_style: torch.Tensor, patch_size: int, stride: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """All ``patch_size`` x ``patch_size`` patches of a whitened ``1xCxHxW`` style feature (zero padded
    so every position is a patch centre) -> (unit-norm kernels ``P x C*k*k``, their norms ``P``).

    Each kernel row is laid out (channel, row, column), like a ``conv2d`` weight ``[P, C, k, k]``.
    """
    pad = (patch_size - 1) // 2
    patches = F.unfold(whitened_style, patch_size, padding=pad, stride=stride)[0].T.contiguous()
    norms = patches.norm(dim=1)
    kernels = patches / norms.clamp(min=1e-12).unsqueeze(1)
    return kernels, norms


def content_patch_rows(whitened_content: torch.Tensor, patch_size: int, dtype: torch.dtype) -> torch.Tensor:
    """Every ``patch_size`` x ``patch_size`` patch of a whitened ``1xCxHxW`` content feature (zero padded,
    one per position, row-major) -> ``L x C*k*k`` rows in ``dtype``, laid out like the style kernels."""
    pad = (patch_size - 1) // 2
    return F.unfold(whitened_content.to(dtype), patch_size, padding=pad)[0].T


def match_patches(content_rows: torch.Tensor, kernels: torch.Tensor,
                  positions: torch.Tensor | None = None) -> torch.Tensor:
    """Index of the best style kernel (largest correlation) for the content patches at ``positions``
    (flat indices into HxW; all positions when None) -> ``long`` tensor of kernel indices.

    Equivalent to upstream's ``conv2d`` of the zero-padded whitened content with the normalised
    kernels followed by an argmax over the kernel axis; done as a blocked matmul to bound memory.
    """
    rows = content_rows if positions is None else content_rows[positions]
    block = max(1, SCORE_BLOCK_ELEMENTS // max(1, kernels.shape[0]))
    winners = [(rows[start:start + block] @ kernels.T).argmax(dim=1) for start in range(0, rows.shape[0], block)]
    return torch.cat(winners) if winners else torch.zeros(0, dtype=torch.long, device=kernels.device)


def overlap_counts(height: int, width: int, patch_size: int, device: torch.device) -> torch.Tensor:
    """``1x1xHxW`` float32: how many reassembled patches cover each position (9 inside, 6 on edges,
    4 in corners for 3x3), the divisor of upstream's ``norm_deconvolution``."""
    ones = torch.ones(1, patch_size * patch_size, height * width, device=device)
    return F.fold(ones, (height, width), patch_size, padding=(patch_size - 1) // 2)


def reassemble_patches(winners: torch.Tensor, kernels: torch.Tensor, norms: torch.Tensor,
                       size: tuple[int, int], patch_size: int, counts: torch.Tensor,
                       positions: torch.Tensor | None = None) -> torch.Tensor:
    """Place the unnormalised winning patch at every matched position and average the overlaps.

    ``winners[i]`` is the kernel index for position ``positions[i]`` (all positions when None);
    unmatched positions contribute nothing. Returns float32 ``1xCxHxW``; equals upstream's
    ``conv_transpose2d`` of the one-hot score map with the unnormalised patches, divided by ``counts``.
    """
    height, width = size
    chosen = kernels[winners] * norms[winners].to(kernels.dtype).unsqueeze(1)  # n x C*k*k
    if positions is not None:
        full = torch.zeros(height * width, kernels.shape[1], dtype=kernels.dtype, device=kernels.device)
        full[positions] = chosen
        chosen = full
    summed = F.fold(chosen.T.unsqueeze(0), (height, width), patch_size, padding=(patch_size - 1) // 2)
    return summed.float() / counts


def channel_std_mean(feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unbiased per-channel (std, mean) of ``1xCxHxW`` as float32 ``1xCx1x1`` (upstream's AdaIN)."""
    std, mean = torch.std_mean(feature.float().flatten(2), dim=2, keepdim=True)
    return std.unsqueeze(-1), mean.unsqueeze(-1)
