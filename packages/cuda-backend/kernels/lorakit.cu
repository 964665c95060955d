// lorakit's CUDA kernels: one translation unit, built into build/kernels.fatbin by nvcc when it exists
// (scripts/build-kernels.mjs) or compiled at first use by NVRTC (src/backend/module.ts). Compiled with
// --fmad=false: every operation is rounded as written, as the JavaScript reference computes it.
#include "common.cuh"
#include "elementwise.cuh"
#include "reduce.cuh"
#include "indexing.cuh"
#include "conv.cuh"
#include "fused.cuh"
#include "flash.cuh"
#include "lora.cuh"
