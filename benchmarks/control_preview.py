"""The control page's preview cost: the real daemon's output frame rate with no page, with a page watching
the result, and with a page watching original | mask | result side by side.

Runs ``vcamstyle run`` with the default configuration (isolated XDG directories; the camera is a
generated 1280x720 30-fps MJPG video, as a webcam's default stream; ``output.backend: none`` since a
benchmark machine has no loopback device) and interleaves phases of ``--seconds`` each, ``--rounds``
times, the order rotated every round (drift on a shared machine hits every phase alike). A phase's output
rate is the daemon's frame-count difference over it (status.json); its CPU is the daemon's user + system
time per output frame. The page is a WebSocket client that opens the socket as the browser does (a
one-use ticket from ``POST /api/ticket``) and reads every preview frame. Prints a markdown table:

    python benchmarks/control_preview.py [--seconds 10] [--rounds 5] [--width 1280 --height 720] [--extra YAML]
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
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from camera import bench_config, camera_video
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import ClientConnection, connect

PHASES = {"no page": None, "page: result": False, "page: original | mask | result": True}  # side by side?
SETTLE_S = 1.0  # after a page opens or closes, before a phase is measured


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


def _busy_s() -> float:
    """CPU seconds the whole machine has been busy (all cores; /proc/stat, idle and iowait excluded)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _ticket(info: dict) -> str:
    """A WebSocket ticket, bought as the page buys it (secret header, the page's Origin)."""
    origin = info["url"].rstrip("/")
    request = urllib.request.Request(origin + "/api/ticket", method="POST", data=b"{}",
                                     headers={"x-vcamstyle-secret": info["secret"], "origin": origin,
                                              "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["ticket"]


class Page(threading.Thread):
    """A page watching the preview over the WebSocket; counts the result frames it receives."""

    def __init__(self, info: dict, side_by_side: bool) -> None:
        super().__init__(daemon=True)
        origin = info["url"].rstrip("/")
        self._connection = connect(f"{origin.replace('http', 'ws')}/ws?ticket={_ticket(info)}", origin=origin)
        self.ws: ClientConnection = self._connection.__enter__()  # left by close()
        self.ws.send(json.dumps({"preview": True, "side_by_side": side_by_side}))
        self.frames = 0
        self.start()

    def run(self) -> None:
        try:
            for message in self.ws:
                if isinstance(message, bytes) and message[0] == 2:  # the result view
                    self.frames += 1
        except (OSError, ConnectionClosedError) as exc:  # the socket broke (the daemon stopped): say so, the phase is then void
            print(f"page: the preview socket broke: {exc}", file=sys.stderr)

    def close(self) -> None:
        self._connection.__exit__(None, None, None)
        self.join(timeout=5)


def _spread(values: list[float], digits: int) -> str:
    """``median (min-max)``."""
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def _settle(run_dir: Path, warmup_s: float, steady_s: float = 10.0, limit_s: float = 180.0) -> None:
    """Wait ``warmup_s``, then until ``style.size: auto`` has kept its size for ``steady_s`` (at most
    ``limit_s`` in all; a size that still moves then shows in the table's last column)."""
    start = time.monotonic()
    time.sleep(warmup_s)
    size, since = None, time.monotonic()
    while time.monotonic() - start < limit_s:
        now_size = (_read(run_dir / "status.json") or {}).get("style_size")
        if now_size != size:
            size, since = now_size, time.monotonic()
        elif time.monotonic() - since >= steady_s:
            return
        time.sleep(0.5)


def measure(args: argparse.Namespace) -> tuple[dict[str, dict[str, list[float]]], dict]:
    """Per phase: lists of ``fps``, ``cpu_ms`` (per output frame), ``preview_fps`` and ``style_size``."""
    root = Path(tempfile.mkdtemp(prefix="vcamstyle-control-bench-"))
    env = _env(root)
    camera = camera_video(args.width, args.height, fourcc="MJPG")
    config = bench_config(camera, root, "output:\n  backend: none\n" + args.extra)
    log_path = root / "daemon.log"
    with log_path.open("wb") as log:
        daemon = subprocess.Popen([sys.executable, "-m", "vcamstyle", "run", "--config", str(config)], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
    run_dir = root / "run" / "vcamstyle"

    def gone(what: str) -> SystemExit:
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
        return SystemExit(f"{what} (exit status {daemon.poll()}); the end of {log_path}:\n" + "\n".join(tail))

    results = {phase: {"fps": [], "cpu_ms": [], "preview_fps": [], "style_size": [], "others": [], "round": []}
               for phase in PHASES}
    try:
        deadline = time.monotonic() + 300
        while not ((run_dir / "control.json").exists() and (_read(run_dir / "status.json") or {}).get("frames", 0) > 30):
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise gone("the daemon did not start")
            time.sleep(0.2)
        _settle(run_dir, args.warmup)
        info = _read(run_dir / "control.json")
        names = list(PHASES)
        for round_no in range(args.rounds):
            for phase in names[round_no % len(names):] + names[: round_no % len(names)]:
                page = Page(info, PHASES[phase]) if PHASES[phase] is not None else None
                time.sleep(SETTLE_S)
                start, cpu_start, seen = _read(run_dir / "status.json"), _cpu_s(daemon.pid), page.frames if page else 0
                busy_start, clock_start = _busy_s(), time.monotonic()
                time.sleep(args.seconds)
                if daemon.poll() is not None:
                    raise gone(f"the daemon stopped during the phase {phase!r}")
                end, cpu_end = _read(run_dir / "status.json"), _cpu_s(daemon.pid)
                others = (_busy_s() - busy_start - (cpu_end - cpu_start)) / (time.monotonic() - clock_start)
                results[phase]["others"].append(others)
                results[phase]["round"].append(round_no + 1)
                frames = end["frames"] - start["frames"]
                results[phase]["fps"].append(frames / (end["published_at"] - start["published_at"]))
                results[phase]["cpu_ms"].append(1000 * (cpu_end - cpu_start) / max(1, frames))
                results[phase]["style_size"].append(float(end.get("style_size") or 0))
                if page:
                    results[phase]["preview_fps"].append((page.frames - seen) / args.seconds)
                    page.close()
                    time.sleep(SETTLE_S)
        status = _read(run_dir / "status.json") or {}
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
    return results, status


def report(results: dict[str, dict[str, list[float]]], status: dict, args: argparse.Namespace) -> str:
    base = results["no page"]
    lines = [f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
             f"{os.getloadavg()[0]:.1f} at the end; camera {args.width}x{args.height} MJPG file; default config"
             f"{' + ' + repr(args.extra) if args.extra else ''}; device {status.get('device')}; "
             f"{args.rounds} rounds x {args.seconds:.0f} s per phase, interleaved",
             "",
             "| phase | output fps, median (range) | fps vs no page, per-round median (range) | "
             "CPU ms per output frame | CPU vs no page | preview fps received | style.size in use |",
             "|---|---|---|---|---|---|---|"]
    for phase, values in results.items():
        fps_ratio = [v / b for v, b in zip(values["fps"], base["fps"])]  # each round's own pair
        cpu_ratio = [v / b for v, b in zip(values["cpu_ms"], base["cpu_ms"])]
        lines.append(f"| {phase.replace('|', chr(92) + '|')} | {_spread(values['fps'], 2)} | "
                     f"{'-' if phase == 'no page' else _spread(fps_ratio, 3)} | {_spread(values['cpu_ms'], 1)} | "
                     f"{'-' if phase == 'no page' else _spread(cpu_ratio, 3)} | "
                     f"{_spread(values['preview_fps'], 1) if values['preview_fps'] else '-'} | "
                     f"{'/'.join(str(int(s)) for s in sorted(set(values['style_size'])))} |")
    lines += ["", "Each phase as measured (round: fps, and in brackets the CPU cores other processes used meanwhile):",
              "", "| round | " + " | ".join(p.replace("|", chr(92) + "|") for p in results) + " |",
              "|---|" + "---|" * len(results)]
    for round_no in sorted(set(base["round"])):
        cells = []
        for values in results.values():
            i = values["round"].index(round_no)
            cells.append(f"{values['fps'][i]:.2f} ({values['others'][i]:.2f})")
        lines.append(f"| {round_no} | " + " | ".join(cells) + " |")
    lines.append("")
    for phase in list(results)[1:]:
        fps_ratio = [v / b for v, b in zip(results[phase]["fps"], base["fps"])]
        lines.append(f"cost of `{phase}`: {100 * (1 - statistics.median(fps_ratio)):.1f} % of the output frame "
                     f"rate (median of the rounds' ratios; target: at most 10 %)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measured phase")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds before the first phase")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--extra", default="", help="YAML appended to the default config "
                                                    "(e.g. $'style:\\n  size: 128\\n' to hold the size fixed)")
    args = parser.parse_args()
    results, status = measure(args)
    print(report(results, status, args))


if __name__ == "__main__":
    main()
