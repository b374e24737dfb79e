"""vcamstyle.bench.runner pieces that need no model: which style picture the seed comparison uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcamstyle.bench import runner
from vcamstyle.config import load_config, override
from vcamstyle.errors import ConfigError


def test_unstyled_regions_are_refused_for_the_seed_comparison(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("device: cpu\n")
    config = override(load_config(path), {"person.effect": "blur"})
    with pytest.raises(ConfigError, match="person.effect"):
        runner.region_style_path(config, "person")
    assert runner.region_style_path(config, "background").name == "stained_glass.png"
