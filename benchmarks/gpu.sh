#!/usr/bin/env bash
# Every GPU measurement in one run (target: under 5 minutes on one GPU). Needs torch with CUDA and
# vcamstyle's Python dependencies importable (pip install -e . in a venv); random weights, so no
# checkpoint downloads are needed (identical cost). Prints the card first, one table per measurement,
# and at the end a markdown summary (fps, median and p95 per configuration, the seed-baseline speed-ups,
# latency) with the targets, ready to paste into the README.
#
#   bash benchmarks/gpu.sh 2>&1 | tee gpu-results.txt
#
# VCAMSTYLE_GPU_DRY_RUN=1 runs every command line of this script on the CPU with tiny frame counts
# (same sizes and arguments; no CUDA needed): it checks the script, not the speed.
# PYTHON=/path/to/python picks the interpreter (default: python on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
PYTHON=${PYTHON:-python}

if [[ "${VCAMSTYLE_GPU_DRY_RUN:-0}" == 1 ]]; then
  dry_run=1
  device=cpu
  # frames / warm-up frames per measurement: one frame each (the 720-short-side VGG networks take
  # 5-20 s a frame on a 2-core CPU), so that the whole dry run takes a few minutes
  pipe_frames=1 pipe_warmup=0
  seg_frames=1 seg_warmup=0
  seed_frames=1 seed_warmup=0
  lat_frames=2 lat_warmup=1
else
  dry_run=0
  device=cuda
  pipe_frames=200 pipe_warmup=30
  seg_frames=300 seg_warmup=50
  seed_frames=50 seed_warmup=10
  lat_frames=300 lat_warmup=30
fi
export VCAMSTYLE_GPU_DRY_RUN=$dry_run

# Raw outputs (tables and JSON lines) go to $VCAMSTYLE_GPU_RESULTS if set (kept), else to a temporary directory.
if [[ -n "${VCAMSTYLE_GPU_RESULTS:-}" ]]; then
  results=$VCAMSTYLE_GPU_RESULTS
  mkdir -p "$results"
else
  results=$(mktemp -d "${TMPDIR:-/tmp}/vcamstyle-gpu.XXXXXX")
  trap 'rm -rf "$results"' EXIT
fi
started=$SECONDS

"$PYTHON" - <<'PY'
import os, platform, torch
if os.environ["VCAMSTYLE_GPU_DRY_RUN"] == "1":
    print(f"DRY RUN on the CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{torch.get_num_threads()} torch threads): torch {torch.__version__}, CUDA {torch.version.cuda}, "
          f"CUDA available: {torch.cuda.is_available()}; numbers below are not GPU numbers")
