"""Image quality of the pipeline on clips built from real photos (``vcamstyle bench --quality``).

Temporal stability (still and moving, against a naive per-frame run), region independence, halo
width, mask IoU per segmenter and face legibility; offline, on the CPU, about 10 minutes on 2 cores. Prints a
markdown table and the targets; ``--json`` adds one JSON object on the last line.

    python benchmarks/quality.py [--config my.yaml] [--still 20] [--moving 24] [--settle 30] [--no-flat]
                                 [--aspects 16:9,4:3] [--photos astronaut,grace_hopper] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

try:
    from vcamstyle.bench import quality
except ModuleNotFoundError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from vcamstyle.bench import quality
from vcamstyle.config import load_config, override
from vcamstyle.errors import VcamstyleError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, help="a config file (default: the shipped template)")
    parser.add_argument("--still", type=int, default=quality.QualityOptions.still)
    parser.add_argument("--moving", type=int, default=quality.QualityOptions.moving)
    parser.add_argument("--settle", type=int, default=quality.QualityOptions.settle,
                        help="still frames after the motion (the first second at 30 fps)")
    parser.add_argument("--no-flat", action="store_true", help="skip the plain wall in flat styles")
    parser.add_argument("--aspects", default="16:9,4:3")
    parser.add_argument("--photos", default="astronaut,grace_hopper")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    try:
        options = quality.QualityOptions(still=args.still, moving=args.moving, settle=args.settle, flat=not args.no_flat,
                                         aspects=tuple(a for a in args.aspects.split(",") if a),
                                         photos=tuple(p for p in args.photos.split(",") if p))
    except ValueError as exc:
        parser.error(str(exc))  # exit status 2, with the usage line
    try:
        config = override(load_config(args.config), {"device": "cpu"}) if args.config else quality.default_config()
    except VcamstyleError as exc:
        parser.exit(1, f"error: {exc}\n")
    report = quality.run_quality(config, options)
    print(quality.format_quality(report))
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
