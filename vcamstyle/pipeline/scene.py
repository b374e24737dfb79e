"""Turns a validated configuration into ready-to-run pipeline parts, off the frame loop.

The ``Engine`` owns the expensive things: models (kept while their config is unchanged) and the
style-code cache (a style image is encoded once per method, keyed by the file's content hash, and
survives reloads that do not change it). ``Engine.build`` either returns a complete ``Scene`` or raises
a ``VcamstyleError``; the caller keeps the previous scene in that case.

Referenced pictures are part of a scene's identity: ``Scene.references`` holds the content digest of
every style and background image it was built from, and ``changed_references`` says which stages a
file replaced in place touches (``styles`` for a style image, ``effects`` for a background image), so a
reload re-reads it; a rebuild then re-encodes only the changed style (the others come from the cache).
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
from vcamstyle.frames import to_tensor
from vcamstyle.models import (
    BuildOptions,
    RegionStyle,
    Segmenter,
    Stylizer,
    create_segmenter,
    create_stylizer,
)
from vcamstyle.pipeline.core import MaskSettings, PipelineSettings, RegionPlan, mask_needed
from vcamstyle.pipeline.images import file_digest, load_picture
from vcamstyle.pipeline.referenced import region_references, region_references_of
from vcamstyle.pipeline.style_size import initial_style_size

log = logging.getLogger(__name__)

STYLE_CACHE_SIZE = 64
BACKGROUND_CACHE_SIZE = 4


@dataclass(frozen=True)
class Reference:
    """A picture the configuration names: its key path, file and content digest when the scene was built."""

    key: str
    path: Path
    digest: str | None
    stage: str  # the stage that uses it: "styles" (a style image) or "effects" (a background image)


#: ``segmentation.model: auto`` uses the landscape model for frames at least this much wider than tall
#: (16:9 is 1.78, 4:3 is 1.33; square and portrait frames get the square model). Squashed into the
#: square model's 256x256 input, 16:9 and 4:3 frames pull wall into the person; on the quality
#: benchmark's 4:3 clips the landscape model scores 0.95 IoU where the square one scores 0.90.
LANDSCAPE_ASPECT = 1.2


def segmenter_name(configured: str, output_size: tuple[int, int]) -> str:
    """The segmenter to build: ``configured``, or for ``auto`` the one made for ``output_size = (H, W)``'s aspect."""
    if configured != "auto":
        return configured
    height, width = output_size
    return "selfie_landscape" if width >= LANDSCAPE_ASPECT * height else "selfie"


@dataclass(frozen=True)
class Scene:
    """Everything the frame loop needs for one configuration. ``segmenter`` is None when no part of the
    output depends on the person mask (``mask_needed``): then none is loaded."""

    config: Any
    device: torch.device
    segmenter: Segmenter | None
    stylizer: Stylizer | None
    settings: PipelineSettings
    references: tuple[Reference, ...] = ()


def style_schedule(setting: str, device: torch.device) -> str:
    """``style.schedule`` for ``device``: ``auto`` runs the network on its own thread on the CPU (measured
    at 720p on 2 cores: docs/performance-720p.md) and every frame on a GPU, where it takes a few ms."""
    if setting == "auto":
        return "async" if device.type == "cpu" else "every_frame"
    return setting


def _digest(path: Path) -> str | None:
    try:
        return file_digest(path) if path.is_file() else None
    except OSError as exc:  # unreadable: reported by the loader when it is used
        log.debug("cannot hash %s: %s", path, exc)
        return None


def changed_references(scene: Scene) -> dict[str, str]:
    """``{key path: stage}`` for every picture of ``scene`` whose content changed on disk since it was
    built (replaced, edited, deleted or created); empty when all are as they were."""
    return {ref.key: ref.stage for ref in scene.references if _digest(ref.path) != ref.digest}


def changed_stages(scene: Scene | None) -> frozenset[str]:
    """The stages (``styles``, ``effects``) touched by ``scene``'s pictures changed on disk (logged)."""
    changed = changed_references(scene) if scene is not None else {}
    if changed:
        log.info("referenced files changed: %s", ", ".join(sorted(changed)))
    return frozenset(changed.values())


