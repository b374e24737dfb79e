"""Turns a validated configuration into ready-to-run pipeline parts, off the frame loop.

The ``Engine`` owns the expensive things: models (kept while their config is unchanged) and the
style-code cache (a style image is encoded once per method, keyed by the file's content hash, and
survives reloads that do not change it). ``Engine.build`` either returns a complete ``Scene`` or raises
a ``VcamstyleError``; the caller keeps the previous scene in that case.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vcamstyle import compute
from vcamstyle.errors import ConfigError
from vcamstyle.frames import to_numpy, to_tensor
from vcamstyle.models import (
    BuildOptions,
    RegionStyle,
    Segmenter,
    Stylizer,
    create_segmenter,
    create_stylizer,
)
from vcamstyle.pipeline.composite import cover_resize
from vcamstyle.pipeline.core import MaskSettings, PipelineSettings, RegionPlan
from vcamstyle.pipeline.images import file_digest, load_rgb
from vcamstyle.pipeline.style_size import initial_style_size

log = logging.getLogger(__name__)

STYLE_CACHE_SIZE = 64


@dataclass(frozen=True)
class Scene:
    """Everything the frame loop needs for one configuration."""

    config: Any
    device: torch.device
    segmenter: Segmenter
    stylizer: Stylizer | None
    settings: PipelineSettings


def parse_color(text: str) -> tuple[float, float, float]:
    """``#rrggbb`` or ``#rgb`` -> RGB floats in [0, 1]."""
    value = text.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    if len(value) != 6:
        raise ConfigError(f"colour {text!r} is not #rrggbb", hint="write colours like \"#202020\"")
    return tuple(int(value[i:i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


def style_items(region: Any) -> list[tuple[Path, float]]:
    """A region's style as ``[(path, weight), ...]`` whatever form the config gave it in."""
    style = region.style
    if style is None:
        return []
    if isinstance(style, (str, Path)):
        return [(Path(style), 1.0)]
    return [(Path(item.image), float(item.weight)) for item in style]


class Engine:
    """Builds scenes. Thread-safe: ``build`` may run in the reload thread while frames are processed."""

    def __init__(self, random_weights: bool = False, cpu_flags: frozenset[str] | None = None) -> None:
        """``cpu_flags``: the CPU's feature flags for the precision policy (None: read ``/proc/cpuinfo``;
        tests inject them so every precision path runs on every machine)."""
        self.random_weights = random_weights
        self.cpu_flags = cpu_flags
        self._lock = threading.Lock()
        self._segmenters: dict[tuple, Segmenter] = {}
        self._stylizers: dict[tuple, Stylizer] = {}
        self._codes: OrderedDict[tuple, Any] = OrderedDict()
        #: How many style images were actually encoded (not served from the cache).
        self.encode_count = 0

    def _options(self, device: torch.device, weights_dir: Path | None, precision: str) -> BuildOptions:
        return BuildOptions(device=device, weights_dir=weights_dir, random_weights=self.random_weights,
                            half=compute.use_half(device, precision),
                            cpu_bfloat16=compute.use_cpu_bfloat16(device, precision, self.cpu_flags))

    def segmenter(self, name: str, device: torch.device, weights_dir: Path | None, precision: str = "auto") -> Segmenter:
        key = (name, str(device), str(weights_dir), precision)
        if key not in self._segmenters:
            log.info("loading segmenter %s on %s", name, device)
            self._segmenters = {key: create_segmenter(name, self._options(device, weights_dir, precision))}
        return self._segmenters[key]

    def stylizer(self, method: str, device: torch.device, weights_dir: Path | None, precision: str = "auto") -> Stylizer:
        key = (method, str(device), str(weights_dir), precision)
        if key not in self._stylizers:
            log.info("loading stylizer %s on %s", method, device)
            self._stylizers = {key: create_stylizer(method, self._options(device, weights_dir, precision))}
            self._codes.clear()  # codes belong to one stylizer instance
        return self._stylizers[key]

    def encode(self, stylizer: Stylizer, path: Path, device: torch.device) -> Any:
        """The style code of the image at ``path`` for ``stylizer``, from the cache when the bytes are known."""
        digest = file_digest(path) if path.is_file() else None
        key = (id(stylizer), digest)
        if digest is not None and key in self._codes:
            self._codes.move_to_end(key)
            return self._codes[key]
        image = to_tensor(load_rgb(path, "style image"), device)
        code = stylizer.encode_style(image)
        self.encode_count += 1
        self._codes[key] = code
        while len(self._codes) > STYLE_CACHE_SIZE:
            self._codes.popitem(last=False)
        return code

    def _region(self, region: Any, stylizer: Stylizer | None, device: torch.device,
                output_size: tuple[int, int]) -> RegionPlan:
        color = tuple(int(round(c * 255)) for c in parse_color(region.color))
        image = None
        if region.effect == "image":
            image = to_numpy(cover_resize(to_tensor(load_rgb(Path(region.image), "background image")), output_size))
        style = None
        if region.effect == "style" and stylizer is not None:
            items = style_items(region)
            codes = [self.encode(stylizer, path, device) for path, _ in items]
            code = codes[0] if len(codes) == 1 else stylizer.blend_codes(codes, [w for _, w in items])
            style = RegionStyle(code, float(region.strength))
        return RegionPlan(effect=region.effect, blur=float(region.blur), color=color, image=image, style=style)

    def build(self, config: Any, output_size: tuple[int, int], weights_dir: Path | None) -> Scene:
        """A complete scene for ``config`` at ``output_size = (H, W)``; raises ``VcamstyleError`` on failure."""
        with self._lock:
            device = compute.resolve_device(config.device)
            segmenter = self.segmenter(config.segmentation.model, device, weights_dir, config.precision)
            needs_style = "style" in (config.person.effect, config.background.effect)
            stylizer = self.stylizer(config.style.method, device, weights_dir, config.precision) if needs_style else None
            seg = config.segmentation
            settings = PipelineSettings(
                output_size=output_size,
                mask=MaskSettings(seg.smoothing, seg.threshold, seg.softness, seg.feather),
                style_size=initial_style_size(config.style.size),
                preserve_color=bool(config.style.preserve_color),
                style_smoothing=float(config.style.smoothing),
                person=self._region(config.person, stylizer, device, output_size),
                background=self._region(config.background, stylizer, device, output_size),
            )
            return Scene(config, device, segmenter, stylizer, settings)
