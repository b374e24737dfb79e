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


def test_the_report_says_which_kind_of_cpu_it_ran_on() -> None:
    report = {"width": 640, "height": 360, "device": "cpu", "threads": 2, "precision": "float32", "frames": 3,
              "fps": 30.0, "frame_ms": {"median": 33.0, "p95": 40.0}, "person": "original",
              "background": "blur", "segmentation": "auto", "method": None,
              "cpu": "torch kernels AVX2, no native bfloat16",
              "stage_ms": {"segment": {"median": 3.0, "p95": 4.0}}}
    lines = runner.format_report(report).splitlines()
    assert lines[2] == "CPU: torch kernels AVX2, no native bfloat16"
    assert lines[3].split() == ["stage", "median", "ms", "p95", "ms"]


def test_the_bench_sizes_style_only_while_a_style_network_runs(tmp_path: Path) -> None:
    """``bench`` runs the daemon's ``style.size: auto`` only where a region is styled at a strength
    above 0 (strength 0 runs no network: its fast frames would drive the size up)."""
    import torch

    from vcamstyle.models import RegionStyle
    from vcamstyle.pipeline.core import Pipeline, PipelineSettings, RegionPlan

    path = tmp_path / "c.yaml"
    path.write_text("device: cpu\nstyle:\n  size: auto\n")
    config = load_config(path)

    def pipeline(strength: float) -> Pipeline:
        style = RegionStyle(torch.zeros(1, 3, 1, 1), strength)
        settings = PipelineSettings(output_size=(36, 64), person=RegionPlan("style", style=style),
                                    background=RegionPlan("style", style=style))
        return Pipeline(None, object(), settings, torch.device("cpu"))  # type: ignore[arg-type]

    assert runner._auto_size(config, pipeline(0.0), 15.0) is None
    assert runner._auto_size(config, pipeline(0.5), 15.0) is not None


@pytest.mark.parametrize(("fps", "said"), [(30.0, "holding 30 fps"), (29.5, "holding 30 fps"),
                                           (21.4, "aiming at 30 fps, not reached at this size")])
def test_the_auto_size_line_says_whether_the_frame_rate_was_held(fps: float, said: str) -> None:
    """At the floor on a slow CPU the controller cannot reach the output rate: the report says so
    instead of claiming to hold it."""
    report = {"width": 640, "height": 360, "device": "cpu", "threads": 2, "precision": "float32", "frames": 3,
              "fps": fps, "frame_ms": {"median": 1000 / fps, "p95": 50.0}, "person": "style",
              "background": "style", "segmentation": "auto", "method": "magenta", "style_size": 128,
              "style_size_auto": {"warmup_frames": 120, "sizes": {"128": 3}, "final": 128, "target_fps": 30.0},
              "stage_ms": {}}
    line = runner.format_report(report).splitlines()[1]
    assert line.endswith(f"at short side auto -> 128 (3 frames); settled after 120 warm-up frames, {said}")


def _mjpg_camera(path: Path, width: int = 128, height: int = 96, frames: int = 4) -> Path:
    import cv2
    import numpy as np
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (width, height))
    for i in range(frames):
        writer.write(np.full((height, width, 3), 40 * i, np.uint8))
    writer.release()
    return path


def test_the_bench_counts_the_camera_decoding_and_the_sink_conversion(tmp_path: Path) -> None:
    """Every stage the daemon runs is in a frame's time: the camera file's decoding (``capture``), the fit
    to the output size, the pipeline and the conversion to the output format (``sink``)."""
    camera = _mjpg_camera(tmp_path / "camera.avi")
    config = tmp_path / "bench.yaml"
    config.write_text(f"camera:\n  device: {camera}\nperson:\n  effect: original\nbackground:\n  effect: color\n")
    report = runner.run_bench(load_config(config), frames=6, warmup=1)
    stages = report["stage_ms"]
    assert {"capture", "fit", "segment", "mask", "composite", "sink"} <= set(stages)
    assert (report["width"], report["height"]) == (128, 96)
    # the rate the daemon's status would show: paced by the 30 fps camera, or slower if the frames are
    assert report["camera_fps"] == 30.0
    assert report["published_fps"] == min(30.0, report["fps"])
    assert f"the daemon publishes {report['published_fps']:.1f} fps" in runner.format_report(report)
    assert stages["capture"]["median"] > 0 and stages["sink"]["median"] > 0
    # the frame time covers its stages (medians of parts can exceed the whole's only by rounding)
    assert report["frame_ms"]["median"] >= 0.9 * (stages["capture"]["median"] + stages["sink"]["median"])


def test_bench_frames_are_decoded_one_by_one_and_loop(tmp_path: Path) -> None:
    """The file camera is decoded live (not preloaded), as RGB, mirrored when ``camera.mirror``, and loops."""
    import cv2
    import numpy as np
    camera = tmp_path / "camera.avi"
    writer = cv2.VideoWriter(str(camera), cv2.VideoWriter_fourcc(*"MJPG"), 30, (64, 48))
    picture = np.zeros((48, 64, 3), np.uint8)
    picture[:, :32] = (0, 0, 255)  # BGR: red on the left
    for _ in range(2):
        writer.write(picture)
    writer.release()
    config = tmp_path / "bench.yaml"
    config.write_text(f"camera:\n  device: {camera}\n  mirror: true\n")
    stream, granted, source = runner.frame_stream(load_config(config))
    assert source is None and granted[:2] == (64, 48)
    frames = [next(stream) for _ in range(5)]  # more than the file holds: it loops
    right = frames[-1][:, 48:].reshape(-1, 3).mean(axis=0)
    assert right[0] > 200 and right[2] < 50  # RGB, mirrored: the red half is on the right now
