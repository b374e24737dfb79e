"""Does `vcamstyle bench` predict what `vcamstyle status` shows? The same configuration both ways.

For each ``style.schedule`` (``async`` and ``every_frame``): ``vcamstyle bench`` of the default
configuration over a 1280x720 MJPG camera file (its ``published_fps``: the lesser of the output's rate
and the unpaced rate), then the real daemon (``vcamstyle run``, the same camera file paced at 30 fps,
``output.backend: none``, whose null sink converts to YUYV as the virtual camera's does) for
``--seconds``; the daemon's rate is the frames it counted over the last part of the run divided by the
time between the two status files that bracket it (``frames`` and ``published_at``), after the warm-up.

    python benchmarks/status_vs_bench.py [--seconds 40] [--frames 300] [--kind native|avx2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from camera import bench_config, camera_video  # noqa: E402

SCHEDULES = ("async", "every_frame")
WARMUP_S = 15.0


def _env(kind: str, runtime: Path | None = None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), VCAMSTYLE_NO_SYSTEMD="1")
    if kind == "avx2":  # as benchmarks/cpu_kinds.sh: torch, oneDNN and MKL limited to AVX2 kernels
        env.update(ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2", MKL_ENABLE_INSTRUCTIONS="AVX2")
    if runtime is not None:
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
    return env


def bench(config: Path, frames: int, kind: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "vcamstyle", "bench", "-c", str(config), "--frames", str(frames),
                          "--warmup", "60", "--json"], capture_output=True, text=True, env=_env(kind), check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _status(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def daemon(config: Path, seconds: float, kind: str, runtime: Path) -> dict:
    status_path = runtime / "vcamstyle" / "status.json"
    process = subprocess.Popen([sys.executable, "-m", "vcamstyle", "run", "--config", str(config)],
                               env=_env(kind, runtime), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while not (_status(status_path) or {}).get("ready"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the daemon did not get ready (rc {process.poll()})")
            time.sleep(0.2)
        time.sleep(WARMUP_S)
        first = _status(status_path)
        time.sleep(max(1.0, seconds - WARMUP_S))
        last = _status(status_path)
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert first and last
    rate = (last["frames"] - first["frames"]) / (last["published_at"] - first["published_at"])
    return {"fps": round(rate, 2), "status_fps": last.get("fps"), "style_size": last.get("style_size"),
            "network_fps": last.get("network_fps")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--kind", choices=("native", "avx2"), default="native")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="vcamstyle-svb-") as tmp:
        camera = camera_video(1280, 720, fourcc="MJPG")
        for schedule in SCHEDULES:
            extra = f"output:\n  backend: none\nstyle:\n  schedule: {schedule}\n" + \
                ("precision: float32\n" if args.kind == "avx2" else "")
            config = bench_config(camera, Path(tmp) / schedule, extra)
            measured = bench(config, args.frames, args.kind)
            live = daemon(config, args.seconds, args.kind, Path(tmp) / f"run-{schedule}")
            rows.append((schedule, measured, live))
    print(f"bench vs the running daemon, 1280x720 MJPG camera, YUYV null sink ({args.kind})")
    print("| schedule | bench unpaced fps | bench published_fps | daemon fps (frames / time) | status fps | "
          "difference | style.size bench / daemon |")
    print("|---|---|---|---|---|---|---|")
    for schedule, measured, live in rows:
        diff = (live["fps"] - measured["published_fps"]) / measured["published_fps"] * 100
        size = (measured.get("style_size_auto") or {}).get("final")
        print(f"| {schedule} | {measured['fps']:.1f} | {measured['published_fps']:.1f} | {live['fps']:.1f} | "
              f"{live['status_fps']} | {diff:+.1f} % | {size} / {live['style_size']} |")


if __name__ == "__main__":
    main()
