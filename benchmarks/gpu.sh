#!/usr/bin/env bash
# Every GPU measurement in one run (target: under 5 minutes on one GPU). Needs torch with CUDA and
# vcamstyle's Python dependencies importable (pip install -e . in a venv); random weights, so no
# checkpoint downloads are needed (identical cost). Prints one table per measurement; the card first.
#
#   bash benchmarks/gpu.sh 2>&1 | tee gpu-results.txt
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
python - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA GPU visible to torch"
print(f"card: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
PY

echo "== pipeline: each method, two regions, 1280x720 and 1920x1080 (style.size = output short side)"
python benchmarks/pipeline.py --device cuda --methods magenta,adain,sanet,avatarnet \
  --sizes 1280x720,1920x1080 --frames 200 --warmup 30 --style-size 720
echo "== AdaIN two regions + UNet-ResNet18 segmentation at 1280x720 (target: >= 60 fps, p95 <= 16 ms)"
python benchmarks/pipeline.py --device cuda --methods adain --sizes 1280x720,1920x1080 --frames 300 --warmup 50 \
  --style-size 720 --segmentation unet_resnet18
echo "== seed algorithm vs current, same card, alternating"
config=$(python -c "import sys, pathlib; sys.path.insert(0, 'benchmarks'); from camera import bench_config, camera_video; print(bench_config(camera_video(1280, 720), pathlib.Path('/tmp/vcamstyle-bench')))")
python benchmarks/seed_baseline.py --config "$config" --method adain,sanet,avatarnet --device cuda --random-weights \
  --width 1280 --height 720 --size 720 --segmentation unet_resnet18 --frames 50 --warmup 10
echo "== latency with the real threads (30 fps file camera)"
python benchmarks/latency.py --device cuda --width 1280 --height 720 --frames 300
