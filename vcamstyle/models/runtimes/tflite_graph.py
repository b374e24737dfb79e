"""Read a float TensorFlow Lite flatbuffer and replay its graph as a torch module.

``read_tflite(data)`` parses the flatbuffer (with the ``tflite`` package) into plain Python records;
``build_module(model)`` turns those records into a ``TFLiteModule``: a ``torch.fx`` graph whose nodes
replay the TFLite ops in NCHW. Weights are converted to torch layout once, at build time, and become
parameters (convolutions) or buffers (other constants); nothing of the flatbuffer is kept.

Scope: one subgraph, one 4-D float32 NHWC input, one 4-D output, static shapes, and the ops in
``SUPPORTED_OPS`` (what MediaPipe's selfie segmentation models use). Anything else raises
``UnsupportedOpError`` naming the op, so a new model fails loudly at load, never silently at run time.
"""

from __future__ import annotations

import logging
import struct
from typing import Any, Callable

import numpy as np
import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F
from tflite.ActivationFunctionType import ActivationFunctionType
from tflite.Padding import Padding
from torch.fx.passes.shape_prop import ShapeProp

from vcamstyle.errors import WeightsError
from vcamstyle.models.runtimes.tflite_layers import LegacyBilinearResize, TransposeConvBias
from vcamstyle.models.runtimes.tflite_reader import (
    _REINSTALL_HINT,
    OpRecord,
    TensorRecord,
    TFLiteModelRecord,
    UnsupportedOpError,
    read_tflite,
)

log = logging.getLogger(__name__)

#: MediaPipe's transposed convolution with bias (custom op; semantics in ``TransposeConvBias``).
TRANSPOSE_CONV_BIAS = "Convolution2DTransposeBias"

# TfLitePadding as stored in the custom op's raw options (not the flatbuffer ``Padding`` enum).
_TFLITE_C_PADDING_SAME = 1
_TFLITE_C_PADDING_VALID = 2




