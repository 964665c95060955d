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
# The GPU benchmark frees each row's model and collects garbage before the next row (per-row peaks).
tsx_gc=(node --expose-gc --conditions=@lorakit/source --import tsx)
for step in $steps; do
  case "$step" in
    info) run info 60 bash -c 'nvidia-smi; node --version; ldconfig -p | grep -E "cublas|cusolver|nvrtc|libcuda"' ;;
    tests) run tests 330 bash -c 'cd packages/cuda-backend && LORAKIT_TEST_BACKENDS=cuda node ../../node_modules/vitest/vitest.mjs run --config vitest.gpu.config.ts --reporter=dot --reporter=json --outputFile.json=$OUT/tests.json' ;;
    bench) run bench 200 bash -c 'cd packages/cuda-backend && LORAKIT_BENCH_JSON=$OUT/bench.json '"${tsx[*]}"' bench/cuda.bench.ts' ;;
    demo) run demo 120 bash -c 'cd apps/cli && '"${tsx[*]}"' src/cli.ts demo --backend cuda -v --out /tmp/demo-output' ;;
    conformance) run conformance 240 bash -c 'cd apps/conformance && '"${tsx[*]}"' src/cli.ts --backend cuda' ;;
    # The benchmark of issue 16 (benchmarks/src/llama-gpu.bench.ts): llama-all runs every row with its PEFT
    # eager and compiled sides within a budget (LLAMA_ALL_BUDGET_S, default 540 s; the step's timeout is
    # the budget + 20 s); the others run one row each within 300 s.
    llama-all) run llama-all $((${LLAMA_ALL_BUDGET_S:-540} + 20)) bash -c 'cd benchmarks && LORAKIT_GPU_BENCH_BUDGET_S='"${LLAMA_ALL_BUDGET_S:-540}"' LORAKIT_BENCH_JSON=$OUT/llama-all.json '"${tsx_gc[*]}"' src/llama-gpu.bench.ts' ;;
    llama | llama-checkpoint | llama-dora | qwen) run "$step" 320 bash -c 'cd benchmarks && LORAKIT_GPU_BENCH_ROWS='"$step"' LORAKIT_GPU_BENCH_BUDGET_S=300 LORAKIT_BENCH_JSON=$OUT/'"$step"'.json '"${tsx_gc[*]}"' src/llama-gpu.bench.ts' ;;
    # Every row on lorakit's side only (no PEFT), within OURS_BUDGET_S (default 200 s): a quick check with profiles.
    ours) run ours $((${OURS_BUDGET_S:-200} + 20)) bash -c 'cd benchmarks && LORAKIT_GPU_BENCH_PEFT=none LORAKIT_GPU_BENCH_BUDGET_S='"${OURS_BUDGET_S:-200}"' LORAKIT_BENCH_JSON=$OUT/ours.json '"${tsx_gc[*]}"' src/llama-gpu.bench.ts' ;;
    qlora) run qlora 120 bash -c 'cd benchmarks && '"${tsx[*]}"' src/qlora-gpu.check.ts' ;;
    train) run train 180 bash -c 'cd apps/cli && for i in $(seq 200); do echo "the quick brown fox jumps over the lazy dog $i"; done > /tmp/train.txt && '"${tsx[*]}"' src/cli.ts train --backend cuda -v --model demo/base --data /tmp/train.txt --max-steps 30 --batch-size 8 --out /tmp/train-out --no-progress && ls -la /tmp/train-out' ;;
    *) echo "unknown step $step" | tee -a "$OUT/summary.txt" ;;
  esac
done
