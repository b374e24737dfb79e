"""The daemon loop in-process (file camera, null sink): failures on one frame never end the video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vcamstyle.pipeline import Pipeline
from vcamstyle.service import Service, output_geometry


@pytest.fixture
def config_file(tmp_path: Path, make_video, isolated_xdg) -> Path:
    video = make_video(tmp_path / "camera.mp4", frames=20, size=(160, 96))
    path = tmp_path / "config.yaml"
    path.write_text(f"camera:\n  device: {video}\noutput:\n  backend: none\nperson:\n  effect: original\n"
                    "background:\n  effect: color\ndevice: cpu\n")
    return path


def test_a_frame_the_pipeline_cannot_process_goes_out_unprocessed(config_file: Path, monkeypatch) -> None:
    real = Pipeline.process
    calls = {"n": 0}

    def flaky(self: Pipeline, frame: np.ndarray):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("simulated model failure")
        return real(self, frame)

    monkeypatch.setattr(Pipeline, "process", flaky)
    service = Service(config_file, max_frames=5, publish=False)
    assert service.run() == 0
    assert service.frames == 5
    assert service.sink is None or service.sink.frames_sent == 5
    assert "simulated model failure" in service.last_error


def test_output_geometry_prefers_configured_values() -> None:
    from vcamstyle.config import override, parse_config

    config = parse_config("", Path("config.yaml"))
    assert output_geometry(config, (640, 480, 15.0)) == (640, 480, 15.0)
    config = override(config, {"output.width": 320, "output.height": 180, "output.fps": 10})
    assert output_geometry(config, (640, 480, 15.0)) == (320, 180, 10.0)
