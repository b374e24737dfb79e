"""The scene loads a segmenter only when some region needs the person mask (``mask_needed``): with both
regions ``original`` (or the same colour) no segmentation model is built, and one is built as soon as a
rebuilt scene needs it. Real embedded models (``reuse_offline_models``); what is counted is the engine's
own calls to the registry."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import vcamstyle.pipeline.scene as scene_module
from vcamstyle.config import Config, override
from vcamstyle.pipeline.core import Pipeline, PipelineSettings, RegionPlan
from vcamstyle.pipeline.scene import Engine

SIZE = (120, 120)  # square: ``segmentation.model: auto`` picks ``selfie``


@pytest.fixture
def built(reuse_offline_models: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the segmenters the engine asks the registry for, in order."""
    names: list[str] = []
    real = scene_module.create_segmenter

    def counting(name: str, options: Any) -> Any:
        names.append(name)
        return real(name, options)

    monkeypatch.setattr(scene_module, "create_segmenter", counting)
    return names


def _regions(config: Config, person: dict, background: dict) -> Config:
    changes = {f"person.{k}": v for k, v in person.items()} | {f"background.{k}": v for k, v in background.items()}
    return override(config, changes)


@pytest.mark.parametrize("person, background", [
    ({"effect": "original"}, {"effect": "original"}),
    ({"effect": "color", "color": "#102030"}, {"effect": "color", "color": "#102030"}),
])
def test_no_segmenter_is_built_when_no_region_needs_the_mask(default_config: Config, built: list[str], person: dict,
                                                             background: dict) -> None:
    scene = Engine().build(_regions(default_config, person, background), SIZE, None)
    assert scene.segmenter is None and built == []
    frame = np.random.default_rng(0).integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    result = Pipeline(scene.segmenter, scene.stylizer, scene.settings, scene.device).process(frame)
    assert result.image.shape == frame.shape and result.mask.max() == 0


@pytest.mark.parametrize("person, background", [
    ({"effect": "original"}, {"effect": "blur"}),
    ({"effect": "color", "color": "#102030"}, {"effect": "color", "color": "#302010"}),
    ({"effect": "style"}, {"effect": "original"}),
])
def test_a_segmenter_is_built_when_a_region_needs_the_mask(default_config: Config, built: list[str], person: dict,
                                                           background: dict) -> None:
    scene = Engine().build(_regions(default_config, person, background), SIZE, None)
    assert scene.segmenter is not None and scene.segmenter.name == "selfie" and built == ["selfie"]


def test_a_rebuild_that_needs_the_mask_builds_the_segmenter_once(default_config: Config, built: list[str]) -> None:
    """original/original -> original/blur (built) -> original/original (none in the scene) -> blur again
    (the engine's loaded model comes back, nothing is built twice)."""
    engine = Engine()
    plain = _regions(default_config, {"effect": "original"}, {"effect": "original"})
    blurred = _regions(default_config, {"effect": "original"}, {"effect": "blur"})
    assert engine.build(plain, SIZE, None).segmenter is None and built == []
    first = engine.build(blurred, SIZE, None).segmenter
    assert first is not None and built == ["selfie"]
    assert engine.build(plain, SIZE, None).segmenter is None
    assert engine.build(blurred, SIZE, None).segmenter is first and built == ["selfie"]


def test_a_pipeline_that_needs_the_mask_refuses_to_run_without_a_segmenter() -> None:
    settings = PipelineSettings(output_size=SIZE, person=RegionPlan("original"), background=RegionPlan("blur"))
    with pytest.raises(ValueError, match="segmenter is required"):
        Pipeline(None, None, settings, torch.device("cpu"))
    plain = PipelineSettings(output_size=SIZE, person=RegionPlan("original"), background=RegionPlan("original"))
    assert Pipeline(None, None, plain, torch.device("cpu")).uses_mask is False