else:
    assert torch.cuda.is_available(), "no CUDA GPU visible to torch"
    props = torch.cuda.get_device_properties(0)
    print(f"card: {torch.cuda.get_device_name(0)} ({props.total_memory / 2**30:.0f} GiB), torch {torch.__version__}, "
          f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
PY
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

echo "== pipeline: each method, two regions, 1280x720 and 1920x1080 (style.size 720: the network's short side)"
"$PYTHON" benchmarks/pipeline.py --device "$device" --methods magenta,adain,sanet,avatarnet \
  --sizes 1280x720,1920x1080 --frames "$pipe_frames" --warmup "$pipe_warmup" --style-size 720 --json \
  | tee "$results/pipeline.txt" | grep --line-buffered -v '^{'  # JSON lines: for the summary only
echo "== AdaIN two regions + UNet-ResNet18 segmentation at 1280x720 (target: >= 60 fps, p95 <= 16 ms) and 1920x1080 (>= 30 fps)"
"$PYTHON" benchmarks/pipeline.py --device "$device" --methods adain --sizes 1280x720,1920x1080 \
  --frames "$seg_frames" --warmup "$seg_warmup" --style-size 720 --segmentation unet_resnet18 --json \
  | tee "$results/segmentation.txt" | grep --line-buffered -v '^{'  # JSON lines: for the summary only
echo "== seed algorithm vs current, same card, alternating (target: >= 5x)"
config=$("$PYTHON" -c "import sys, pathlib; sys.path.insert(0, 'benchmarks'); from camera import bench_config, camera_video; print(bench_config(camera_video(1280, 720), pathlib.Path(sys.argv[1])))" "$results")
"$PYTHON" benchmarks/seed_baseline.py --config "$config" --method adain,sanet,avatarnet --device "$device" --random-weights \
  --width 1280 --height 720 --size 720 --segmentation unet_resnet18 --frames "$seed_frames" --warmup "$seed_warmup" --json \
  | tee "$results/seed.txt" | grep --line-buffered -v '^{'  # JSON lines: for the summary only
echo "== latency with the real threads (30 fps file camera, offline default config)"
"$PYTHON" benchmarks/latency.py --device "$device" --width 1280 --height 720 --frames "$lat_frames" --warmup "$lat_warmup" \
  | tee "$results/latency.txt"

echo
echo "== summary (markdown; $((SECONDS - started)) s in all)"
"$PYTHON" - "$results" <<'PY'
import json, os, sys
from pathlib import Path

results = Path(sys.argv[1])


def objects(name):
    """Every JSON object in a captured output (one per line, or one indented object)."""
    text, decoder, out = (results / name).read_text(), json.JSONDecoder(), []
    for line_start in [0] + [k + 1 for k, c in enumerate(text) if c == "\n"]:
        if text.startswith("{", line_start):
            try:
                out.append(decoder.raw_decode(text, line_start)[0])
            except json.JSONDecodeError:
                pass
    return out


def verdict(ok):
    return "yes" if ok else "**no**"


if os.environ["VCAMSTYLE_GPU_DRY_RUN"] == "1":
    print("(DRY RUN on the CPU with tiny frame counts: the numbers and verdicts below mean nothing)\n")

print("| configuration | segmentation | output | precision | fps | median ms | p95 ms | target | met |")
print("|---|---|---|---|---|---|---|---|---|")
for row in objects("pipeline.txt") + objects("segmentation.txt"):
    size = f"{row['width']}x{row['height']}"
    fps, median, p95 = row["fps"], row["frame_ms"]["median"], row["frame_ms"]["p95"]
    target, ok = "", None
    if row["method"] == "adain" and row["segmentation"] == "unet_resnet18":
        if size == "1280x720":
            target, ok = ">= 60 fps, p95 <= 16 ms", fps >= 60 and p95 <= 16
        elif size == "1920x1080":
            target, ok = ">= 30 fps", fps >= 30
    elif row["method"] == "sanet" and size == "1280x720":
        target, ok = ">= 30 fps", fps >= 30
    print(f"| {row['configuration']} | {row['segmentation']} | {size} | {row['precision']} | {fps:.1f} | {median:.1f} "
          f"| {p95:.1f} | {target} | {'' if ok is None else verdict(ok)} |")

print("\n| seed baseline (alternating) | output | network current / seed | current fps | seed fps | speed-up | target | met |")
print("|---|---|---|---|---|---|---|---|")
for row in objects("seed.txt"):
    sizes = " / ".join(f"{s['network_size'][1]}x{s['network_size'][0]}" for s in (row["current"], row["seed"]))
    print(f"| {row['method']} two regions + {row['segmentation']} | {row['width']}x{row['height']} | {sizes} "
          f"| {row['fps']:.1f} | {row['seed_fps']:.2f} | {row['speedup']:.2f}x | >= 5x | {verdict(row['speedup'] >= 5)} |")

print("\n| latency (real threads, 30 fps camera, 1280x720) | fps | frame age median / p95 | processing median / p95 "
      "| capture to sink median / p95 | frames waiting > 1 interval |")
print("|---|---|---|---|---|---|")
for row in objects("latency.txt"):
    pair = lambda key: f"{row[key]['median']:.1f} / {row[key]['p95']:.1f} ms"
    print(f"| offline default | {row['fps']:.1f} | {pair('frame_age_ms')} | {pair('processing_ms')} "
          f"| {pair('latency_ms')} | {row['frames_waiting_longer_than_one_interval']} of {row['frames']} |")
PY