class TFLiteModule(nn.Module):
    """A TFLite graph replayed in torch: ``1x C x H x W`` float (NCHW) in, NCHW out.

    ``input_shape``/``output_shape`` are the NCHW shapes the graph was built for (shapes are static);
    ``net`` is the ``torch.fx.GraphModule`` doing the work (trace or script that one directly).
    """

    def __init__(
        self,
        net: fx.GraphModule,
        input_shape: tuple[int, ...],
        output_shape: tuple[int, ...],
        description: str,
    ) -> None:
        super().__init__()
        self.net = net
        self.input_shape = input_shape
        self.output_shape = output_shape
        self.description = description

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``input_shape`` NCHW float -> ``output_shape`` NCHW float (same dtype and device)."""
        if tuple(x.shape) != self.input_shape:
            raise ValueError(f"{self.description}: expected input of shape {self.input_shape}, got {tuple(x.shape)}")
        return self.net(x)


# --------------------------------------------------------------------------------------------------
# Builder: records -> fx graph
# --------------------------------------------------------------------------------------------------


def _nchw(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[0], shape[3], shape[1], shape[2])


class _GraphBuilder:
    """Walks the ops in order and emits fx nodes; keeps the TFLite tensor -> fx value mapping."""

    def __init__(self, model: TFLiteModelRecord) -> None:
        self.model = model
        self.graph = fx.Graph()
        self.root = nn.Module()
        self.values: dict[int, fx.Node] = {}
        self.folded: dict[int, np.ndarray] = {}  # constants computed at build time (DEQUANTIZE)
        self.op: OpRecord | None = None

    # -- tensors --------------------------------------------------------------------------------

    def tensor(self, index: int) -> TensorRecord:
        return self.model.tensors[index]

    def is_constant(self, index: int) -> bool:
        return index in self.folded or self.tensor(index).data is not None

    def constant(self, index: int) -> np.ndarray:
        """A constant's value (float16 already widened by DEQUANTIZE) in TFLite layout."""
        if index in self.folded:
            return self.folded[index]
        data = self.tensor(index).data
        if data is None:
            self.fail(f"needs tensor {self.tensor(index).name!r} to be a constant, but it is computed")
        return data

    def activation(self, index: int) -> fx.Node:
        """The fx value of an activation (NCHW); a constant operand becomes an NCHW-broadcastable buffer."""
        if index in self.values:
            return self.values[index]
        if not self.is_constant(index):
            self.fail(f"reads tensor {self.tensor(index).name!r} before any op produces it")
        value = np.asarray(self.constant(index), dtype=np.float32)
        if value.ndim > 4:
            self.fail(f"constant operand {self.tensor(index).name!r} has rank {value.ndim}")
        value = value.reshape((1,) * (4 - value.ndim) + value.shape).transpose(0, 3, 1, 2)
        name = f"const_{index}"
        self.root.register_buffer(name, torch.from_numpy(np.ascontiguousarray(value)))
        node = self.graph.get_attr(name)
        self.values[index] = node
        return node

    def spatial_shape(self, index: int) -> tuple[int, int]:
        shape = self.tensor(index).shape
        if len(shape) != 4:
            self.fail(f"expects a 4-D NHWC tensor, got {self.tensor(index).name!r} of shape {shape}")
        return shape[1], shape[2]

    def set_output(self, node: fx.Node, slot: int = 0) -> None:
        assert self.op is not None
        index = self.op.outputs[slot]
        if len(self.tensor(index).shape) != 4:
            self.fail(f"produces {self.tensor(index).name!r} of shape {self.tensor(index).shape}; only 4-D is supported")
        node.meta["tflite_tensor"] = index
        self.values[index] = node

    # -- nodes ----------------------------------------------------------------------------------

    def call_module(self, module: nn.Module, *args: Any) -> fx.Node:
        assert self.op is not None
        name = f"op{self.op.index}_{self.op.name.lower()}"
        self.root.add_module(name, module)
        return self.graph.call_module(name, args)

    def call_function(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> fx.Node:
        return self.graph.call_function(fn, args, kwargs)

    def fused_activation(self, node: fx.Node, options: Any) -> fx.Node:
        kind = options.FusedActivationFunction()
        if kind == ActivationFunctionType.NONE:
            return node
        if kind == ActivationFunctionType.RELU:
            return self.call_function(F.relu, node)
        if kind == ActivationFunctionType.RELU6:
            return self.call_function(F.relu6, node)
        if kind == ActivationFunctionType.RELU_N1_TO_1:
            return self.call_function(torch.clamp, node, -1.0, 1.0)
        if kind == ActivationFunctionType.TANH:
            return self.call_function(torch.tanh, node)
        raise UnsupportedOpError(
            f"op #{self.op.index} {self.op.name}: fused activation {kind} is not supported", hint=_REINSTALL_HINT
        )

    def fail(self, message: str) -> None:
        where = f"op #{self.op.index} {self.op.name}" if self.op is not None else "graph"
        raise UnsupportedOpError(f"{where} {message}", hint=_REINSTALL_HINT)


def _padding(options_padding: int, size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TFLite padding for one spatial axis as (before, after); SAME puts the odd pixel after."""
    if options_padding == Padding.VALID:
        return 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _conv(b: _GraphBuilder, op: OpRecord, depthwise: bool) -> None:
    x_index, w_index = op.inputs[0], op.inputs[1]
    bias_index = op.inputs[2] if len(op.inputs) > 2 else -1
    options = op.options
    weight = np.asarray(b.constant(w_index), dtype=np.float32)
    in_channels = b.tensor(x_index).shape[3]
    in_h, in_w = b.spatial_shape(x_index)
    if depthwise:
        _, kh, kw, out_channels = weight.shape
        if out_channels % in_channels:
            b.fail(f"has {out_channels} outputs for {in_channels} inputs (not a depth multiple)")
        groups = in_channels
        torch_weight = weight.reshape(kh, kw, out_channels).transpose(2, 0, 1)[:, None]  # (O, 1, kh, kw)
    else:
        out_channels, kh, kw, weight_in = weight.shape
        if in_channels % weight_in:
            b.fail(f"has {weight_in} weight input channels for {in_channels} input channels")
        groups = in_channels // weight_in
        torch_weight = weight.transpose(0, 3, 1, 2)  # OHWI -> OIHW
    stride = (options.StrideH(), options.StrideW())
    dilation = (options.DilationHFactor(), options.DilationWFactor())
    top, bottom = _padding(options.Padding(), in_h, kh, stride[0], dilation[0])
    left, right = _padding(options.Padding(), in_w, kw, stride[1], dilation[1])
    symmetric = top == bottom and left == right
    conv = nn.Conv2d(
        in_channels,
        out_channels,
        (kh, kw),
        stride=stride,
        padding=(top, left) if symmetric else 0,
        dilation=dilation,
        groups=groups,
        bias=bias_index >= 0,
    )
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(torch_weight)))
        if bias_index >= 0:
            conv.bias.copy_(torch.from_numpy(np.asarray(b.constant(bias_index), dtype=np.float32).reshape(-1)))
    x = b.activation(x_index)
    if not symmetric:
        x = b.call_function(F.pad, x, (left, right, top, bottom))
    b.set_output(b.fused_activation(b.call_module(conv, x), options))


def _average_pool(b: _GraphBuilder, op: OpRecord) -> None:
    options = op.options
    in_h, in_w = b.spatial_shape(op.inputs[0])
    out_h, out_w = b.spatial_shape(op.outputs[0])
    kernel = (options.FilterHeight(), options.FilterWidth())
    stride = (options.StrideH(), options.StrideW())
    x = b.activation(op.inputs[0])
    if (out_h, out_w) == (1, 1) and kernel[0] >= in_h and kernel[1] >= in_w:
        y = b.call_function(torch.mean, x, dim=(2, 3), keepdim=True)
    else:
        pads = [_padding(options.Padding(), n, k, s, 1) for n, k, s in zip((in_h, in_w), kernel, stride)]
        if any(before != after for before, after in pads):
            b.fail("uses asymmetric SAME padding, which is only supported for a global pool")
        # TFLite averages over the valid pixels only, i.e. count_include_pad=False.
        y = b.call_function(
            F.avg_pool2d, x, kernel, stride, padding=(pads[0][0], pads[1][0]), count_include_pad=False
        )
    b.set_output(b.fused_activation(y, options))


def _mean(b: _GraphBuilder, op: OpRecord) -> None:
    axes = np.asarray(b.constant(op.inputs[1])).reshape(-1)
    if not op.options.KeepDims():
        b.fail("without keep_dims changes the rank; only keep_dims=True is supported")
    nhwc_to_nchw = {0: 0, 1: 2, 2: 3, 3: 1}
    dims = tuple(sorted(nhwc_to_nchw[int(a) % 4] for a in axes))
    b.set_output(b.call_function(torch.mean, b.activation(op.inputs[0]), dim=dims, keepdim=True))


def _binary(fn: Callable[..., torch.Tensor]) -> Callable[[_GraphBuilder, OpRecord], None]:
    def build(b: _GraphBuilder, op: OpRecord) -> None:
        y = b.call_function(fn, b.activation(op.inputs[0]), b.activation(op.inputs[1]))
        b.set_output(b.fused_activation(y, op.options) if op.options is not None else y)

    return build


def _unary(fn: Callable[..., torch.Tensor]) -> Callable[[_GraphBuilder, OpRecord], None]:
    def build(b: _GraphBuilder, op: OpRecord) -> None:
        b.set_output(b.call_function(fn, b.activation(op.inputs[0])))

    return build


def _resize_bilinear(b: _GraphBuilder, op: OpRecord) -> None:
    size = tuple(int(v) for v in np.asarray(b.constant(op.inputs[1])).reshape(-1))
    if len(size) != 2:
        b.fail(f"has a size tensor of {len(size)} values, expected 2")
    align_corners = op.options.AlignCorners() if op.options is not None else False
    half_pixel = op.options.HalfPixelCenters() if op.options is not None else False
    x = b.activation(op.inputs[0])
    if align_corners and half_pixel:
        b.fail("sets both align_corners and half_pixel_centers, which TFLite rejects")
    if align_corners or half_pixel:
        # half-pixel centres are exactly torch's align_corners=False (negative sources clamp to 0).
        y = b.call_function(F.interpolate, x, size=size, mode="bilinear", align_corners=align_corners)
    else:
        y = b.call_module(LegacyBilinearResize(b.spatial_shape(op.inputs[0]), size), x)
    b.set_output(y)


def _dequantize(b: _GraphBuilder, op: OpRecord) -> None:
    source = b.tensor(op.inputs[0])
    if source.data is None:
        b.fail("dequantizes a computed tensor; only constant weights are supported")
    if source.dtype not in (np.dtype("<f2"), np.dtype("<f4")):
        b.fail(f"dequantizes {source.dtype} data; only float16 constants are supported")
    b.folded[op.outputs[0]] = source.data.astype(np.float32)


def _transpose_conv_bias(b: _GraphBuilder, op: OpRecord) -> None:
    if len(op.custom_options) < 12:
        b.fail(f"has {len(op.custom_options)} bytes of options, expected 12 (padding, stride_w, stride_h)")
    padding, stride_w, stride_h = struct.unpack_from("<3i", op.custom_options)
    if padding not in (_TFLITE_C_PADDING_SAME, _TFLITE_C_PADDING_VALID):
        b.fail(f"has unknown padding code {padding}")
    weight = np.asarray(b.constant(op.inputs[1]), dtype=np.float32)
    bias = np.asarray(b.constant(op.inputs[2]), dtype=np.float32)
    module = TransposeConvBias(
        weight, bias, (stride_h, stride_w), padding == _TFLITE_C_PADDING_SAME, b.spatial_shape(op.inputs[0])
    )
    b.set_output(b.call_module(module, b.activation(op.inputs[0])))


_OP_BUILDERS: dict[str, Callable[[_GraphBuilder, OpRecord], None]] = {
    "CONV_2D": lambda b, op: _conv(b, op, depthwise=False),
    "DEPTHWISE_CONV_2D": lambda b, op: _conv(b, op, depthwise=True),
    "HARD_SWISH": _unary(F.hardswish),
    "RELU": _unary(F.relu),
    "LOGISTIC": _unary(torch.sigmoid),
    "AVERAGE_POOL_2D": _average_pool,
    "MEAN": _mean,
    "MUL": _binary(torch.mul),
    "ADD": _binary(torch.add),
    "RESIZE_BILINEAR": _resize_bilinear,
    "DEQUANTIZE": _dequantize,
    TRANSPOSE_CONV_BIAS: _transpose_conv_bias,
}

#: Op names ``build_module`` can replay (builtin names, plus the MediaPipe custom op).
SUPPORTED_OPS: frozenset[str] = frozenset(_OP_BUILDERS)


def build_module(model: TFLiteModelRecord, verify_shapes: bool = True) -> TFLiteModule:
    """Replay ``model`` as a float32 ``TFLiteModule`` on the CPU (eval mode, no gradients).

    ``verify_shapes`` runs one zero input through the result and checks every tensor's shape against
    the shapes stored in the file (about one forward pass of cost); a mismatch raises ``WeightsError``.
    """
    unknown = sorted({op.name for op in model.ops} - SUPPORTED_OPS)
    if unknown:
        first = next(op for op in model.ops if op.name in unknown)
        raise UnsupportedOpError(
            f"TFLite op {first.name} (op #{first.index}) is not supported by vcamstyle's TFLite reader"
            + (f"; other unsupported ops: {', '.join(n for n in unknown if n != first.name)}" if len(unknown) > 1 else "")
            + f"; supported: {', '.join(sorted(SUPPORTED_OPS))}",
            hint="use a model built from the supported ops, or extend vcamstyle.models.runtimes.tflite_graph",
        )
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UnsupportedOpError(
            f"graph has {len(model.inputs)} inputs and {len(model.outputs)} outputs; exactly one of each is supported",
            hint=_REINSTALL_HINT,
        )
    builder = _GraphBuilder(model)
    input_tensor = model.tensors[model.inputs[0]]
    if len(input_tensor.shape) != 4 or input_tensor.dtype != np.dtype("<f4"):
        raise UnsupportedOpError(
            f"graph input {input_tensor.name!r} is {input_tensor.dtype} {input_tensor.shape}; expected 4-D float32 NHWC",
            hint=_REINSTALL_HINT,
        )
    builder.values[input_tensor.index] = builder.graph.placeholder("x")
    for op in model.ops:
        builder.op = op
        _OP_BUILDERS[op.name](builder, op)
    builder.op = None
    output_index = model.outputs[0]
    if output_index not in builder.values:
        raise WeightsError(f"graph output {model.tensors[output_index].name!r} is never computed", hint=_REINSTALL_HINT)
    builder.graph.output(builder.values[output_index])
    net = fx.GraphModule(builder.root, builder.graph, class_name="TFLiteGraph")
    if net.graph.eliminate_dead_code():
        net.delete_all_unused_submodules()
        net.recompile()
    net.eval().requires_grad_(False)
    input_shape = _nchw(input_tensor.shape)
    output_shape = _nchw(model.tensors[output_index].shape)
    if verify_shapes:
        _verify_shapes(net, model, input_shape)
    log.debug("built %r: %d ops, input %s, output %s", model.description, len(model.ops), input_shape, output_shape)
    return TFLiteModule(net, input_shape, output_shape, model.description or "TFLite graph")


def _verify_shapes(net: fx.GraphModule, model: TFLiteModelRecord, input_shape: tuple[int, ...]) -> None:
    with torch.no_grad():
        ShapeProp(net).propagate(torch.zeros(input_shape))
    for node in net.graph.nodes:
        index = node.meta.get("tflite_tensor")
        if index is None:
            continue
        expected = _nchw(model.tensors[index].shape)
        got = tuple(node.meta["tensor_meta"].shape)
        if got != expected:
            raise WeightsError(
                f"TFLite tensor {model.tensors[index].name!r}: replay gives shape {got}, the file says {expected}",
                hint=_REINSTALL_HINT,
            )


def load_tflite_module(data: bytes) -> TFLiteModule:
    """``read_tflite`` + ``build_module``: the bytes of a ``.tflite`` file -> a float32 CPU module."""
    return build_module(read_tflite(data))
