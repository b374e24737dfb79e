"""The files a configuration names, checked the same way by ``config check``, ``start``, ``run`` and a
live reload: what the daemon could not run is refused before anything opens, with key path and line.

- the pictures (``vcamstyle.pipeline.check_references``): missing, unreadable, damaged, over the limits,
  a style of a shape every method refuses;
- ``weights_dir``: a file where the folder goes;
- ``output.path`` (``backend: file``): one of the files the configuration reads, or a place where the
  output cannot be made (a file where its folder goes, a device, a name the file system refuses, a
  folder it may not write in), found without creating anything.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from vcamstyle.config import VIDEO_FILE_SUFFIXES, Config, ConfigValidationError, key_line, output_overlaps
from vcamstyle.paths import describe_kind
from vcamstyle.pipeline import check_references


def check_files(config: Config, file: Path) -> None:
    """Raise ``ConfigValidationError`` listing every named file of ``config`` (read from ``file``) that
    the daemon would refuse; return quietly when all are usable."""
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
