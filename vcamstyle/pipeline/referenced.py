"""The pictures a configuration names, and what ``vcamstyle run`` would refuse about them.

``region_references`` lists them with their key paths (``person.style``, ``background.style[1].image``,
``background.image``) and the stage that uses each; ``check_references`` opens each one as the daemon
would (decoding it fully, cheaply at a reduced size) so ``vcamstyle config check`` reports a missing,
unreadable, damaged, over-limit or degenerate picture before ``run`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vcamstyle.errors import StyleImageError
from vcamstyle.models import check_style_shape
from vcamstyle.pipeline.images import load_picture

#: Pictures are decoded at most this large when only checked (JPEGs then decode at 1/8 scale).
CHECK_SIDE = 128


def region_references_of(name: str, region: Any) -> list[tuple[str, Path, str]]:
    """``[(key path, file, stage), ...]``: the pictures one region uses (an effect that is off names no
    file: a region's style is used only with ``effect: style``, its image only with ``effect: image``)."""
    if region.effect == "style":
        style = region.style
        if isinstance(style, (str, Path)):
            return [(f"{name}.style", Path(style), "styles")]
        if style and len(style) == 1:  # one image, however the YAML spelled it
            return [(f"{name}.style", Path(style[0].image), "styles")]
        return [(f"{name}.style[{i}].image", Path(item.image), "styles") for i, item in enumerate(style or ())]
    if region.effect == "image" and region.image is not None:
        return [(f"{name}.image", Path(region.image), "effects")]
    return []


def region_references(config: Any) -> list[tuple[str, Path, str]]:
    """The pictures the whole configuration uses, person first (see ``region_references_of``)."""
    return region_references_of("person", config.person) + region_references_of("background", config.background)


def check_references(config: Any) -> list[tuple[str, str]]:
    """``[(key path, problem), ...]`` for every picture ``config`` uses that ``run`` would refuse."""
    problems: list[tuple[str, str]] = []
    for key, path, stage in region_references(config):
        what = "style image" if stage == "styles" else "background image"

        def small(height: int, width: int, stage: str = stage) -> tuple[int, int]:
            if stage == "styles":
                check_style_shape(height, width, config.style.method)
            scale = min(1.0, CHECK_SIDE / max(height, width))
            return max(1, round(height * scale)), max(1, round(width * scale))

        try:
            load_picture(path, what, small)
        except StyleImageError as exc:
            problems.append((key, str(exc)))
    return problems
