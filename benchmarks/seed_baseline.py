"""The current pipeline against the seed's per-frame algorithm, alternating on the same frames.

The same measurement as ``vcamstyle bench --seed-baseline`` (``vcamstyle.bench.runner.run_seed_comparison``),
as a plain script that can also run several methods in one go and choose where the seed's networks
run. Examples::

    python benchmarks/seed_baseline.py --config bench.yaml --method adain --frames 50 --random-weights
    python benchmarks/seed_baseline.py --method adain,sanet,avatarnet --width 640 --height 360 --json

For each method it prints the table of ``vcamstyle bench --seed-baseline``; with ``--json``, one JSON
object per method on its own line right after its table (the last line is the last method's object,
with ``seed_fps`` and ``speedup``). With several methods a summary table closes the text output.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

try:
    from vcamstyle.bench import runner
except ModuleNotFoundError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from vcamstyle.bench import runner
from vcamstyle import paths
from vcamstyle.config import ensure_config, load_config, override
from vcamstyle.errors import VcamstyleError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=None,
                        help="config file [default: $XDG_CONFIG_HOME/vcamstyle/config.yaml]; its camera "
                             "(a video file works) supplies the frames")
    parser.add_argument("--method", default=None,
                        help="adain, sanet or avatarnet, or a comma-separated list [default: the config's]")
    parser.add_argument("--frames", type=int, default=50, help="measured frames per method (after warm-up)")
    parser.add_argument("--warmup", type=int, default=5, help="frames run by both before measuring")
    parser.add_argument("--random-weights", action="store_true", help="random weights (identical cost)")
    parser.add_argument("--segmentation", default=None, help="override segmentation.model")
    parser.add_argument("--width", type=int, default=None, help="override the output width")
    parser.add_argument("--height", type=int, default=None, help="override the output height")
    parser.add_argument("--size", type=int, default=None, help="override style.size (the pipeline's short side)")
    parser.add_argument("--device", default=None, help="override device (cpu, cuda)")
    parser.add_argument("--seed-size", choices=("output", "style"), default="output",
                        help="where the seed's networks run: the output size (as the seed did) or the "
                             "pipeline's working size (isolates the algorithmic gain)")
    parser.add_argument("--json", action="store_true", help="also print each report as one JSON line")
    args = parser.parse_args(argv)
    if args.frames < 1 or args.warmup < 0:
        parser.error("--frames must be >= 1 and --warmup >= 0")
    return args


def summary_table(reports: list[dict[str, Any]]) -> str:
    lines = [f"{'method':<12}{'current fps':>12}{'seed fps':>10}{'speed-up':>10}"]
    for report in reports:
        lines.append(f"{report['method']:<12}{report['fps']:>12.2f}{report['seed_fps']:>10.2f}"
                     f"{report['speedup']:>9.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        path = (args.config or paths.default_config_path()).expanduser().resolve()
        if ensure_config(path):
            print(f"created {path} from the template", file=sys.stderr)
        config = override(load_config(path), {"segmentation.model": args.segmentation, "output.width": args.width,
                                              "output.height": args.height, "style.size": args.size,
                                              "device": args.device})
        methods = [m.strip() for m in args.method.split(",") if m.strip()] if args.method else [config.style.method]
        reports = []
        for method in methods:
            report = runner.run_seed_comparison(override(config, {"style.method": method}), frames=args.frames,
                                               warmup=args.warmup, random_weights=args.random_weights,
                                               seed_size=args.seed_size)
            reports.append(report)
            print(runner.format_report(report))
            if args.json:
                print(json.dumps(report))
            sys.stdout.flush()
    except VcamstyleError as exc:
        print(f"seed_baseline: {exc.message}" + (f"\n  fix: {exc.hint}" if exc.hint else ""), file=sys.stderr)
        return exc.exit_code
    if len(reports) > 1 and not args.json:
        print(summary_table(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
