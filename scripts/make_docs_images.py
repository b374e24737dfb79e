#!/usr/bin/env python3
"""Render the README's pictures into docs/ with the real pipeline and the bundled styles.

Run: python scripts/make_docs_images.py   (CPU is fine; takes under a minute)
Inputs are real photos that ship with scikit-image (astronaut) and matplotlib (grace_hopper.jpg).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import matplotlib.cbook
import numpy as np
import skimage.data

from vcamstyle.commands.render import mask_to_u8, side_by_side
from vcamstyle.config import override, parse_config
from vcamstyle.pipeline.core import Pipeline
from vcamstyle.pipeline.scene import Engine

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: The first pair is the default configuration's.
PAIRS = [("brush_strokes", "stained_glass"), ("mosaic", "waves"), ("neon", "ink_wash"), ("pointillism", "crystals")]
WARM_FRAMES = 3


def photos() -> dict[str, np.ndarray]:
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)
    return {"astronaut": skimage.data.astronaut(), "grace_hopper": cv2.cvtColor(hopper, cv2.COLOR_BGR2RGB)}


def render(engine: Engine, image: np.ndarray, person: str, background: str):
    """The default configuration (strengths, face strength, smoothing...) with this pair of styles."""
    config = parse_config("device: cpu\n", ROOT / "config" / "config.yaml")
    config = override(config, {"person.style": f"styles/{person}.png", "background.style": f"styles/{background}.png"},
                      base_dir=ROOT / "config")
    scene = engine.build(config, image.shape[:2], None)
    pipeline = Pipeline(scene.segmenter, scene.stylizer, scene.settings, scene.device)
    for _ in range(WARM_FRAMES):  # a camera's steady state: the temporal smoothing has settled
        pipeline.process(image)
    return pipeline.process(image)


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.55, 1)
    cv2.rectangle(out, (0, 0), (w + 12, h + 14), (0, 0, 0), -1)
    cv2.putText(out, text, (6, h + 6), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def save(path: Path, rgb: np.ndarray) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {path.relative_to(ROOT)}")


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    engine = Engine()
    for name, image in photos().items():
        image = cv2.resize(image, (image.shape[1] * 384 // image.shape[0], 384), interpolation=cv2.INTER_AREA)
        first = render(engine, image, *PAIRS[0])
        save(DOCS / f"compare_{name}.jpg", side_by_side(image, mask_to_u8(first.mask), first.image))
        tiles = [label(render(engine, image, p, b).image, f"{p} / {b}") for p, b in PAIRS]
        save(DOCS / f"styles_{name}.jpg", np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])]))


if __name__ == "__main__":
    main()
