"""End-to-end latency with the real daemon threads: a 30 fps file camera -> pipeline -> null sink.

Reports frame age (how long the newest frame waited before processing), processing time and
capture-to-sink latency (median, p95, max), and how many frames waited longer than one frame interval.

    python benchmarks/latency.py [--frames 300] [--warmup 30] [--width 640 --height 360] [--device cpu]
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

from vcamstyle.bench.live import run_latency  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30, help="frames processed before measuring")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--extra", default="", help="extra YAML appended to the config")
    args = parser.parse_args()
    if args.frames < 1 or args.warmup < 0:
        parser.error("--frames must be >= 1 and --warmup >= 0")
    with tempfile.TemporaryDirectory() as tmp:
        camera = camera_video(args.width, args.height, fps=30, frames=90)
        config = bench_config(camera, Path(tmp), f"device: {args.device}\n{args.extra}")
        print(json.dumps(run_latency(config, frames=args.frames, warmup=args.warmup), indent=2))


if __name__ == "__main__":
    main()
