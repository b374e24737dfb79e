"""Fixtures shared by the pipeline tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcamstyle.config import Config, ensure_config, load_config, override


@pytest.fixture
def default_config(tmp_path: Path) -> Config:
    """The shipped template, loaded like the daemon loads it; device pinned to the CPU."""
    path = tmp_path / "config.yaml"
    ensure_config(path)
    return override(load_config(path), {"device": "cpu"})
