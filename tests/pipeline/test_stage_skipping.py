"""No stage runs whose output nothing uses: segmentation only when a region needs the mask,
stylization only when a region is styled (counted on the real ``Pipeline`` with counting fakes)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from vcamstyle.models import RegionStyle
from vcamstyle.pipeline.core import Pipeline, PipelineSettings, RegionPlan, mask_needed

CPU = torch.device("cpu")
SIZE = (60, 96)
RED = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)


class CountingSegmenter:
    name = "fake-count"

    def __init__(self) -> None:
        self.calls = 0

    def preferred_size(self, height: int, width: int) -> tuple[int, int]:
        return (32, 32)

    def segment(self, frame: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        mask = torch.zeros(1, 1, 32, 32)
        mask[..., :16] = 1.0
        return mask


class CountingStylizer:
    """Paints each region with its code (``1x3x1x1``), mixed by the mask."""

    name = "fake-count"
    size_multiple = 1

    def __init__(self) -> None:
        self.calls = 0

    def style_size(self, height: int, width: int) -> tuple[int, int]:
        return height, width

    def encode_style(self, image: torch.Tensor) -> Any:
        return image.mean(dim=(2, 3), keepdim=True)

    def blend_codes(self, codes, weights) -> Any:
        return codes[0]

    def stylize(self, content, mask, person, background) -> torch.Tensor:
        self.calls += 1
        p = person.code.expand_as(content) if person is not None else content
        b = background.code.expand_as(content) if background is not None else content
        return torch.lerp(b, p, mask)


RED_STYLE = RegionStyle(RED, 1.0)
PICTURE = np.full((*SIZE, 3), 77, np.uint8)

CASES = {
    # name: (person, background, segment calls per frame, stylize calls per frame)
    "both original": (RegionPlan("original"), RegionPlan("original"), 0, 0),
    "same colour": (RegionPlan("color", color=(1, 2, 3)), RegionPlan("color", color=(1, 2, 3)), 0, 0),
    "same picture": (RegionPlan("image", image=PICTURE), RegionPlan("image", image=PICTURE), 0, 0),
    "same style": (RegionPlan("style", style=RED_STYLE), RegionPlan("style", style=RED_STYLE), 0, 1),
    # the face keeps more of itself: it is found in the person mask, so the mask is needed
    "same style, face spared": (RegionPlan("style", style=RED_STYLE), RegionPlan("style", style=RED_STYLE), 1, 1),
    "two colours": (RegionPlan("color", color=(1, 2, 3)), RegionPlan("color", color=(9, 9, 9)), 1, 0),
    "blur background": (RegionPlan("original"), RegionPlan("blur"), 1, 0),
    "styled person": (RegionPlan("style", style=RED_STYLE), RegionPlan("original"), 1, 1),
    # strength 0 is the camera picture: no style network runs (style.size auto must not count such frames)
    "style at strength 0": (RegionPlan("style", style=RegionStyle(RED, 0.0)), RegionPlan("blur"), 1, 0),
    "same style at strength 0": (RegionPlan("style", style=RegionStyle(RED, 0.0)),
                                 RegionPlan("style", style=RegionStyle(RED, 0.0)), 0, 0),
    # a style at strength 0 is the camera picture, as ``original`` is: the output is the camera frame
    "person style at 0, background original": (RegionPlan("style", style=RegionStyle(RED, 0.0)),
                                               RegionPlan("original"), 0, 0),
    "person original, background style at 0": (RegionPlan("original"),
                                               RegionPlan("style", style=RegionStyle(RED, 0.0)), 0, 0),
    "two styles at strength 0": (RegionPlan("style", style=RegionStyle(RED, 0.0)),
                                 RegionPlan("style", style=RegionStyle(RED.flip(1), 0.0)), 0, 0),
    "style at 0 beside a colour": (RegionPlan("style", style=RegionStyle(RED, 0.0)),
                                   RegionPlan("color", color=(9, 9, 9)), 1, 0),
}
CAMERA_PICTURE = ("both original", "same style at strength 0", "person style at 0, background original",
                  "person original, background style at 0", "two styles at strength 0")


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("compose", ["_compose_cpu", "_compose_torch"])
def test_stages_run_only_when_used(case: str, compose: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if compose == "_compose_torch":
        monkeypatch.setattr(Pipeline, "_compose_cpu", Pipeline._compose_torch)
    person, background, segments, stylizes = CASES[case]
    segmenter, stylizer = CountingSegmenter(), CountingStylizer()
    face_strength = 0.3 if case == "same style, face spared" else None
    settings = PipelineSettings(output_size=SIZE, person=person, background=background, style_size=32,
                                face_strength=face_strength)
    pipeline = Pipeline(segmenter, stylizer, settings, CPU)
    assert pipeline.uses_mask is mask_needed(settings) is bool(segments)
    assert pipeline.stylizes is bool(stylizes)
    frame = np.random.default_rng(0).integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    for _ in range(4):
        result = pipeline.process(frame)
    assert segmenter.calls == 4 * segments
    assert stylizer.calls == 4 * stylizes
    assert result.image.shape == frame.shape and result.mask.shape == SIZE
    expected = {"same colour": np.full_like(frame, (1, 2, 3)), "same picture": PICTURE,
                "same style": np.full_like(frame, (255, 0, 0)), **{name: frame for name in CAMERA_PICTURE}}.get(case)
    if expected is not None:
        assert np.abs(result.image.astype(int) - expected).max() <= 1  # the same picture everywhere
    if case == "same style, face spared":  # the face is in the person (left half), the right stays styled
        assert np.abs(result.image[:, 3 * SIZE[1] // 4:].astype(int) - (255, 0, 0)).max() <= 1


def test_a_face_spared_picture_is_the_persons_only() -> None:
    """One style in both regions with the face spared: the background keeps the unspared picture (the
    spared one reached across the feathered edge onto the background's side: up to 38/255 there)."""
    segmenter, stylizer = CountingSegmenter(), CountingStylizer()
    settings = PipelineSettings(output_size=SIZE, person=RegionPlan("style", style=RED_STYLE),
                                background=RegionPlan("style", style=RED_STYLE), style_size=32, face_strength=0.3)
    pipeline = Pipeline(segmenter, stylizer, settings, CPU)
    frame = np.full((*SIZE, 3), (0, 200, 0), np.uint8)
    analysis = pipeline.analyse(frame, {})
    assert analysis.styled.shape[0] == 2
    person_picture, background_picture = analysis.styled
    torch.testing.assert_close(background_picture, RED[0].expand_as(background_picture))  # unspared
    assert person_picture[1].max().item() > 0.3  # the face took back some of the camera's green
    result = pipeline.process(frame)
    outside = result.mask < 0.5
    # the background's side of the edge: green only in the person's share of the blend
    assert (result.image[..., 1][outside] <= 255 * result.mask[outside] + 2).all()
