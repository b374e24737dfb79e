"""The thread policy: one count for the networks; torch gets it only while it runs a network."""

from __future__ import annotations

import pytest
import torch

from vcamstyle import compute
from vcamstyle.models.magenta.ort import OrtTransformer
from vcamstyle.models.base import RegionStyle
from vcamstyle.pipeline import Pipeline
from vcamstyle.pipeline.core import PipelineSettings, RegionPlan

CODE = RegionStyle(torch.zeros(1, 100))


def _settings(person: str, background: str) -> PipelineSettings:
    def plan(effect: str) -> RegionPlan:
        return RegionPlan(effect, style=CODE if effect == "style" else None)
    return PipelineSettings(output_size=(36, 64), person=plan(person), background=plan(background))


def test_torch_gets_one_thread_while_it_only_runs_glue():
    compute.set_torch_runs_networks(True)
    compute.set_threads(3)
    assert compute.network_threads() == 3 and torch.get_num_threads() == 3
    compute.set_torch_runs_networks(False)
    assert compute.network_threads() == 3 and torch.get_num_threads() == 1
    compute.set_threads(2)  # the tuner's change reaches the networks, not torch's glue
    assert compute.network_threads() == 2 and torch.get_num_threads() == 1
    compute.set_torch_runs_networks(True)
    assert torch.get_num_threads() == 2


def test_the_first_switch_keeps_torchs_count_for_the_networks(monkeypatch):
    monkeypatch.setattr(compute, "_network_threads", None)
    torch.set_num_threads(2)
    compute.set_torch_runs_networks(False)
    assert compute.network_threads() == 2 and torch.get_num_threads() == 1


def test_thread_count_must_be_positive():
    with pytest.raises(ValueError, match=">= 1"):
        compute.set_threads(0)


class _Model:
    def __init__(self, runtime: str | None) -> None:
        if runtime is not None:
            self.runtime = runtime


@pytest.mark.parametrize(("segmenter", "stylizer", "device", "expected"), [
    ("onnxruntime", "onnxruntime", "cpu", False),  # the float32 CPU default
    ("onnxruntime", None, "cpu", False),  # segmentation with blur or colour
    ("onnxruntime", "torch", "cpu", True),  # the bfloat16 transformer
    ("onnxruntime", "no attribute", "cpu", True),  # a seed method (torch modules)
    ("torchscript", "onnxruntime", "cpu", True),
    ("onnxruntime", "onnxruntime", "cuda", True),
])
def test_pipeline_says_whether_torch_runs_a_network(segmenter, stylizer, device, expected):
    model = None if stylizer is None else _Model(None if stylizer == "no attribute" else stylizer)
    settings = _settings("style" if model is not None else "original", "blur")
    pipeline = Pipeline(_Model(segmenter), model, settings, torch.device(device))
    assert pipeline.torch_runs_networks is expected


def test_an_unused_segmenter_does_not_count():
    settings = _settings("style", "style")  # the same style everywhere: no mask
    pipeline = Pipeline(_Model("torchscript"), _Model("onnxruntime"), settings, torch.device("cpu"))
    assert not pipeline.uses_mask and pipeline.torch_runs_networks is False


def test_onnxruntime_transformer_runs_with_the_policys_count(offline_models):
    stylizer = offline_models.stylizer
    run = stylizer.run
    assert isinstance(run, OrtTransformer)
    net = stylizer.transformer
    with torch.inference_mode():
        params = net.norm_params(torch.zeros(1, 100))
    compute.set_threads(1)
    run(torch.rand(1, 3, 32, 48), params)
    assert 1 in run._sessions


def test_cpu_kind_names_the_kernels_and_bfloat16_from_the_given_flags():
    assert compute.cpu_kind(frozenset({"avx2", "fma"})).endswith(", no native bfloat16")
    assert compute.cpu_kind(frozenset({"avx512f", "avx512_bf16"})).endswith(", native bfloat16")
    assert compute.cpu_kind(frozenset()).startswith(f"torch kernels {torch.backends.cpu.get_cpu_capability()}")
