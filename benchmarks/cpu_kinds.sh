#!/usr/bin/env bash
# The CPU numbers of the README's performance section, for both CPU kinds, in one go:
# `vcamstyle bench` of the default configuration at 1280x720, what every user gets (a 30 fps MJPG
# video file of a real photo as the camera: its decoding is counted, as is the sink's conversion to
# YUYV), 300 frames after 60 of warm-up, three runs each, with the load average before and after every run.
#
#   - "avx2": behaves like an AVX2-only CPU without bfloat16 on any x86-64: precision float32 and
#     torch/oneDNN/MKL limited to AVX2 kernels (onnxruntime's MLAS picks its kernels from the CPU
#     itself; it cannot be limited, so on a newer CPU its part runs that CPU's kernels);
#   - "native": the machine as it is (bfloat16 for the style network where the CPU has it).
#
# Each kind runs with `style.size: auto` (the default) and with the size pinned at $FIXED_SIZE (192), so both the frame rate auto holds and the cost at a fixed size are visible; then auto once
# more pinned to one core with one thread (`taskset -c 0`: a machine half as fast), to show the size
# auto chooses falling on the slower machine and rising on the faster one.
#
#   benchmarks/cpu_kinds.sh [RUNS] [FRAMES]        (default 3 runs of 300 frames; JSON lines in $OUT_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
FRAMES=${2:-300}
FIXED_SIZE=${FIXED_SIZE:-192}
OUT_DIR=${OUT_DIR:-/tmp/vcamstyle-bench/cpu_kinds}
mkdir -p "$OUT_DIR"
CONFIG=$(python -c "
import sys, tempfile; from pathlib import Path; sys.path.insert(0, 'benchmarks')
from camera import bench_config, camera_video
print(bench_config(camera_video(1280, 720, fourcc='MJPG'), Path('$OUT_DIR')))")
grep -o 'avx512_bf16\|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ' || true
echo "(CPU bfloat16 flags above; none printed: an AVX2/AVX-512 CPU without bfloat16)"
run() {  # kind size run [cores]
  local kind=$1 size=$2 n=$3 cores=${4:-all} env=() args=(--config "$CONFIG" --frames "$FRAMES" --warmup 60 --json) pin=()
  if [ "$cores" = 1 ]; then pin=(taskset -c 0); args+=(--threads 1); fi
  if [ "$kind" = avx2 ]; then
    env=(ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2)
    args+=(--precision float32)
  fi
  [ "$size" = auto ] || args+=(--size "$size")
  local name="$kind-$size-$n-cores-$cores"
  echo "== $kind, style.size $size, run $n, cores: $cores; load before: $(cat /proc/loadavg)"
  env "${env[@]}" "${pin[@]}" python -m vcamstyle bench "${args[@]}" | tee "$OUT_DIR/$name.txt" | head -n -1
  tail -n 1 "$OUT_DIR/$name.txt" >> "$OUT_DIR/results.jsonl"
  echo "   load after: $(cat /proc/loadavg)"
}
for kind in avx2 native; do
  for size in auto "$FIXED_SIZE"; do
    for n in $(seq 1 "$RUNS"); do run "$kind" "$size" "$n"; done
  done
  run "$kind" auto 1 1
done
