"""On demand: idle CPU and wake time of the real daemon loop, the consumer simulated through the device layer.

The daemon runs in-process (file camera, the offline default models unless --extra says otherwise) and
writes to a simulated v4l2loopback node (``v4l2_sim``); a simulated app opens and closes that node.

- idle CPU: this process's CPU time (all threads) over ``--idle-seconds`` while nobody watches, as a
  percentage of one core; plus the cost of one real ``/proc`` consumer count on this machine, which the
  monitor does every ``RECHECK_S`` seconds while idle (the simulated watch does not scan ``/proc``);
- wake time: from the app's open to the first stylized frame leaving the pipeline, and within it the
  camera's own start-up (``CameraSource.start``), for ``--wakes`` open/close cycles; it is the 0.2 s
  settle time + the camera's start + one frame's processing (``streaming_stage_ms_median``: on a busy
  machine that last part grows, so read the wake time next to it).

    python benchmarks/on_demand.py [--idle-seconds 20] [--wakes 5] [--width 640 --height 360] [--extra YAML]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from camera import bench_config, camera_video

from vcamstyle.daemon.on_demand import RECHECK_S
from vcamstyle.daemon.service import Service
from vcamstyle.devices import camera as camera_module
from vcamstyle.devices import consumers, v4l2
from vcamstyle.devices.v4l2_sim import SimulatedDeviceIO, SimulatedNode

NODE = "/dev/video10"
APP_PID = 4242


def wait_until(predicate, what: str, limit_s: float = 120.0) -> None:
    end = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > end:
            raise SystemExit(f"benchmark stuck: {what}")
        time.sleep(0.005)


def proc_scan_ms(repeats: int = 20) -> float:
    """Median milliseconds of one real /proc consumer count (against /dev/null, held by many processes)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        consumers.holders("/dev/null")
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--wakes", type=int, default=5)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--grace", type=float, default=1.0, help="output.on_demand_grace_s for the run")
    parser.add_argument("--extra", default="", help="extra YAML appended to the config")
    args = parser.parse_args()

    io = SimulatedDeviceIO({NODE: SimulatedNode()})
    v4l2.default_io = lambda: io  # the daemon's sink and consumer watch use the simulated layer

    camera_starts: list[float] = []
    real_start = camera_module.CameraSource.start

    def timed_start(self):
        t0 = time.perf_counter()
        try:
            return real_start(self)
        finally:
            camera_starts.append(time.perf_counter() - t0)
    camera_module.CameraSource.start = timed_start

    frame_times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        video = camera_video(args.width, args.height, fps=30, frames=90)
        config = bench_config(video, Path(tmp), f"output:\n  backend: v4l2loopback\n  device: {NODE}\n"
                                                f"  on_demand_grace_s: {args.grace}\n{args.extra}")
        service = Service(config, publish=False, on_frame=lambda s: frame_times.append(time.monotonic()))

        def run() -> None:
            try:
                service.start()
                service.phase = "running"
                service.loop()
            finally:
                service.shutdown()
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        node = io.nodes[NODE]
        wait_until(lambda: service.status()["state"] == "idle", "idle at start")

        time.sleep(1.0)  # let the release settle
        frames_before, cpu0, wall0 = len(node.frames), time.process_time(), time.monotonic()
        time.sleep(args.idle_seconds)
        cpu1, wall1 = time.process_time(), time.monotonic()
        idle_pct = 100 * (cpu1 - cpu0) / (wall1 - wall0)
        placeholder_fps = (len(node.frames) - frames_before) / (wall1 - wall0)
        scan_ms = proc_scan_ms()

        wakes, cams = [], []
        for _ in range(args.wakes):
            wait_until(lambda: service.status()["state"] == "idle", "idle before a wake")
            seen, starts = len(frame_times), len(camera_starts)
            opened = time.monotonic()
            io.consumer_open(NODE, APP_PID)
            wait_until(lambda: len(frame_times) > seen, "first stylized frame")
            wakes.append(frame_times[seen] - opened)
            cams.append(camera_starts[starts] if len(camera_starts) > starts else float("nan"))
            time.sleep(0.5)
            io.consumer_close(NODE, APP_PID)
        stage_ms = service.stage_times.medians()
        service.stop_event.set()
        thread.join(10)

    print(json.dumps({
        "size": f"{args.width}x{args.height}",
        "idle_seconds": args.idle_seconds,
        "idle_cpu_percent_of_one_core": round(idle_pct, 2),
        "idle_placeholder_fps": round(placeholder_fps, 2),
        "proc_scan_ms": round(scan_ms, 2),
        "proc_scan_percent_of_one_core": round(100 * scan_ms / 1000 / RECHECK_S, 3),
        "wake_s": [round(w, 3) for w in wakes],
        "wake_s_median": round(statistics.median(wakes), 3),
        "camera_start_s": [round(c, 3) for c in cams],
        "wake_minus_camera_start_s_max": round(max(w - c for w, c in zip(wakes, cams)), 3),
        "streaming_stage_ms_median": {k: round(v, 1) for k, v in stage_ms.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
