"""The embedded MediaPipe selfie segmenter and the TFLite reader behind it.

Agreement is checked against the reference runtime (``ai_edge_litert``) on real photos; the reader's
op semantics that the two MediaPipe models do not fully exercise (transposed-conv cropping, the three
RESIZE_BILINEAR modes, unknown ops) are checked on tiny graphs built here with ``flatbuffers``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
import tflite
import torch
import torch.nn.functional as F
from PIL import Image

from vcamstyle.errors import WeightsError
from vcamstyle.models.segmenters import selfie
from vcamstyle.models.base import Segmenter
from vcamstyle.models.registry import BuildOptions, create_segmenter, list_models
from vcamstyle.models.segmenters.selfie import (
    GENERAL,
    LANDSCAPE,
    SelfieModel,
    SelfieSegmenter,
    read_model_file,
)
from vcamstyle.models.runtimes.tflite_graph import (
    TRANSPOSE_CONV_BIAS,
    TransposeConvBias,
    UnsupportedOpError,
    build_module,
    load_tflite_module,
    read_tflite,
)

MODELS = {"general": GENERAL, "landscape": LANDSCAPE}


# --------------------------------------------------------------------------------------------------
# Photos and models
# --------------------------------------------------------------------------------------------------


def _to_frame(rgb: np.ndarray) -> torch.Tensor:
    """``HxWx3 uint8`` -> ``1x3xHxW float32`` in [0, 1]."""
    return torch.from_numpy(np.array(rgb)).permute(2, 0, 1)[None].float() / 255.0


@pytest.fixture(scope="module")
def photos() -> dict[str, torch.Tensor]:
    """Two real photos of people: scikit-image's astronaut (512x512) and matplotlib's Grace Hopper (600x512)."""
    skimage_data = pytest.importorskip("skimage.data")
    cbook = pytest.importorskip("matplotlib.cbook")
    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as image:
        hopper = np.asarray(image.convert("RGB"))
    return {"astronaut": _to_frame(skimage_data.astronaut()), "grace_hopper": _to_frame(hopper)}


@pytest.fixture(scope="module")
def segmenters() -> dict[str, SelfieSegmenter]:
    """One CPU segmenter per model, built once (the default onnxruntime path)."""
    return {key: SelfieSegmenter(model) for key, model in MODELS.items()}


@pytest.fixture(scope="module")
def torchscript_segmenters() -> dict[str, SelfieSegmenter]:
    """The TorchScript (traced and frozen, channels-last) path of each model."""
    return {key: SelfieSegmenter(model, runtime="torchscript") for key, model in MODELS.items()}


def _litert_mask(model: SelfieModel, x_nchw: torch.Tensor) -> np.ndarray:
    """Run the packaged file in the reference runtime; ``1x3xHxW`` in -> ``1x1xHxW`` numpy out."""
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    interpreter = interpreter_module.Interpreter(model_path=str(selfie.ASSETS_DIR / model.filename))
    interpreter.allocate_tensors()
    interpreter.set_tensor(
        interpreter.get_input_details()[0]["index"], x_nchw.permute(0, 2, 3, 1).contiguous().numpy()
    )
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).transpose(0, 3, 1, 2)


# --------------------------------------------------------------------------------------------------
# (1) agreement with LiteRT on real photos
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model_key", sorted(MODELS))
@pytest.mark.parametrize("photo_key", ["astronaut", "grace_hopper"])
def test_matches_litert_on_real_photos(
    model_key: str, photo_key: str, photos: dict[str, torch.Tensor], segmenters: dict[str, SelfieSegmenter],
    torchscript_segmenters: dict[str, SelfieSegmenter],
) -> None:
    model = MODELS[model_key]
    x = F.interpolate(photos[photo_key], size=model.input_size, mode="bilinear", antialias=True, align_corners=False)
    reference = _litert_mask(model, x)
    # The reference is a real segmentation, not a constant (else agreement would prove little).
    assert reference.max() > 0.99 and reference.min() < 0.01
    assert 0.1 < (reference > 0.5).mean() < 0.9

    eager = load_tflite_module(read_model_file(model))
    with torch.no_grad():
        eager_mask = eager(x).numpy()
    assert np.abs(eager_mask - reference).max() < 1e-3

    # The fast paths (onnxruntime; TorchScript); an input already at the model size is not resized.
    for fast in (segmenters[model_key], torchscript_segmenters[model_key]):
        fast_mask = fast.segment(x).numpy()
        assert fast_mask.shape == reference.shape
        assert np.abs(fast_mask - reference).max() < 1e-3, fast.runtime


def test_runtime_is_checked_and_onnx_export_is_reused() -> None:
    with pytest.raises(ValueError, match="runtime"):
        SelfieSegmenter(GENERAL, runtime="tensorrt")
    assert selfie._ONNX_CACHE.get(GENERAL.sha256) is not None  # exported once by the module fixture
    eager = SelfieSegmenter(GENERAL, runtime="eager")
    assert eager.runtime == "eager" and isinstance(eager._run, torch.nn.Module)


# --------------------------------------------------------------------------------------------------
# (2) a plausible person mask from the full segment() path
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model_key", sorted(MODELS))
def test_astronaut_mask_is_plausible(
    model_key: str, photos: dict[str, torch.Tensor], segmenters: dict[str, SelfieSegmenter]
) -> None:
    photo = photos["astronaut"]  # 512x512: face near (y=120, x=225); grey wall right of the head; flag top-left
    mask = segmenters[model_key].segment(photo)
    full = F.interpolate(mask, size=photo.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    person = {"face": (120, 225), "chest": (250, 215), "left arm": (400, 100)}
    background = {"top-left corner": (5, 5), "wall right of the head": (60, 330), "top-right corner": (10, 500)}
    for name, (y, x) in person.items():
        assert full[y, x] > 0.9, f"{name}: {full[y, x]:.3f}"
    for name, (y, x) in background.items():
        assert full[y, x] < 0.1, f"{name}: {full[y, x]:.3f}"


# --------------------------------------------------------------------------------------------------
# (3) the packaged file is checked at load
# --------------------------------------------------------------------------------------------------


def test_tampered_asset_raises_weights_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = selfie.ASSETS_DIR / GENERAL.filename
    assert hashlib.sha256(original.read_bytes()).hexdigest() == GENERAL.sha256  # the shipped file is intact
    data = bytearray(original.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the weights
    (tmp_path / GENERAL.filename).write_bytes(bytes(data))
    monkeypatch.setattr(selfie, "ASSETS_DIR", tmp_path)

    with pytest.raises(WeightsError) as caught:
        SelfieSegmenter(GENERAL)
    assert GENERAL.filename in str(caught.value)
    assert caught.value.hint is not None and "reinstall" in caught.value.hint

    with pytest.raises(WeightsError, match=LANDSCAPE.filename):  # missing file: same error type
        SelfieSegmenter(LANDSCAPE)


def test_packaged_assets_carry_licence_and_notice() -> None:
    notice = (selfie.ASSETS_DIR / "NOTICE").read_text()
    for model in MODELS.values():
        assert model.filename in notice and model.sha256 in notice
    assert "Apache License" in (selfie.ASSETS_DIR / "LICENSE-mediapipe").read_text()


# --------------------------------------------------------------------------------------------------
# (4) registry, shapes, range, dtype
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "mask_size"), [("selfie", (256, 256)), ("selfie_landscape", (144, 256))])
def test_registry_builds_segmenter_for_non_square_frames(name: str, mask_size: tuple[int, int]) -> None:
    assert name in list_models("segmenter")
    segmenter = create_segmenter(name, BuildOptions(device=torch.device("cpu"), half=True))  # half: CUDA-only, ignored
    assert isinstance(segmenter, Segmenter) and segmenter.name == name
    frame = torch.rand(1, 3, 360, 640, generator=torch.Generator().manual_seed(0))
    mask = segmenter.segment(frame)
    assert mask.shape == (1, 1, *mask_size)
    assert mask.dtype == torch.float32 and mask.device == frame.device
    assert torch.isfinite(mask).all() and mask.min() >= 0.0 and mask.max() <= 1.0
    assert not mask.requires_grad and not mask.is_inference()
    mask.mul_(0.5)  # callers may post-process in place outside inference mode


def test_segment_rejects_bad_frames(segmenters: dict[str, SelfieSegmenter]) -> None:
    with pytest.raises(ValueError, match="1x3xHxW"):
        segmenters["general"].segment(torch.rand(3, 64, 64))
    with pytest.raises(ValueError, match="float"):
        segmenters["general"].segment(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))


# --------------------------------------------------------------------------------------------------
# (5) the reader on tiny hand-built graphs
# --------------------------------------------------------------------------------------------------


def _tiny_model(
    op_code: int,
    input_shape: tuple[int, ...],
    output_shape: tuple[int, ...],
    constants: list[np.ndarray] = (),
    custom_code: str | None = None,
    custom_options: bytes | None = None,
    options: tuple[int, callable] | None = None,
) -> bytes:
    """A one-op ``.tflite``: float32 input tensor 0, constant inputs 1..n, output tensor n+1.

    ``options`` is ``(BuiltinOptions type, fn(builder) -> options table offset)``.
    """
    builder = flatbuffers.Builder(1024)

    def int_vector(start: callable, values: list[int]) -> int:
        start(builder, len(values))
        for value in reversed(values):
            builder.PrependInt32(value)
        return builder.EndVector()

    def table_vector(start: callable, offsets: list[int]) -> int:
        start(builder, len(offsets))
        for offset in reversed(offsets):
            builder.PrependUOffsetTRelative(offset)
        return builder.EndVector()

    # buffers: 0 = empty sentinel, then one per constant, then empty for the output
    buffers = []
    for payload in [None, *(c.tobytes() for c in constants)]:
        data = builder.CreateByteVector(payload) if payload else None
        tflite.BufferStart(builder)
        if data is not None:
            tflite.BufferAddData(builder, data)
        buffers.append(tflite.BufferEnd(builder))

    type_codes = {np.dtype("float32"): tflite.TensorType.FLOAT32, np.dtype("int32"): tflite.TensorType.INT32}
    specs = [("input", input_shape, tflite.TensorType.FLOAT32, 0)]
    specs += [(f"const{i}", c.shape, type_codes[c.dtype], i + 1) for i, c in enumerate(constants)]
    specs += [("output", output_shape, tflite.TensorType.FLOAT32, 0)]
    tensors = []
    for name, shape, type_code, buffer_index in specs:
        name_offset = builder.CreateString(name)
        shape_offset = int_vector(tflite.TensorStartShapeVector, list(shape))
        tflite.TensorStart(builder)
        tflite.TensorAddShape(builder, shape_offset)
        tflite.TensorAddType(builder, type_code)
        tflite.TensorAddBuffer(builder, buffer_index)
        tflite.TensorAddName(builder, name_offset)
        tensors.append(tflite.TensorEnd(builder))

    custom_code_offset = builder.CreateString(custom_code) if custom_code else None
    tflite.OperatorCodeStart(builder)
    tflite.OperatorCodeAddBuiltinCode(builder, op_code)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(builder, min(op_code, 127))
    if custom_code_offset is not None:
        tflite.OperatorCodeAddCustomCode(builder, custom_code_offset)
    tflite.OperatorCodeAddVersion(builder, 1)
    operator_code = tflite.OperatorCodeEnd(builder)

    n = len(constants)
    op_inputs = int_vector(tflite.OperatorStartInputsVector, list(range(n + 1)))
    op_outputs = int_vector(tflite.OperatorStartOutputsVector, [n + 1])
    custom = builder.CreateByteVector(custom_options) if custom_options else None
    options_offset = options[1](builder) if options else None
    tflite.OperatorStart(builder)
    tflite.OperatorAddOpcodeIndex(builder, 0)
    tflite.OperatorAddInputs(builder, op_inputs)
    tflite.OperatorAddOutputs(builder, op_outputs)
    if options:
        tflite.OperatorAddBuiltinOptionsType(builder, options[0])
        tflite.OperatorAddBuiltinOptions(builder, options_offset)
    if custom is not None:
        tflite.OperatorAddCustomOptions(builder, custom)
    operator = tflite.OperatorEnd(builder)

    tensors_vector = table_vector(tflite.SubGraphStartTensorsVector, tensors)
    operators_vector = table_vector(tflite.SubGraphStartOperatorsVector, [operator])
    sg_inputs = int_vector(tflite.SubGraphStartInputsVector, [0])
    sg_outputs = int_vector(tflite.SubGraphStartOutputsVector, [n + 1])
    tflite.SubGraphStart(builder)
    tflite.SubGraphAddTensors(builder, tensors_vector)
    tflite.SubGraphAddOperators(builder, operators_vector)
    tflite.SubGraphAddInputs(builder, sg_inputs)
    tflite.SubGraphAddOutputs(builder, sg_outputs)
    subgraph = tflite.SubGraphEnd(builder)

    codes_vector = table_vector(tflite.ModelStartOperatorCodesVector, [operator_code])
    subgraphs_vector = table_vector(tflite.ModelStartSubgraphsVector, [subgraph])
    buffers_vector = table_vector(tflite.ModelStartBuffersVector, buffers)
    description = builder.CreateString("vcamstyle test graph")
    tflite.ModelStart(builder)
    tflite.ModelAddVersion(builder, 3)
    tflite.ModelAddOperatorCodes(builder, codes_vector)
    tflite.ModelAddSubgraphs(builder, subgraphs_vector)
    tflite.ModelAddDescription(builder, description)
    tflite.ModelAddBuffers(builder, buffers_vector)
    builder.Finish(tflite.ModelEnd(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_unknown_builtin_op_is_rejected_by_name() -> None:
    data = _tiny_model(tflite.BuiltinOperator.TANH, (1, 4, 4, 3), (1, 4, 4, 3))
    model = read_tflite(data)
    assert [op.name for op in model.ops] == ["TANH"]
    with pytest.raises(UnsupportedOpError, match=r"TFLite op TANH \(op #0\) is not supported") as caught:
        build_module(model)
    assert isinstance(caught.value, WeightsError) and caught.value.hint


def test_unknown_custom_op_is_rejected_by_name() -> None:
    data = _tiny_model(
        tflite.BuiltinOperator.CUSTOM, (1, 4, 4, 3), (1, 4, 4, 3), custom_code="MaxPoolingWithArgmax2D"
    )
    with pytest.raises(UnsupportedOpError, match="MaxPoolingWithArgmax2D"):
        load_tflite_module(data)


def test_non_tflite_bytes_are_rejected() -> None:
    with pytest.raises(WeightsError, match="not a TensorFlow Lite model"):
        read_tflite(b"\x00" * 64)


def test_truncated_tflite_is_rejected() -> None:
    data = read_model_file(GENERAL)
    with pytest.raises(WeightsError, match="malformed TFLite flatbuffer"):
        read_tflite(data[: len(data) // 2])


def test_tiny_graph_builder_produces_a_graph_litert_runs() -> None:
    """Guards the helper above: a supported one-op graph runs identically in LiteRT and in torch."""
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    data = _tiny_model(tflite.BuiltinOperator.LOGISTIC, (1, 3, 5, 2), (1, 3, 5, 2))
    x = torch.randn(1, 2, 3, 5, generator=torch.Generator().manual_seed(1))
    interpreter = interpreter_module.Interpreter(model_content=data)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x.permute(0, 2, 3, 1).contiguous().numpy())
    interpreter.invoke()
    expected = interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).transpose(0, 3, 1, 2)
    with torch.no_grad():
        got = load_tflite_module(data)(x).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)


def _resize_options(align_corners: bool, half_pixel: bool) -> tuple[int, callable]:
    def build(builder: flatbuffers.Builder) -> int:
        tflite.ResizeBilinearOptionsStart(builder)
        tflite.ResizeBilinearOptionsAddAlignCorners(builder, align_corners)
        tflite.ResizeBilinearOptionsAddHalfPixelCenters(builder, half_pixel)
        return tflite.ResizeBilinearOptionsEnd(builder)

    return tflite.BuiltinOptions.ResizeBilinearOptions, build


@pytest.mark.parametrize(
    ("align_corners", "half_pixel"), [(False, True), (True, False), (False, False)], ids=["half_pixel", "align_corners", "legacy"]
)
@pytest.mark.parametrize("out_hw", [(7, 9), (3, 2)], ids=["up", "down"])
def test_resize_bilinear_modes_match_litert(align_corners: bool, half_pixel: bool, out_hw: tuple[int, int]) -> None:
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    size = np.array(out_hw, dtype=np.int32)
    data = _tiny_model(
        tflite.BuiltinOperator.RESIZE_BILINEAR,
        (1, 4, 5, 2),
        (1, *out_hw, 2),
        constants=[size],
        options=_resize_options(align_corners, half_pixel),
    )
    x = torch.rand(1, 2, 4, 5, generator=torch.Generator().manual_seed(2))
    interpreter = interpreter_module.Interpreter(model_content=data)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x.permute(0, 2, 3, 1).contiguous().numpy())
    interpreter.invoke()
    expected = interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).transpose(0, 3, 1, 2)
    with torch.no_grad():
        got = load_tflite_module(data)(x).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


def _transpose_conv_bias_loop(x: np.ndarray, w_ohwi: np.ndarray, bias: np.ndarray, stride: int, same: bool) -> np.ndarray:
    """Direct loop from the op's definition: NHWC input, OHWI weights, scatter into a bias-filled output."""
    _, height, width, _ = x.shape
    out_channels, kh, kw, _ = w_ohwi.shape
    pad_h = max(0, kh - (height - 1) % stride - 1) if same else 0
    pad_w = max(0, kw - (width - 1) % stride - 1) if same else 0
    out = np.empty((1, stride * (height - 1) + kh - pad_h, stride * (width - 1) + kw - pad_w, out_channels))
    out[:] = bias
    for y in range(height):
        for x_pos in range(width):
            for fy in range(kh):
                for fx in range(kw):
                    oy, ox = y * stride - pad_h // 2 + fy, x_pos * stride - pad_w // 2 + fx
                    if 0 <= oy < out.shape[1] and 0 <= ox < out.shape[2]:
                        out[0, oy, ox] += w_ohwi[:, fy, fx, :] @ x[0, y, x_pos]
    return out


@pytest.mark.parametrize(("kernel", "stride", "size"), [(2, 2, (4, 5)), (3, 2, (4, 5)), (4, 2, (3, 3)), (3, 1, (3, 4))])
@pytest.mark.parametrize("same", [True, False], ids=["same", "valid"])
def test_transpose_conv_bias_matches_definition(kernel: int, stride: int, size: tuple[int, int], same: bool) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, *size, 3)).astype(np.float32)
    weight = rng.standard_normal((2, kernel, kernel, 3)).astype(np.float32)
    bias = rng.standard_normal(2).astype(np.float32)
    expected = _transpose_conv_bias_loop(x, weight, bias, stride, same)
    module = TransposeConvBias(weight, bias, (stride, stride), same, size)
    with torch.no_grad():
        got = module(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_selfie_graph_uses_the_custom_transposed_conv() -> None:
    """The models really contain the op tested above, with the 12-byte raw options the reader decodes."""
    model = read_tflite(read_model_file(GENERAL))
    custom = [op for op in model.ops if op.name == TRANSPOSE_CONV_BIAS]
    assert len(custom) == 1 and len(custom[0].custom_options) == 12
