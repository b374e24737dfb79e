"""Try-on: several styles painted on the current camera frame as small tiles, to compare on your face.

Runs on the control server's worker thread with the daemon's own stylizer and style-code cache (the
frame loop is not touched); the tiles are small (painted ``PAINT_WIDTH`` wide, shown ``TILE_WIDTH``
wide), so a tile costs about one network run at a usual style size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from vcamstyle.control.preview import encode_jpeg, shrink_rgb
from vcamstyle.frames import to_numpy, to_tensor
from vcamstyle.models import RegionStyle

TILE_WIDTH = 240
#: The frame is painted this wide (about a usual ``style.size``: a network run at tile size looks cruder
#: than the output), then shrunk to the tile.
PAINT_WIDTH = 384
MAX_TILES = 8


def paint_tiles(engine: Any, stylizer: Any, device: torch.device, frame: np.ndarray,
                styles: Sequence[Path]) -> list[bytes]:
    """``frame`` (``HxWx3 uint8 RGB``) painted in each style (whole frame, strength 1), as JPEG tiles."""
    small = shrink_rgb(frame, PAINT_WIDTH)
    content = to_tensor(np.ascontiguousarray(small), device)
    mask = torch.ones((1, 1, *content.shape[-2:]), device=device)
    tiles = []
    with torch.inference_mode():
        for path in list(styles)[:MAX_TILES]:
            code = engine.encode(stylizer, Path(path), device)
            painted = stylizer.stylize(content, mask, RegionStyle(code, 1.0), None)[:1]
            tiles.append(encode_jpeg(shrink_rgb(to_numpy(painted), TILE_WIDTH)))
    return tiles
