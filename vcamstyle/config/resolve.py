"""Path resolution: every file path of a ``Config`` made absolute (bundled-styles fallback)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vcamstyle import paths
from vcamstyle.config.schema import Config, Region


def resolve_path(raw: Path | str, base_dir: Path, *, styles_fallback: bool = False) -> Path:
    """An absolute path for ``raw``: ``~`` expanded, relative paths taken from ``base_dir``.

    With ``styles_fallback``, a relative ``styles/...`` path that does not exist under ``base_dir``
    but does exist in the bundled styles folder (``vcamstyle.paths.bundled_styles_dir()``) resolves
    there, so a fresh user config finds the bundled styles without copying them.
    """
    expanded = Path(os.path.expanduser(str(raw)))
    if expanded.is_absolute():
        return Path(os.path.normpath(expanded))
    candidate = Path(os.path.normpath(base_dir / expanded))
    if styles_fallback and expanded.parts[:1] == ("styles",) and not candidate.exists():
        bundled = paths.bundled_styles_dir().joinpath(*expanded.parts[1:])
        if bundled.exists():
            return bundled
    return candidate


def _resolve_camera_device(device: int | str, base_dir: Path) -> int | str:
    """Camera files given as paths become absolute; indexes, ``auto``, devices and names stay."""
    if isinstance(device, int) or device == "auto":
        return device
    if "/" in device or device.startswith("~"):
        return str(resolve_path(device, base_dir))
    beside = base_dir / device
    return str(Path(os.path.normpath(beside))) if beside.is_file() else device


def _resolve_region(region: Region, base_dir: Path) -> Region:
    update: dict[str, Any] = {}
    if region.style:
        update["style"] = tuple(
            ref.model_copy(update={"image": resolve_path(ref.image, base_dir, styles_fallback=True)})
            for ref in region.style
        )
    if region.image is not None:
        update["image"] = resolve_path(region.image, base_dir, styles_fallback=True)
    return region.model_copy(update=update)


def resolve_paths(config: Config, base_dir: Path) -> Config:
    """A copy of ``config`` with every file path absolute (see ``resolve_path`` for the rules).

    Resolved: region style images and ``image`` (with the bundled-styles fallback), ``output.path``,
    ``weights_dir``, and ``camera.device`` when it names a file (contains ``/``, starts with ``~``, or
    is a file name present in ``base_dir``). Existence is not checked: the pipeline reports
    unreadable files when it loads them.
    """
    base_dir = Path(os.path.expanduser(str(base_dir))).absolute()
    output = config.output
    if output.path is not None:
        output = output.model_copy(update={"path": resolve_path(output.path, base_dir)})
    camera = config.camera.model_copy(update={"device": _resolve_camera_device(config.camera.device, base_dir)})
    weights_dir = None if config.weights_dir is None else resolve_path(config.weights_dir, base_dir)
    return config.model_copy(
        update={
            "camera": camera,
            "output": output,
            "person": _resolve_region(config.person, base_dir),
            "background": _resolve_region(config.background, base_dir),
            "weights_dir": weights_dir,
        }
    )
