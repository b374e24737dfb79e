"""Diffing two configs: which pipeline stages a change touches (for the live reload)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from vcamstyle.config.schema import CameraConfig, Config, OutputConfig
from vcamstyle.config.vocab import REGION_NAMES

_REGION_STAGES: dict[str, frozenset[str]] = {
    "effect": frozenset({"effects"}),
    "style": frozenset({"styles"}),
    "strength": frozenset({"effects"}),
    "blur": frozenset({"effects"}),
    "color": frozenset({"effects"}),
    "image": frozenset({"effects"}),
}

#: Which stages a change of each leaf key touches (``camera.*`` and ``output.*`` by section).
KEY_STAGES: dict[str, frozenset[str]] = {
    **{f"camera.{key}": frozenset({"camera"}) for key in CameraConfig.model_fields},
    **{f"output.{key}": frozenset({"output"}) for key in OutputConfig.model_fields},
    # Applied to each camera frame by the frame loop: a new scene, no reopened device.
    "output.fit": frozenset({"effects"}),
    "segmentation.model": frozenset({"segmenter"}),
    "segmentation.smoothing": frozenset({"mask"}),
    "segmentation.threshold": frozenset({"mask"}),
    "segmentation.softness": frozenset({"mask"}),
    "segmentation.feather": frozenset({"mask"}),
    "style.method": frozenset({"stylizer"}),
    "style.size": frozenset({"effects"}),
    "style.preserve_color": frozenset({"effects"}),
    "style.smoothing": frozenset({"effects"}),
    "style.schedule": frozenset({"effects"}),
    **{f"{region}.{key}": stages for region in REGION_NAMES for key, stages in _REGION_STAGES.items()},
    "person.face_strength": frozenset({"effects"}),
    "device": frozenset({"device"}),
    "precision": frozenset({"device"}),
    "threads": frozenset({"effects"}),
    # Both model kinds may load upstream checkpoints from there (unet_resnet18 as well as the stylizers).
    "weights_dir": frozenset({"stylizer", "segmenter"}),
    # The page's server reads these once at start (a change waits for the next start); the cheap stage
    # keeps the running configuration equal to the file.
    "control.enabled": frozenset({"effects"}),
    "control.port": frozenset({"effects"}),
}


def leaf_values(config: Config) -> dict[str, Any]:
    """The config flattened to ``{"section.key": value}`` (a region's style list is one leaf)."""
    flat: dict[str, Any] = {}
    for name in Config.model_fields:
        value = getattr(config, name)
        if isinstance(value, BaseModel):
            for key in type(value).model_fields:
                flat[f"{name}.{key}"] = getattr(value, key)
        else:
            flat[name] = value
    return flat


def changed_keys(old: Config, new: Config) -> list[str]:
    """Dotted keys whose values differ between ``old`` and ``new``."""
    before, after = leaf_values(old), leaf_values(new)
    return [key for key in before if before[key] != after[key]]


def diff_stages(old: Config, new: Config) -> frozenset[str]:
    """Which pipeline stages a change from ``old`` to ``new`` touches (a subset of ``STAGES``).

    - ``camera``: reopen the camera (any ``camera.*``). ``output``: reopen the sink (any ``output.*``).
    - ``segmenter``: rebuild the segmentation model (``segmentation.model``, ``weights_dir``).
    - ``mask``: new mask post-processing parameters (smoothing, threshold, softness, feather); the
      EMA state may be kept.
    - ``stylizer``: rebuild the stylizer (``style.method``, ``weights_dir``). The caller re-encodes
      every style image for the new method: a style encoding belongs to its method.
    - ``styles``: a region's style image list (paths or weights) changed: encode the new ones.
    - ``effects``: per-region effect parameters (effect, strength, blur, color, image) or
      ``style.size`` / ``style.preserve_color`` / ``style.smoothing`` / ``threads``: cheap, no model work
      (a new ``image`` is loaded).
    - ``device``: the compute device or precision changed: the caller must rebuild the segmenter and the stylizer
      and re-encode the styles on the new device; only ``"device"`` is returned for it.
    """
    stages: set[str] = set()
    for key in changed_keys(old, new):
        stages |= KEY_STAGES[key]
    return frozenset(stages)
