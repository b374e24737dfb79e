"""MediaPipe selfie segmentation, embedded and offline: the default person segmenter.

The two ``.tflite`` files ship in ``vcamstyle/models/segmenters/assets`` (Apache-2.0, see ``NOTICE`` there) and
are replayed in torch by ``vcamstyle.models.runtimes.tflite_graph`` (on the CPU exported from there to ONNX and
run by onnxruntime); no MediaPipe or TFLite runtime is needed.

- ``selfie``: the general model, 256x256 input (ML Kit selfie segmentation).
- ``selfie_landscape``: 256 wide x 144 high input, cheaper, made for 16:9 video.

Both take the whole frame squashed to the model input (no letterbox, as MediaPipe's
``keep_aspect_ratio: false``) and give a sigmoid person probability at the model resolution.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import onnxruntime as ort
import torch

from vcamstyle.errors import WeightsError
from vcamstyle.frames import resize
from vcamstyle.models.runtimes.onnx_export import export_onnx, threads_session
from vcamstyle.models.registry import BuildOptions, register_segmenter

log = logging.getLogger(__name__)

#: Where the packaged model files live (a module global so tests can point it elsewhere).
ASSETS_DIR = Path(__file__).parent / "assets"


@dataclass(frozen=True)
class SelfieModel:
    """One packaged selfie segmentation model: file, checksum and input size ``(H, W)``."""

    name: str
    filename: str
    sha256: str
    input_size: tuple[int, int]


GENERAL = SelfieModel(
    "selfie",
    "selfie_segmentation.tflite",
    "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
    (256, 256),
)
LANDSCAPE = SelfieModel(
    "selfie_landscape",
    "selfie_segmentation_landscape.tflite",
    "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
    (144, 256),
)

#: How the graph runs on the CPU (see ``SelfieSegmenter``).
RUNTIMES = ("onnxruntime", "torchscript", "eager")
#: TorchScript's profiling executor optimizes a frozen graph on its second call; run past that at build.
_WARMUP_RUNS = 3
_REINSTALL_HINT = "reinstall vcamstyle (pip install --force-reinstall --no-deps vcamstyle) to restore the packaged file"


def read_model_file(model: SelfieModel) -> bytes:
    """The model file's bytes, after checking its sha256; ``WeightsError`` if missing or altered."""
    path = ASSETS_DIR / model.filename
    try:
        data = path.read_bytes()
    except OSError as err:
        raise WeightsError(f"cannot read the embedded model {path}: {err}", hint=_REINSTALL_HINT) from err
    digest = hashlib.sha256(data).hexdigest()
    if digest != model.sha256:
        raise WeightsError(
            f"the embedded model {path} is corrupt or modified (sha256 {digest}, expected {model.sha256})",
            hint=_REINSTALL_HINT,
        )
    return data


#: Exported ONNX bytes per model file (sha256): a reload that rebuilds the segmenter does not export again.
_ONNX_CACHE: dict[str, bytes] = {}


