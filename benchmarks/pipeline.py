"""Frames per second and per-stage times of the pipeline, as ``vcamstyle bench``, over a table of
configurations (offline default, blur-only, each upstream method with random weights) at 640x360 and
1280x720. Prints one table and, with ``--json``, one JSON object per row.

    python benchmarks/pipeline.py [--frames 60] [--device cpu|cuda] [--methods magenta,adain,sanet,avatarnet]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from camera import bench_config, camera_video  # noqa: E402

from vcamstyle.bench import runner  # noqa: E402
from vcamstyle.config import load_config, override  # noqa: E402

SIZES = [(640, 360), (1280, 720)]


def rows(methods: list[str]) -> list[tuple[str, dict]]:
    out = [("blur background", {"person.effect": "original", "background.effect": "blur"})]
    for method in methods:
        out.append((f"{method} two styles", {"style.method": method}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--methods", default="magenta")
    parser.add_argument("--style-size", type=int, default=None, help="override style.size (default: the config's)")
    parser.add_argument("--sizes", default="640x360,1280x720")
    parser.add_argument("--segmentation", default=None, help="override segmentation.model (random weights if upstream)")
    parser.add_argument("--precision", default="auto", help="precision: auto, float32, or both (auto,float32)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    print(f"{'configuration':<24}{'size':>11}{'precision':>10}{'fps':>8}{'median ms':>11}{'p95 ms':>9}  stages (median ms)")
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in sizes:
            config = load_config(bench_config(camera_video(width, height), Path(tmp)))
            for (name, changes), precision in itertools.product(rows(args.methods.split(",")), args.precision.split(",")):
                changes = {**changes, "device": args.device, "style.size": args.style_size,
                           "segmentation.model": args.segmentation, "precision": precision}
                random = changes.get("style.method", "magenta") != "magenta" or args.segmentation == "unet_resnet18"
                report = runner.run_bench(override(config, changes), frames=args.frames, warmup=args.warmup,
                                         random_weights=random)
                stages = ", ".join(f"{k} {v['median']:.1f}" for k, v in report["stage_ms"].items() if k != "capture_resize")
                print(f"{name:<24}{width:>6}x{height:<4}{report['precision']:>10}{report['fps']:>8.1f}{report['frame_ms']['median']:>11.1f}"
                      f"{report['frame_ms']['p95']:>9.1f}  {stages}")
                if args.json:
                    print(json.dumps({"configuration": name, **report}))
    print(f"peak host memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
