"""The full-resolution stages at 1280x720, before and after merging their passes (issue 22), run in one
process, alternating variant by variant on the same frames (see ``runtimes.alternate``):

- ``composite``: both regions styled, guided upsampling of each picture then a per-pixel blend (before)
  vs ``composite_cv.guided_blend`` (after: the two fits mixed at low resolution, one pass);
- ``denoise``: the still-scene denoiser over the whole RGB frame (before) vs ``SplitDenoiser`` (after:
  the grey frame at full resolution, the two network inputs at their sizes; the shrinking, which both
  need, is counted in both);
- ``sink``: the conversion to YUYV (unchanged; for scale).

The inputs are the default configuration's real ones: the camera video of ``camera.py`` at 1280x720,
the default styles, the Magenta network at ``--size`` (the analysis runs once per frame, untimed).
Also prints how far apart the variants' pictures are (mean and 99th percentile of |difference|, 0-255).

    python benchmarks/fullres.py [--rounds 60] [--size 192]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from camera import bench_config, camera_video  # noqa: E402
from runtimes import alternate, report  # noqa: E402

from vcamstyle import compute  # noqa: E402
from vcamstyle.bench.runner import frame_stream  # noqa: E402
from vcamstyle.config import load_config, override  # noqa: E402
from vcamstyle.devices.pixfmt import rgb_to_yuyv  # noqa: E402
from vcamstyle.frames import short_side_size, shrink  # noqa: E402
from vcamstyle.models.weights import resolve_weights_dir  # noqa: E402
from vcamstyle.pipeline import Engine, Pipeline  # noqa: E402
from vcamstyle.pipeline import composite_cv  # noqa: E402
from vcamstyle.pipeline.denoise_split import SplitDenoiser  # noqa: E402


def separate_composite(pipeline: Pipeline, frame: np.ndarray, analysis) -> np.ndarray:
    """The compositor before issue 22: each picture upsampled at full resolution, then blended."""
    mask = composite_cv.upsample_mask(analysis.low_mask, frame.shape[:2])
    styled = composite_cv.guided_upsample_each(analysis.styled, analysis.styled_guide, frame)
    return composite_cv.blend(styled[0], styled[-1], mask)


def differences(a: np.ndarray, b: np.ndarray) -> str:
    d = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return f"|difference| mean {d.mean():.2f}, p99 {np.percentile(d, 99):.0f}, max {d.max()} (0-255)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--size", type=int, default=192)
    args = parser.parse_args()
    compute.keep_freed_memory()
    with tempfile.TemporaryDirectory() as tmp:
        config = override(load_config(bench_config(camera_video(1280, 720, fourcc="MJPG"), Path(tmp))),
                          {"style.size": args.size, "style.schedule": "every_frame"})
        stream, _, _ = frame_stream(config)
        frames = [next(stream) for _ in range(8)]
    scene = Engine().build(config, (720, 1280), resolve_weights_dir(None))
    pipeline = Pipeline(scene.segmenter, scene.stylizer, scene.settings, scene.device)
    compute.set_torch_runs_networks(pipeline.torch_runs_networks)
    analyses = [pipeline.analyse(f, {}) for f in frames]
    buffers = composite_cv.FullResBuffers()
    amount = scene.settings.input_smoothing
    state = {"i": 0}

    def pick() -> tuple[np.ndarray, object, np.ndarray]:
        i = state["i"] = (state["i"] + 1) % len(frames)
        return frames[i], analyses[i], frames[i - 1]

    def before() -> np.ndarray:
        frame, analysis, _ = pick()
        return separate_composite(pipeline, frame, analysis)

    def after() -> np.ndarray:
        frame, analysis, _ = pick()
        return composite_cv.guided_blend(analysis.styled, analysis.styled_guide, analysis.low_mask, frame, buffers)

    print(f"1280x720, style.size {args.size}, {args.rounds} rounds alternating; "
          f"composite: {differences(separate_composite(pipeline, frames[0], analyses[0]), composite_cv.guided_blend(analyses[0].styled, analyses[0].styled_guide, analyses[0].low_mask, frames[0]))}")
    report("composite, both regions styled", alternate({"separate (before)": before, "guided_blend (after)": after}, args.rounds))

    split = SplitDenoiser(amount)
    sizes = [scene.segmenter.preferred_size(720, 1280), short_side_size(720, 1280, args.size, multiple=2)]

    def denoise_before() -> None:
        frame, _, previous = pick()
        steady = composite_cv.still_denoise(frame, previous, amount)
        for size in sizes:
            shrink(steady, size)

    def denoise_after() -> None:
        frame, _, _ = pick()
        split.grey(frame)
        for size in sizes:
            split.small(shrink(frame, size))

    report("denoise (and the network inputs' shrinking)",
           alternate({"RGB at 720p (before)": denoise_before, "split (after)": denoise_after}, args.rounds))
    report("sink conversion", alternate({"RGB -> YUYV": lambda: rgb_to_yuyv(pick()[0]),
                                         "camera BGR -> RGB": lambda: cv2.cvtColor(pick()[0], cv2.COLOR_BGR2RGB)},
                                        args.rounds))


if __name__ == "__main__":
    main()
