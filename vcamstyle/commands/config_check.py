"""``vcamstyle config check``: what ``vcamstyle run`` would refuse, reported before it runs.

Schema problems are found by ``load_config``; this adds the pictures the configuration names: a
missing, unreadable, damaged or over-limit file, or a style image of a shape every method refuses,
each with its key path and line, like the schema problems; and an ``output.path`` that is one of the
files the configuration reads or where the file output cannot be made (a file where its folder goes,
a device, a name the file system refuses, a folder it may not write in).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from vcamstyle.config import VIDEO_FILE_SUFFIXES, Config, ConfigValidationError, key_line, output_overlaps
from vcamstyle.paths import describe_kind
from vcamstyle.pipeline import check_references


def check_config_files(config: Config, file: Path) -> None:
    """Raise ``ConfigValidationError`` listing every referenced picture of ``config`` (read from ``file``)
    that ``run`` would refuse; return quietly when all are usable."""
    found = check_references(config) + output_location(config)
    if config.weights_dir is not None and config.weights_dir.exists() and not config.weights_dir.is_dir():
        found.append(("weights_dir", f"{config.weights_dir} is a file, not a directory"))
    problems = []
    overlaps = output_overlaps(config, file)
    for key, problem in overlaps + found:
        line = key_line(file, key)
        problems.append(f"{key}: {problem}" + (f" (line {line})" if line else ""))
    if problems:
        fix = "set output.path to a new file name (vcamstyle never records over a file it reads); " if overlaps else ""
        raise ConfigValidationError(file, problems, f"{fix}fix the path or replace the picture; "
                                    "`vcamstyle run` would refuse this configuration")


def _kind(mode: int) -> str:
    return "a file" if stat.S_ISREG(mode) else describe_kind(mode)


def _stat(path: Path) -> os.stat_result | None:
    """``os.stat`` of ``path``; None when nothing is there. Other failures (a name too long) raise ``OSError``."""
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def output_location(config: Config) -> list[tuple[str, str]]:
    """``[("output.path", problem)]`` when the file output (``backend: file``) cannot be made where
    ``output.path`` says: what the sink's open would refuse, found without creating anything."""
    output = config.output
    if output.backend != "file" or output.path is None:
        return []
    target = Path(output.path)
    try:
        info = _stat(target)
        folder = target.suffix.lower() not in VIDEO_FILE_SUFFIXES or (info is not None and stat.S_ISDIR(info.st_mode))
        if info is not None and not (stat.S_ISDIR(info.st_mode) or (stat.S_ISREG(info.st_mode) and not folder)):
            return [("output.path", f"{target} is {_kind(info.st_mode)}, not "
                                    f"{'a folder for PNG frames' if folder else 'a video file or a folder'}")]
        existing = target if folder else target.parent  # the folder the frames or the file go in
        while (found := _stat(existing)) is None and existing != existing.parent:
            existing = existing.parent
    except (OSError, ValueError) as exc:  # ENAMETOOLONG, ELOOP, EACCES; ValueError: a NUL in the name
        return [("output.path", f"{target} cannot be used: {getattr(exc, 'strerror', None) or exc}")]
    if found is not None and not stat.S_ISDIR(found.st_mode):
        return [("output.path", f"{existing} is {_kind(found.st_mode)}, not a folder: the output cannot go in it")]
    if not os.access(existing, os.W_OK | os.X_OK):
        return [("output.path", f"cannot write in the folder {existing} (permission denied)")]
    return []