def referenced_paths(scene: Scene | None) -> list[Path]:
    """The files of the pictures ``scene`` uses (for the file watcher)."""
    return [ref.path for ref in scene.references] if scene is not None else []


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
        self._backgrounds: OrderedDict[tuple, Any] = OrderedDict()
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

    def segmenter_for(self, config: Any, output_size: tuple[int, int], weights_dir: Path | None) -> Segmenter:
        """The segmenter ``config`` names for ``output_size = (H, W)`` (``auto`` resolved), built even where
        a scene needs none (the seed baseline always segments); the engine's loaded one when unchanged."""
        with self._lock:
            return self._segmenter_for(config, output_size, weights_dir)

    def _segmenter_for(self, config: Any, output_size: tuple[int, int], weights_dir: Path | None) -> Segmenter:
        return self.segmenter(segmenter_name(config.segmentation.model, output_size),
                              compute.resolve_device(config.device), weights_dir, config.precision)

    @staticmethod
    def _cached(cache: OrderedDict, key: tuple, limit: int, make: Any) -> tuple[Any, bool]:
        """``(value, made)``: ``cache[key]`` when present (a ``None`` digest in the key never hits), else ``make()``."""
        if key[-1] is not None and key in cache:
            cache.move_to_end(key)
            return cache[key], False
        value = make()
        cache[key] = value
        while len(cache) > limit:
            cache.popitem(last=False)
        return value, True

    def encode(self, stylizer: Stylizer, path: Path, device: torch.device,
               fill: tuple[int, int, int] = (32, 32, 32), digest: str | None = None) -> Any:
        """The style code of the image at ``path`` for ``stylizer``, from the cache when the bytes are known.

        The picture is loaded straight at the method's style size (one resample); transparent areas
        are filled with ``fill`` (the region's colour)."""
        digest = digest if digest is not None else _digest(path)

        def make() -> Any:
            image = load_picture(path, "style image", stylizer.style_size, fill=fill)
            return stylizer.encode_style(to_tensor(image, device))

        code, made = self._cached(self._codes, (id(stylizer), fill, digest), STYLE_CACHE_SIZE, make)
        self.encode_count += made
        return code

    def background(self, path: Path, output_size: tuple[int, int], fill: tuple[int, int, int],
                   digest: str | None = None) -> Any:
        """A background picture as ``HxWx3 uint8 RGB`` at ``output_size``, cropped to cover (one resample)."""
        digest = digest if digest is not None else _digest(path)
        image, _ = self._cached(self._backgrounds, (tuple(output_size), fill, digest), BACKGROUND_CACHE_SIZE,
                                lambda: load_picture(path, "background image", tuple(output_size), "cover", fill))
        return image

    def _region(self, name: str, region: Any, stylizer: Stylizer | None, device: torch.device,
                output_size: tuple[int, int], digests: dict[str, str | None]) -> RegionPlan:
        color = tuple(int(round(c * 255)) for c in parse_color(region.color))
        image = None
        if region.effect == "image":
            image = self.background(Path(region.image), output_size, color, digests.get(f"{name}.image"))
        style = None
        if region.effect == "style" and stylizer is not None:
            items = style_items(region)
            keys = [key for key, _, stage in region_references_of(name, region) if stage == "styles"]
            codes = [self.encode(stylizer, path, device, color, digests.get(key)) for (path, _), key in zip(items, keys)]
            code = codes[0] if len(codes) == 1 else stylizer.blend_codes(codes, [w for _, w in items])
            style = RegionStyle(code, float(region.strength))
        return RegionPlan(effect=region.effect, blur=float(region.blur), color=color, image=image, style=style)

    def build(self, config: Any, output_size: tuple[int, int], weights_dir: Path | None) -> Scene:
        """A complete scene for ``config`` at ``output_size = (H, W)``; raises ``VcamstyleError`` on failure.

        The segmenter is built only when the output depends on the mask (``mask_needed``): with both
        regions ``original``, for example, the scene has none and no segmentation model is loaded."""
        with self._lock:
            device = compute.resolve_device(config.device)
            references = region_references(config)
            digests = {key: _digest(path) for key, path, _ in references}
            needs_style = "style" in (config.person.effect, config.background.effect)
            stylizer = self.stylizer(config.style.method, device, weights_dir, config.precision) if needs_style else None
            seg = config.segmentation
            settings = PipelineSettings(
                output_size=output_size,
                mask=MaskSettings(seg.smoothing, seg.threshold, seg.softness, seg.feather),
                style_size=initial_style_size(config.style.size),
                preserve_color=bool(config.style.preserve_color),
                style_smoothing=float(config.style.smoothing),
                input_smoothing=float(config.style.smoothing),
                face_strength=float(config.person.face_strength),
                person=self._region("person", config.person, stylizer, device, output_size, digests),
                background=self._region("background", config.background, stylizer, device, output_size, digests),
                schedule=style_schedule(config.style.schedule, device),
            )
            segmenter = self._segmenter_for(config, output_size, weights_dir) if mask_needed(settings) else None
            refs = tuple(Reference(key, path, digests[key], stage) for key, path, stage in references)
            return Scene(config, device, segmenter, stylizer, settings, refs)
