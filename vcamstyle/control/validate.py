"""A candidate ``config.yaml`` checked exactly as ``vcamstyle config check`` checks a file.

The schema (``parse_config``: same messages, same line numbers) and then the pictures it names
(``check_references``: the loader and limits ``run`` uses), both reported as ``ConfigValidationError``
naming the real config file.
"""

from __future__ import annotations

from pathlib import Path

from vcamstyle.config import Config, ConfigValidationError, key_line, parse_config
from vcamstyle.pipeline import check_references

REFUSED_HINT = "fix the path or replace the picture; `vcamstyle run` would refuse this configuration"


def check_candidate(candidate: Path, config_path: Path) -> Config:
    """Validate the text in ``candidate`` as if it were ``config_path``; raises ``ConfigValidationError``."""
    config = parse_config(candidate.read_text(encoding="utf-8"), config_path)
    problems = []
    for key, problem in check_references(config):
        line = key_line(candidate, key)
        problems.append(f"{key}: {problem}" + (f" (line {line})" if line else ""))
    if problems:
        raise ConfigValidationError(config_path, problems, REFUSED_HINT)
    return config
