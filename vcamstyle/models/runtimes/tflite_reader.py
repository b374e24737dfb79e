"""Read a float TensorFlow Lite flatbuffer into plain Python records (no torch).

``read_tflite(data)`` parses the flatbuffer (with the ``tflite`` package) into ``TFLiteModelRecord``:
tensors with their NHWC shapes and constant data as numpy arrays, ops with their options. The graph
builder (``tflite_graph``) turns these records into a torch module.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import tflite
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions
from tflite.TensorType import TensorType

from vcamstyle.errors import WeightsError

_BUILTIN_NAMES: dict[int, str] = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}


_OPTIONS_NAMES: dict[int, str] = {v: k for k, v in vars(BuiltinOptions).items() if not k.startswith("_")}


_NUMPY_TYPES: dict[int, np.dtype] = {
    TensorType.FLOAT32: np.dtype("<f4"),
    TensorType.FLOAT16: np.dtype("<f2"),
    TensorType.INT32: np.dtype("<i4"),
    TensorType.INT64: np.dtype("<i8"),
    TensorType.UINT8: np.dtype("u1"),
    TensorType.INT8: np.dtype("i1"),
}


_REINSTALL_HINT = "the model file does not fit this reader; reinstall vcamstyle to restore the packaged model"


class UnsupportedOpError(WeightsError):
    """The TFLite graph uses an op (or an op variant) that ``build_module`` cannot replay."""


@dataclass(frozen=True)
class TensorRecord:
    """One TFLite tensor. ``shape`` is as stored (NHWC for 4-D activations); ``dtype`` is ``None`` for
    TFLite types this reader does not map; ``data`` holds a constant's contents in the stored dtype
    (``None`` for activations)."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype | None
    data: np.ndarray | None


@dataclass(frozen=True)
class OpRecord:
    """One TFLite operator in execution order. ``name`` is the builtin name (``"CONV_2D"``) or, for a
    custom op, its custom code. ``options`` is the typed options table from ``tflite`` (or ``None``);
    ``inputs`` may hold ``-1`` for an omitted optional input."""

    index: int
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Any
    custom_options: bytes


@dataclass(frozen=True)
class TFLiteModelRecord:
    """The parsed first subgraph of a ``.tflite`` file."""

    description: str
    tensors: tuple[TensorRecord, ...]
    ops: tuple[OpRecord, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


def read_tflite(data: bytes) -> TFLiteModelRecord:
    """Parse a ``.tflite`` flatbuffer. Raises ``WeightsError`` if it is not one or is malformed."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise WeightsError("not a TensorFlow Lite model (missing the TFL3 identifier)", hint=_REINSTALL_HINT)
    try:
        model = tflite.Model.GetRootAs(data, 0)
        if model.SubgraphsLength() < 1:
            raise WeightsError("TFLite model has no subgraph", hint=_REINSTALL_HINT)
        subgraph = model.Subgraphs(0)
        tensors = tuple(_read_tensor(model, subgraph, i, data) for i in range(subgraph.TensorsLength()))
        ops = tuple(_read_op(model, subgraph, i) for i in range(subgraph.OperatorsLength()))
        description = (model.Description() or b"").decode("utf-8", "replace")
        inputs = tuple(int(i) for i in subgraph.InputsAsNumpy())
        outputs = tuple(int(i) for i in subgraph.OutputsAsNumpy())
    except (IndexError, struct.error, ValueError, UnicodeDecodeError) as err:
        raise WeightsError(f"malformed TFLite flatbuffer: {err}", hint=_REINSTALL_HINT) from err
    return TFLiteModelRecord(description, tensors, ops, inputs, outputs)


def _read_tensor(model: Any, subgraph: Any, index: int, raw: bytes) -> TensorRecord:
    tensor = subgraph.Tensors(index)
    shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
    name = (tensor.Name() or b"").decode("utf-8", "replace")
    dtype = _NUMPY_TYPES.get(tensor.Type())
    buffer = model.Buffers(tensor.Buffer())
    payload: bytes | None = None
    if buffer.DataLength():
        payload = buffer.DataAsNumpy().tobytes()
    elif buffer.Offset() > 1:  # large models keep constant data after the flatbuffer
        payload = raw[buffer.Offset() : buffer.Offset() + buffer.Size()]
    data = None
    if payload is not None:
        if dtype is None:
            raise UnsupportedOpError(
                f"constant tensor {name!r} has TFLite type {tensor.Type()}, which this reader does not handle",
                hint=_REINSTALL_HINT,
            )
        data = np.frombuffer(payload, dtype=dtype).reshape(shape)
    return TensorRecord(index, name, shape, dtype, data)


def _read_op(model: Any, subgraph: Any, index: int) -> OpRecord:
    op = subgraph.Operators(index)
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    name = _BUILTIN_NAMES.get(builtin, f"builtin operator {builtin}")
    if name == "CUSTOM":
        name = (code.CustomCode() or b"").decode("utf-8", "replace")
    options = None
    options_type = op.BuiltinOptionsType()
    if options_type:
        options_class = getattr(tflite, _OPTIONS_NAMES.get(options_type, ""), None)
        if options_class is not None:
            table = op.BuiltinOptions()
            options = options_class()
            options.Init(table.Bytes, table.Pos)
    custom = op.CustomOptionsAsNumpy().tobytes() if op.CustomOptionsLength() else b""
    return OpRecord(
        index,
        name,
        tuple(int(i) for i in op.InputsAsNumpy()) if op.InputsLength() else (),
        tuple(int(i) for i in op.OutputsAsNumpy()) if op.OutputsLength() else (),
        options,
        custom,
    )
