#!/usr/bin/env bash
# The GPU machine's side of a run (see scripts/pack-gpu-run.sh): unpacks Node and node_modules, then runs
# the cuda test suites, the benchmark, the demo, a training run and the conformance cases on `cuda`,
# writing one log per step under $OUT. Steps are bounded in time and independent: one failing does not
# stop the others. GPU_STEPS selects steps (default: all).
set -uo pipefail
cd "$(dirname "$0")/../../.."
root="$PWD"
export PATH=/tmp/lorakit-node:$PATH
mkdir -p /tmp/lorakit-node "$OUT"
if [ "${SKIP_UNPACK:-0}" != 1 ]; then
  xz -dc .gpu/node.xz > /tmp/lorakit-node/node && chmod +x /tmp/lorakit-node/node
  tar xJf .gpu/nm.tar.xz
  mkdir -p packages/cuda-backend/build/Release
  cp .gpu/lorakit_cuda.node packages/cuda-backend/build/Release/
  cp .gpu/kernels.fatbin packages/cuda-backend/build/kernels.fatbin
fi
export LORAKIT_CUDA_QUIET=0 LORAKIT_CUDA_CACHE=/tmp/lorakit-cuda-cache
steps="${GPU_STEPS:-info tests bench demo conformance}"
run() {
  local name="$1" limit="$2"
  shift 2
  local started=$SECONDS
  (cd "$root" && timeout "$limit" "$@") > "$OUT/$name.log" 2>&1
  local status=$?
  echo "$name: exit $status in $((SECONDS - started)) s" | tee -a "$OUT/summary.txt"
}
tsx=(node --conditions=@lorakit/source --import tsx)
for step in $steps; do
  case "$step" in
    info) run info 60 bash -c 'nvidia-smi; node --version; ldconfig -p | grep -E "cublas|cusolver|nvrtc|libcuda"' ;;
    tests) run tests 330 bash -c 'cd packages/cuda-backend && LORAKIT_TEST_BACKENDS=cuda node ../../node_modules/vitest/vitest.mjs run --config vitest.gpu.config.ts --reporter=dot --reporter=json --outputFile.json=$OUT/tests.json' ;;
    bench) run bench 200 bash -c 'cd packages/cuda-backend && LORAKIT_BENCH_JSON=$OUT/bench.json '"${tsx[*]}"' bench/cuda.bench.ts' ;;
    demo) run demo 120 bash -c 'cd apps/cli && '"${tsx[*]}"' src/cli.ts demo --backend cuda -v --out /tmp/demo-output' ;;
    conformance) run conformance 240 bash -c 'cd apps/conformance && '"${tsx[*]}"' src/cli.ts --backend cuda' ;;
    llama) run llama 420 bash -c 'cd benchmarks && LORAKIT_BENCH_JSON=$OUT/llama.json '"${tsx[*]}"' src/llama-gpu.bench.ts' ;;
    llama-checkpoint) run llama-checkpoint 300 bash -c 'cd benchmarks && LORAKIT_GPU_BENCH_CHECKPOINT=1 LORAKIT_BENCH_JSON=$OUT/llama-checkpoint.json '"${tsx[*]}"' src/llama-gpu.bench.ts' ;;
    llama-bf16) run llama-bf16 300 bash -c 'cd benchmarks && LORAKIT_GPU_BENCH_DTYPE=bfloat16 LORAKIT_BENCH_JSON=$OUT/llama-bf16.json '"${tsx[*]}"' src/llama-gpu.bench.ts' ;;
    qlora) run qlora 120 bash -c 'cd benchmarks && '"${tsx[*]}"' src/qlora-gpu.check.ts' ;;
    train) run train 180 bash -c 'cd apps/cli && for i in $(seq 200); do echo "the quick brown fox jumps over the lazy dog $i"; done > /tmp/train.txt && '"${tsx[*]}"' src/cli.ts train --backend cuda -v --model demo/base --data /tmp/train.txt --max-steps 30 --batch-size 8 --out /tmp/train-out --no-progress && ls -la /tmp/train-out' ;;
    *) echo "unknown step $step" | tee -a "$OUT/summary.txt" ;;
  esac
done