def _onnx_runner(model: SelfieModel, net: torch.nn.Module, example: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``net`` exported to ONNX and run by onnxruntime's CPU provider with ``compute.network_threads()``
    threads at each call (one session per count, made when first needed), threads that sleep between
    runs (no busy-waiting that would take the cores from the style network)."""
    data = _ONNX_CACHE.get(model.sha256)
    if data is None:
        data = _ONNX_CACHE[model.sha256] = export_onnx(net, (example,), ["image"], ["mask"])
    sessions: dict[int, ort.InferenceSession] = {}

    def run(x: torch.Tensor) -> torch.Tensor:
        (mask,) = threads_session(sessions, data).run(None, {"image": x.contiguous().numpy()})
        return torch.from_numpy(mask)

    return run


def _trace_and_freeze(net: torch.nn.Module, example: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """TorchScript-trace ``net`` on ``example`` and freeze it (constants folded, no Python per op)."""
    with warnings.catch_warnings():
        # torch >= 2.9 marks jit.trace as deprecated; it is still the fastest CPU path measured here.
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
        traced = torch.jit.trace(net, example, check_trace=False)
        return torch.jit.freeze(traced)


class SelfieSegmenter:
    """Person segmentation with MediaPipe's selfie model (``Segmenter`` protocol).

    ``segment`` takes a ``1x3xHxW`` float RGB [0,1] frame of any size on any device and returns a
    ``1x1xhxw`` float32 person probability in [0,1] at the model's resolution (``input_size``), on the
    frame's device. The frame is squashed to the model input without keeping the aspect ratio; the
    caller's resize of the mask back to ``HxW`` undoes that.

    On CPU the graph is exported to ONNX once and runs in onnxruntime (``runtime="onnxruntime"``):
    measured on 2 cores in the same process, alternating, 5.7-6.6 ms against 108 ms for the traced
    TorchScript graph while other programs kept the cores busy (onnxruntime's threads sleep instead of
    spinning). ``runtime="torchscript"``: the graph traced and frozen with TorchScript, channels-last;
    ``runtime="eager"``: the plain fx graph. On CUDA it runs eager channels-last, in float16 when
    ``half`` is set.
    """

    def __init__(
        self,
        model: SelfieModel = GENERAL,
        device: torch.device | str = "cpu",
        half: bool = False,
        runtime: str = "onnxruntime",
    ) -> None:
        from vcamstyle.models.runtimes.tflite_graph import (  # imports `tflite`: lazily
            build_module,
            read_tflite,
        )

        self.name = model.name
        self.model = model
        self.input_size = model.input_size
        self.device = torch.device(device)
        self.dtype = torch.float16 if half and self.device.type == "cuda" else torch.float32
        if half and self.dtype != torch.float16:
            log.info("%s: half precision is CUDA-only; running float32 on %s", self.name, self.device)
        # The sha256 pins the exact file, whose replay the test suite checks against LiteRT, so the
        # reader's shape self-check (one extra forward pass) is skipped here.
        graph = build_module(read_tflite(read_model_file(model)), verify_shapes=False)
        expected = (1, 3, *model.input_size)
        if graph.input_shape != expected:
            raise WeightsError(
                f"{model.filename} takes input {graph.input_shape}, expected {expected}", hint=_REINSTALL_HINT
            )
        net = graph.net.to(device=self.device, dtype=self.dtype, memory_format=torch.channels_last)
        self._run: Callable[[torch.Tensor], torch.Tensor] = net
        self.runtime = runtime if self.device.type == "cpu" else "eager"
        if self.runtime not in RUNTIMES:
            raise ValueError(f"unknown segmenter runtime {runtime!r}; use one of {', '.join(RUNTIMES)}")
        if self.runtime == "onnxruntime":
            self._run = _onnx_runner(model, net, self._example())
        elif self.runtime == "torchscript":
            with torch.inference_mode():
                self._run = _trace_and_freeze(net, self._example())
        with torch.inference_mode():
            for _ in range(_WARMUP_RUNS):  # kernel primitives and the TorchScript profiling runs, here
                self._run(self._example())

    def _example(self) -> torch.Tensor:
        return torch.zeros(1, 3, *self.input_size, device=self.device, dtype=self.dtype).contiguous(
            memory_format=torch.channels_last
        )

    def preferred_size(self, height: int, width: int) -> tuple[int, int]:
        """The model's input size: the frame is squashed to it (as MediaPipe does)."""
        return self.input_size

    def segment(self, frame: torch.Tensor) -> torch.Tensor:
        """``1x3xHxW`` float RGB [0,1] (any size, any device) -> ``1x1xhxw`` float32 [0,1] person mask.

        ``(h, w) == self.input_size``; the mask is on ``frame``'s device and is an ordinary tensor
        (not an inference-mode one), so callers may modify it in place.
        """
        if frame.dim() != 4 or frame.shape[0] != 1 or frame.shape[1] != 3:
            raise ValueError(f"{self.name}: expected a 1x3xHxW frame, got shape {tuple(frame.shape)}")
        if not frame.is_floating_point():
            raise ValueError(f"{self.name}: expected a float frame in [0, 1], got {frame.dtype}")
        with torch.inference_mode():
            x = resize(frame.to(self.device, torch.float32, non_blocking=True), self.input_size)
            mask = self._run(x.to(dtype=self.dtype, memory_format=torch.channels_last))
        # Outside inference mode: the copy is a normal tensor (a 256x256 copy, a few microseconds).
        return mask.to(frame.device, torch.float32, memory_format=torch.contiguous_format, copy=True)


def _create(model: SelfieModel, options: BuildOptions) -> SelfieSegmenter:
    if options.random_weights:
        log.debug("%s: the model is embedded; random_weights has no effect", model.name)
    return SelfieSegmenter(model, device=options.device, half=options.half)


@register_segmenter(
    "selfie",
    "MediaPipe selfie segmentation, general model (256x256); embedded, offline, Apache-2.0",
)
def create_selfie(options: BuildOptions) -> SelfieSegmenter:
    """Factory for ``selfie``: the general 256x256 model on ``options.device``."""
    return _create(GENERAL, options)


@register_segmenter(
    "selfie_landscape",
    "MediaPipe selfie segmentation, landscape model (256x144, faster); embedded, offline, Apache-2.0",
)
def create_selfie_landscape(options: BuildOptions) -> SelfieSegmenter:
    """Factory for ``selfie_landscape``: the 256 wide x 144 high model on ``options.device``."""
    return _create(LANDSCAPE, options)
