"""The control page's preview cost: the real daemon's output frame rate with and without a page watching.

Runs ``vcamstyle run`` (isolated XDG directories, a generated file camera, ``output.backend: none``,
the default styles) and alternates phases of ``--seconds`` each: no page, then a page watching the
preview side by side (original | mask | result: the most the preview encodes), repeated ``--rounds``
times (A B A B: drift on a shared machine hits both). The output rate of a phase is the daemon's frame
count difference over the phase (status.json); the page is a WebSocket client like the browser's.

    python benchmarks/control_preview.py [--seconds 10] [--rounds 6] [--width 640 --height 360] [--extra YAML]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from camera import bench_config, camera_video
from websockets.sync.client import connect


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ, VCAMSTYLE_NO_SYSTEMD="1", PYTHONUNBUFFERED="1")
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_RUNTIME_DIR", "run"), ("XDG_STATE_HOME", "state")):
        (root / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        env[var] = str(root / sub)
    env.pop("NOTIFY_SOCKET", None)
    return env


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class Page(threading.Thread):
    """A page watching the preview over the WebSocket; counts the result frames it receives."""

    def __init__(self, info: dict) -> None:
        super().__init__(daemon=True)
        origin = info["url"].rstrip("/")
        self.ws = connect(origin.replace("http", "ws") + "/ws", origin=origin,  # closed by close()
                          additional_headers={"x-vcamstyle-secret": info["secret"]}).__enter__()
        self.ws.send(json.dumps({"preview": True, "side_by_side": True}))
        self.frames = 0
        self.start()

    def run(self) -> None:
        try:
            for message in self.ws:
                if isinstance(message, bytes) and message[0] == 2:
                    self.frames += 1
        except Exception:  # closed by close(): the benchmark is over
            pass

    def close(self) -> None:
        self.ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--extra", default="device: cpu\n", help="YAML appended to the config")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="vcamstyle-control-bench-"))
    env = _env(root)
    config = bench_config(camera_video(args.width, args.height), root,
                          "output:\n  backend: none\n" + args.extra)
    daemon = subprocess.Popen([sys.executable, "-m", "vcamstyle", "run", "--config", str(config)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_dir = root / "run" / "vcamstyle"
    try:
        deadline = time.monotonic() + 300
        while not ((run_dir / "control.json").exists() and (_read(run_dir / "status.json") or {}).get("frames", 0) > 30):
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the daemon did not start")
            time.sleep(0.2)
        time.sleep(args.seconds / 2)  # warm-up (style.size auto settles)
        info = _read(run_dir / "control.json")
        rows: dict[str, list[float]] = {"no page": [], "page watching": []}
        cpu_ms: dict[str, list[float]] = {"no page": [], "page watching": []}
        preview_fps: list[float] = []
        for _ in range(args.rounds):
            for phase in rows:
                page = Page(info) if phase == "page watching" else None
                time.sleep(1.0)  # the encoder starts
                start, cpu_start = _read(run_dir / "status.json"), _cpu_s(daemon.pid)
                seen = page.frames if page else 0
                time.sleep(args.seconds)
                end, cpu_end = _read(run_dir / "status.json"), _cpu_s(daemon.pid)
                cpu_ms[phase].append(1000 * (cpu_end - cpu_start) / max(1, end["frames"] - start["frames"]))
                rows[phase].append((end["frames"] - start["frames"]) / (end["published_at"] - start["published_at"]))
                if page:
                    preview_fps.append((page.frames - seen) / args.seconds)
                    page.close()
        status = _read(run_dir / "status.json") or {}
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
    cpu_ratios = [w / b for b, w in zip(cpu_ms["no page"], cpu_ms["page watching"])]
    ratios = [w / b for b, w in zip(rows["no page"], rows["page watching"])]  # each round's own pair
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; camera {args.width}x{args.height}; style.size in use "
          f"{status.get('style_size')}; device {status.get('device')}")
    print("| phase | output fps per round | median |")
    print("|---|---|---|")
    for phase, values in rows.items():
        print(f"| {phase} | {', '.join(f'{v:.2f}' for v in values)} | {statistics.median(values):.2f} |")
    print(f"| preview frames received | {', '.join(f'{v:.2f}' for v in preview_fps)} | {statistics.median(preview_fps):.2f} |")
    print(f"| watching / no page, per round | {', '.join(f'{r:.3f}' for r in ratios)} | {statistics.median(ratios):.3f} |")
    for phase, values in cpu_ms.items():
        print(f"| daemon CPU ms per output frame, {phase} | {', '.join(f'{v:.0f}' for v in values)} | "
              f"{statistics.median(values):.0f} |")
    print(f"| CPU per frame, watching / no page | {', '.join(f'{r:.3f}' for r in cpu_ratios)} | "
          f"{statistics.median(cpu_ratios):.3f} |")
    print(f"cost of a watching page (median of the rounds' ratios): {100 * (1 - statistics.median(ratios)):.1f} % "
          "of the output frame rate")


if __name__ == "__main__":
    main()
