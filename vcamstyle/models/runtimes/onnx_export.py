"""Export a torch module to ONNX bytes with the TorchScript-based exporter (no extra packages), and
the onnxruntime CPU session to run it, for the CPU models that run in onnxruntime (the selfie
segmenter, the Magenta transformer)."""

from __future__ import annotations

import inspect
import io
import warnings
from typing import Sequence

import onnxruntime as ort
import torch

from vcamstyle.compute import network_threads


def export_onnx(module: torch.nn.Module, args: tuple[torch.Tensor, ...], input_names: Sequence[str],
                output_names: Sequence[str], dynamic_axes: dict[str, dict[int, str]] | None = None) -> bytes:
    """``module(*args)`` traced to an opset-17 ONNX graph; ``dynamic_axes`` keeps those sizes free.

    Tracing warnings are silenced (the graphs are checked against torch by the tests); torch >= 2.5
    is told to use this exporter rather than the dynamo one (older versions have only this one).
    """
    buffer = io.BytesIO()
    options = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    with warnings.catch_warnings(), torch.no_grad():
        for category in (FutureWarning, DeprecationWarning, UserWarning, torch.jit.TracerWarning):
            warnings.filterwarnings("ignore", category=category)
        torch.onnx.export(module, args, buffer, opset_version=17, input_names=list(input_names),
                          output_names=list(output_names), dynamic_axes=dynamic_axes, **options)
    return buffer.getvalue()


def cpu_session(data: bytes, threads: int) -> ort.InferenceSession:
    """An onnxruntime CPU session whose ``threads`` intra-op threads sleep between runs (no spinning)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def threads_session(sessions: dict[int, ort.InferenceSession], data: bytes) -> ort.InferenceSession:
    """The CPU session of ``data`` for ``compute.network_threads()``, kept in ``sessions`` (one per thread
    count, made when first needed: ``threads: auto`` changes the count while running)."""
    threads = network_threads()
    if threads not in sessions:
        sessions[threads] = cpu_session(data, threads)
    return sessions[threads]
