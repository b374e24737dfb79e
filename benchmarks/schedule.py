"""``style.schedule`` at the 720p default: ``every_frame`` against ``async`` (the style network on its own
thread), ``vcamstyle bench`` of the default configuration over a 1280x720 MJPG camera file (decoding and
the sink's YUYV conversion counted), runs alternating between the two, each in its own process, with the
load average before every run. Prints a markdown table (frame median and p95, fps, the size auto
settled at, the network's own rate) with the range over the runs.

    python benchmarks/schedule.py [--runs 3] [--frames 300] [--warmup 60] [--kind native|avx2]

``--kind avx2``: precision float32 and torch limited to AVX2 kernels (``ATEN_CPU_CAPABILITY=avx2``), as
``cpu_kinds.sh`` does; ``native``: the machine as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from camera import bench_config, camera_video  # noqa: E402

SCHEDULES = ("every_frame", "async")


def one_run(config: Path, schedule: str, frames: int, warmup: int, kind: str) -> dict:
    text = config.read_text()
    path = config.with_name(f"bench_{schedule}.yaml")
    path.write_text(text + f"style:\n  schedule: {schedule}\n" + ("precision: float32\n" if kind == "avx2" else ""))
    env = dict(os.environ, **({"ATEN_CPU_CAPABILITY": "avx2"} if kind == "avx2" else {}))
    out = subprocess.run([sys.executable, "-m", "vcamstyle", "bench", "-c", str(path), "--frames", str(frames),
                          "--warmup", str(warmup), "--json"], capture_output=True, text=True, env=env, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    report["load"] = os.getloadavg()[0]
    return report


def span(values: list[float], fmt: str = "{:.1f}") -> str:
    low, high = min(values), max(values)
    return fmt.format(low) if low == high else f"{fmt.format(low)}-{fmt.format(high)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--kind", choices=("native", "avx2"), default="native")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = bench_config(camera_video(1280, 720, fourcc="MJPG"), Path(tmp))
        results: dict[str, list[dict]] = {s: [] for s in SCHEDULES}
        for _ in range(args.runs):
            for schedule in SCHEDULES:
                load = os.getloadavg()[0]
                report = one_run(config, schedule, args.frames, args.warmup, args.kind)
                report["load_before"] = load
                results[schedule].append(report)
                print(f"{schedule}: load {load:.2f}, median {report['frame_ms']['median']:.1f} ms, p95 "
                      f"{report['frame_ms']['p95']:.1f} ms, size {report.get('style_size_auto', {}).get('final')}, "
                      f"network {report.get('network_fps')} fps", file=sys.stderr, flush=True)
    print(f"1280x720 MJPG file camera -> 1280x720 {args.kind}, {args.frames} frames after {args.warmup} warm-up, "
          f"{args.runs} runs alternating (ranges over the runs)\n")
    print("| schedule | load before | fps | median ms | p95 ms | size auto settled at | network fps | network ms |")
    print("|---|---|---|---|---|---|---|---|")
    for schedule, runs in results.items():
        sizes = sorted({r.get("style_size_auto", {}).get("final") for r in runs} - {None})
        network = [r["network_fps"] for r in runs if r.get("network_fps") is not None]
        network_ms = [r["stage_ms"]["network"]["median"] for r in runs if "network" in r["stage_ms"]]
        print(f"| {schedule} | {span([r['load_before'] for r in runs], '{:.2f}')} | {span([r['fps'] for r in runs])} "
              f"| {span([r['frame_ms']['median'] for r in runs])} | {span([r['frame_ms']['p95'] for r in runs])} "
              f"| {', '.join(map(str, sizes)) or '-'} | {span(network) if network else '-'} "
              f"| {span(network_ms) if network_ms else '-'} |")


if __name__ == "__main__":
    main()
