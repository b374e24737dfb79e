"""``output.path`` must not be one of the files the configuration reads: the camera file, a style or
background picture, or the config file itself. A recording there would destroy it.

Files are compared by identity (``st_dev``/``st_ino``), so a symlink or a hard link to an input is
caught as well as the same name; a path that does not exist yet is compared by its resolved name.
Every picture the file names counts, whether or not the region's effect uses it now.
"""

from __future__ import annotations

import os
from pathlib import Path

from vcamstyle.config.load import key_line
from vcamstyle.config.report import ConfigValidationError
from vcamstyle.config.schema import Config, Region

CONFIG_FILE = "the config file"
OVERLAP_HINT = "set output.path to a new file name: vcamstyle never records over a file it reads"


def same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` are one file (also through symlinks and hard links)."""
    try:
        first, second = os.stat(a), os.stat(b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def _region_inputs(name: str, region: Region) -> list[tuple[str, Path]]:
    styles = list(region.style or ())
    found = [(f"{name}.style" if len(styles) == 1 else f"{name}.style[{i}].image", Path(ref.image))
             for i, ref in enumerate(styles)]
    if region.image is not None:
        found.append((f"{name}.image", Path(region.image)))
    return found


def input_files(config: Config, config_file: Path) -> list[tuple[str, Path]]:
    """``[(key, path), ...]``: every file the configuration reads (camera file, pictures, itself)."""
    found: list[tuple[str, Path]] = [(CONFIG_FILE, Path(config_file))]
    device = config.camera.device
    if isinstance(device, str) and os.path.isabs(device):
        found.append(("camera.device", Path(device)))
    return found + _region_inputs("person", config.person) + _region_inputs("background", config.background)


def output_overlaps(config: Config, config_file: Path) -> list[tuple[str, str]]:
    """``[("output.path", problem), ...]`` for each input that ``output.path`` is (empty when none)."""
    output = config.output
    if output.backend != "file" or output.path is None:
        return []
    target = Path(output.path)
    problems = []
    for key, path in input_files(config, config_file):
        if same_file(target, path):
            what = "this config file" if key == CONFIG_FILE else f"the file {key} names ({path})"
            problems.append(("output.path", f"{target} is {what}: recording there would overwrite it"))
    return problems


def check_output_not_input(config: Config, config_file: Path) -> None:
    """Raise ``ConfigValidationError`` (naming both keys, with lines) when ``output.path`` is an input."""
    problems = []
    for key, problem in output_overlaps(config, config_file):
        line = key_line(config_file, key)
        problems.append(f"{key}: {problem}" + (f" (line {line})" if line else ""))
    if problems:
        raise ConfigValidationError(config_file, problems, OVERLAP_HINT)
