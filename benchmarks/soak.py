"""Soak run: 10,000 frames through the real daemon loop with a config reload every 500 frames.
Reports resident memory and open file descriptors at the start and the end.

    python benchmarks/soak.py [--frames 10000] [--reload-every 500] [--width 320 --height 180]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from camera import bench_config, camera_video  # noqa: E402

from vcamstyle.bench.live import run_soak  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--reload-every", type=int, default=500)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=180)
    parser.add_argument("--fps", type=int, default=240, help="camera file frame rate (high: the soak is not paced by it)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        camera = camera_video(args.width, args.height, fps=args.fps, frames=120)
        config = bench_config(camera, Path(tmp), f"device: {args.device}\n")
        print(json.dumps(run_soak(config, frames=args.frames, reload_every=args.reload_every), indent=2))


if __name__ == "__main__":
    main()
