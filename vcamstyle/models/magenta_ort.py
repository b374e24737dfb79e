"""The Magenta transformer exported to ONNX and run by onnxruntime: the float32 CPU path.

Measured on 2 cores in one process, alternating frame by frame with the torch module (456x256, two
styles, float32): onnxruntime was 1.25-1.4x faster with one thread, and with two threads on a CPU
kept busy by other programs 190 ms against 2.3 s, because its threads sleep when they wait instead of
spinning against the other program (torch's OpenMP threads spin). bfloat16 (CPUs with native support)
and CUDA stay in torch: onnxruntime has no bfloat16 convolutions on the CPU.

Two graphs are exported once per transformer, with free height and width: one style, and two styles
mixed by a mask (per-region statistics, see ``magenta_norms``). ``OrtTransformer`` is called like
the torch module (``1x3xHxW`` float32 [0,1] image, ``NormParams``, optional mask).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from vcamstyle.compute import network_threads
from vcamstyle.models.magenta_transformer import NORM_CHANNELS, MagentaTransformer, NormParams
from vcamstyle.models.onnx_export import cpu_session, export_onnx


def _split(values: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return tuple(part.reshape(1, -1, 1, 1) for part in values.split(NORM_CHANNELS, dim=1))


def _flat(params: NormParams) -> tuple[np.ndarray, np.ndarray]:
    """``NormParams`` -> two ``1x347`` float32 arrays (gammas, betas of all layers in order)."""
    flat = [torch.cat([p.reshape(1, -1) for p in group], dim=1).float().cpu().numpy()
            for group in (params.gammas, params.betas)]
    return flat[0], flat[1]


class _OneStyle(nn.Module):
    def __init__(self, net: MagentaTransformer) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        return self.net(image, NormParams(_split(gamma), _split(beta)))


class _TwoStyles(_OneStyle):
    def forward(self, image: torch.Tensor, mask: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,  # type: ignore[override]
                gamma_2: torch.Tensor, beta_2: torch.Tensor) -> torch.Tensor:
        return self.net(image, NormParams(_split(gamma), _split(beta)), NormParams(_split(gamma_2), _split(beta_2)), mask)


ONE_INPUTS = ("image", "gamma", "beta")
TWO_INPUTS = ("image", "mask", "gamma", "beta", "gamma_2", "beta_2")


def export_graphs(net: MagentaTransformer) -> tuple[bytes, bytes]:
    """The one-style and two-style graphs of ``net`` (float32, CPU) as ONNX bytes, height and width free."""
    net = net.float().cpu().eval()
    image, mask = torch.rand(1, 3, 64, 96), (torch.rand(1, 1, 64, 96) > 0.5).float()
    params = torch.zeros(1, sum(NORM_CHANNELS))
    spatial = {2: "height", 3: "width"}
    graphs = []
    for module, names, args in ((_OneStyle(net), ONE_INPUTS, (image, params, params)),
                                (_TwoStyles(net), TWO_INPUTS, (image, mask, params, params, params, params))):
        graphs.append(export_onnx(module, args, names, ["styled"],
                                  {"image": spatial, "mask": spatial, "styled": spatial}))
    return graphs[0], graphs[1]


#: Exported graphs of the shipped weights (by their sha256): rebuilding the stylizer does not export again.
_EXPORTED: dict[str, tuple[bytes, bytes]] = {}


class OrtTransformer:
    """``MagentaTransformer.forward`` in onnxruntime (CPU, float32); same call, same result to ~1e-5.

    Runs with ``compute.network_threads()`` threads at call time (``threads: auto`` changes that while
    running), one session per count, made when first needed. ``cache_key``: the weights'
    identity (the file's sha256) when they are the shipped ones, so the export happens once per process.
    """

    def __init__(self, net: MagentaTransformer, cache_key: str | None = None) -> None:
        graphs = _EXPORTED.get(cache_key) if cache_key else None
        if graphs is None:
            graphs = export_graphs(net)
            if cache_key:
                _EXPORTED[cache_key] = graphs
        self._graphs = {"one": graphs[0], "two": graphs[1]}
        self._sessions: dict[tuple[str, int], ort.InferenceSession] = {}
        self._session("two")  # the common case, ready before the first frame

    def _session(self, kind: str) -> ort.InferenceSession:
        key = (kind, network_threads())
        if key not in self._sessions:
            self._sessions[key] = cpu_session(self._graphs[kind], key[1])
        return self._sessions[key]

    def __call__(self, image: torch.Tensor, first: NormParams, second: NormParams | None = None,
                 mask: torch.Tensor | None = None) -> torch.Tensor:
        """``image`` ``1x3xHxW`` float32 [0,1] (H, W multiples of 4, >= 8) -> ``1x3xHxW`` float32 [0,1]."""
        height, width = image.shape[-2:]
        if height % 4 or width % 4 or height < 8 or width < 8:
            raise ValueError(f"MagentaTransformer needs H and W that are multiples of 4 and >= 8, got {height}x{width}")
        pixels = image.detach().float().cpu().contiguous().numpy()
        gamma, beta = _flat(first)
        if second is None or mask is None:
            (styled,) = self._session("one").run(None, {"image": pixels, "gamma": gamma, "beta": beta})
        else:
            gamma_2, beta_2 = _flat(second)
            feed = {"image": pixels, "mask": mask.detach().float().cpu().contiguous().numpy(), "gamma": gamma,
                    "beta": beta, "gamma_2": gamma_2, "beta_2": beta_2}
            (styled,) = self._session("two").run(None, feed)
        return torch.from_numpy(styled)
