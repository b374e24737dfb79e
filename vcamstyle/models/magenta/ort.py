"""The Magenta transformer exported to ONNX and run by onnxruntime: the float32 CPU path.

Measured on 2 cores in one process, alternating frame by frame with the torch module (456x256, two
styles, float32): onnxruntime was 1.25-1.4x faster with one thread, and with two threads on a CPU
kept busy by other programs 190 ms against 2.3 s, because its threads sleep when they wait instead of
spinning against the other program (torch's OpenMP threads spin). bfloat16 (CPUs with native support)
and CUDA stay in torch: onnxruntime has no bfloat16 convolutions on the CPU.

One graph is exported once per transformer, with free height, width and number of style streams
(one: a single style; two: the person's and the background's). ``OrtTransformer`` is called like the
torch module (``1x3xHxW`` float32 [0,1] image, ``NormParams`` of ``B`` streams -> ``Bx3xHxW``).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from vcamstyle.models.magenta.transformer import NORM_CHANNELS, MagentaTransformer, NormParams
from vcamstyle.models.runtimes.onnx_export import export_onnx, threads_session


def _split(values: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return tuple(part.reshape(values.shape[0], -1, 1, 1) for part in values.split(NORM_CHANNELS, dim=1))


def _flat(params: NormParams) -> tuple[np.ndarray, np.ndarray]:
    """``NormParams`` of ``B`` streams -> two ``Bx347`` float32 arrays (gammas, betas of all layers in order)."""
    flat = [torch.cat([p.reshape(p.shape[0], -1) for p in group], dim=1).float().cpu().numpy()
            for group in (params.gammas, params.betas)]
    return flat[0], flat[1]


class _Streams(nn.Module):
    def __init__(self, net: MagentaTransformer) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        return self.net(image, NormParams(_split(gamma), _split(beta)))


INPUTS = ("image", "gamma", "beta")


def export_graph(net: MagentaTransformer) -> bytes:
    """The graph of ``net`` (float32, CPU) as ONNX bytes: height, width and the number of streams free."""
    net = net.float().cpu().eval()
    image, params = torch.rand(1, 3, 64, 96), torch.zeros(2, sum(NORM_CHANNELS))
    streams = {0: "streams"}
    return export_onnx(_Streams(net), (image, params, params), INPUTS, ["styled"],
                       {"image": {2: "height", 3: "width"}, "gamma": streams, "beta": streams,
                        "styled": {0: "streams", 2: "height", 3: "width"}})


#: Exported graphs of the shipped weights (by their sha256): rebuilding the stylizer does not export again.
_EXPORTED: dict[str, bytes] = {}


class OrtTransformer:
    """``MagentaTransformer.forward`` in onnxruntime (CPU, float32); same call, same result to ~1e-5.

    Runs with ``compute.network_threads()`` threads at call time (``threads: auto`` changes that while
    running), one session per count, made when first needed. ``cache_key``: the weights'
    identity (the file's sha256) when they are the shipped ones, so the export happens once per process.
    """

    def __init__(self, net: MagentaTransformer, cache_key: str | None = None) -> None:
        graph = _EXPORTED.get(cache_key) if cache_key else None
        if graph is None:
            graph = export_graph(net)
            if cache_key:
                _EXPORTED[cache_key] = graph
        self._graph = graph
        self._sessions: dict[int, ort.InferenceSession] = {}
        threads_session(self._sessions, self._graph)  # ready before the first frame

    def __call__(self, image: torch.Tensor, params: NormParams) -> torch.Tensor:
        """``image`` ``1x3xHxW`` float32 [0,1] (H, W multiples of 4, >= 8) -> ``Bx3xHxW`` float32 [0,1], one
        per stream of ``params``."""
        height, width = image.shape[-2:]
        if height % 4 or width % 4 or height < 8 or width < 8:
            raise ValueError(f"MagentaTransformer needs H and W that are multiples of 4 and >= 8, got {height}x{width}")
        gamma, beta = _flat(params)
        feed = {"image": image.detach().float().cpu().contiguous().numpy(), "gamma": gamma, "beta": beta}
        (styled,) = threads_session(self._sessions, self._graph).run(None, feed)
        return torch.from_numpy(styled)
