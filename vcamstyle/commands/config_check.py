"""``vcamstyle config check``: what ``vcamstyle run`` would refuse, reported before it runs.

Schema problems are found by ``load_config``; this adds the pictures the configuration names: a
missing, unreadable, damaged or over-limit file, or a style image of a shape every method refuses,
each with its key path and line, like the schema problems; and an ``output.path`` that is one of the
files the configuration reads.
"""

from __future__ import annotations

from pathlib import Path

from vcamstyle.config import Config, ConfigValidationError, key_line, output_overlaps
from vcamstyle.pipeline import check_references


def check_config_files(config: Config, file: Path) -> None:
    """Raise ``ConfigValidationError`` listing every referenced picture of ``config`` (read from ``file``)
    that ``run`` would refuse; return quietly when all are usable."""
    found = check_references(config)
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
