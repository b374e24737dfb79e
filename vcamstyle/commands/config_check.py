"""``vcamstyle config check``: what ``vcamstyle run`` would refuse, reported before it runs.

Schema problems are found by ``load_config``; the files the configuration names are checked by
``vcamstyle.daemon.check_files``, the same check ``start``, ``run`` and a live reload make.
"""

from __future__ import annotations

from pathlib import Path

from vcamstyle.config import Config
from vcamstyle.daemon import check_files


def check_config_files(config: Config, file: Path) -> None:
    """Raise ``ConfigValidationError`` listing every named file of ``config`` (read from ``file``) that
    ``run`` would refuse (pictures, ``weights_dir``, ``output.path``); return quietly when all are usable."""
    check_files(config, file)
