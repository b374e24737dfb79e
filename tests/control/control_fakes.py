"""Stand-ins shared by the control page's tests: the address, a daemon without camera or models, a PNG."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

PORT = 48123
ORIGIN = f"http://127.0.0.1:{PORT}"

CONFIG = """\
# my own notes: keep this line
camera:
  device: auto   # the webcam
person:
  effect: style         # what the person becomes
  strength: 0.7         # [0, 1]
background:
  effect: blur
  blur: 25              # pixels
"""


class FakeDaemon:
    """What the page reads from a daemon, without a camera or models."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.engine = None
        self.scene = None

    def status(self) -> dict[str, Any]:
        return {"state": "streaming", "fps": 30.0, "stage_ms": {}, "last_error": None}


def png_bytes(size: tuple[int, int] = (40, 30), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()
