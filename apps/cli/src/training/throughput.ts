import { type AnyModule, Embedding } from '@lorakit/nn';
import type { Dtype } from '@lorakit/tensor';

/**
 * Peak dense (no 2:4 sparsity) rates from NVIDIA's data sheets, in FLOP/s: `half` is bf16/f16 on the
 * tensor cores, `f32` plain float32 on the CUDA cores (TF32 is off by default in @lorakit/cuda-backend).
 * Rows are tried in order against the device name the backend's `describe()` gives ("NVIDIA H100 80GB
 * HBM3 (compute capability 9.0, …)"), so the NVL and PCIe variants come before the SXM default.
 */
export const PEAK_RATES: readonly {
  readonly pattern: RegExp;
  readonly name: string;
  readonly half: number;
  readonly f32: number;
}[] = [
  { pattern: /\bA100\b/, name: 'A100', half: 312e12, f32: 19.5e12 },
  { pattern: /\bH100\b.*\bNVL\b/, name: 'H100 NVL', half: 835.5e12, f32: 60e12 },
  { pattern: /\bH100\b.*\bPCIe\b/i, name: 'H100 PCIe', half: 756.5e12, f32: 51.2e12 },
  { pattern: /\bH100\b/, name: 'H100 SXM', half: 989.4e12, f32: 66.9e12 },
  { pattern: /\bH200\b.*\bNVL\b/, name: 'H200 NVL', half: 835.5e12, f32: 60e12 },
  { pattern: /\bH200\b/, name: 'H200 SXM', half: 989.4e12, f32: 66.9e12 },
];

/** The peak rate of a device for a compute dtype, or undefined when the table does not know it. */
export interface PeakRate {
  readonly name: string;
  readonly precision: 'bf16/f16' | 'f32';
  readonly flops: number;
}

/**
 * The peak rate for `device` (a backend's `describe()` text) computing in `dtype`: 16-bit floats use
 * the tensor-core rate, float32 the CUDA-core rate. Undefined for an unknown device (or none, as on the
 * js backend) and for float64.
 */
export function peakRateOf(device: string | undefined, dtype: Dtype): PeakRate | undefined {
  if (!device) return undefined;
  const row = PEAK_RATES.find((r) => r.pattern.test(device.split(' (')[0]!));
  if (!row) return undefined;
  if (dtype === 'bfloat16' || dtype === 'float16')
    return { name: row.name, precision: 'bf16/f16', flops: row.half };
  if (dtype === 'float32') return { name: row.name, precision: 'f32', flops: row.f32 };
  return undefined;
}

/** What the FLOPs estimate needs of one micro-batch. */
export interface BatchShape {
  /** Real (non-padding) tokens. */
  readonly tokens: number;
  /** Σ length² over the rows: the query-key pairs of full attention. */
  readonly attentionPairs: number;
}

/** What the FLOPs estimate needs of the model. */
export interface ModelShape {
  /** Parameters used in matrix products per token (every parameter but embedding tables). */
  readonly matmulParameters: number;
  /** Those of them that are trained (they also get a weight gradient). */
  readonly trainedParameters: number;
  readonly layers: number;
  /** Heads × head size: the width of queries, keys and values. */
  readonly attentionWidth: number;
}

/** The config fields the estimate reads (every family has the first three; some a head size). */
export interface ModelShapeConfig {
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  readonly hiddenSize: number;
  readonly headDim?: number;
}

/**
 * The model's shape for {@link stepFlops}: parameters counted once (tied ones too), embedding tables
 * left out since a lookup multiplies nothing — except where the LM head shares one, which counts as the
 * head's matrix.
 */
export function modelShapeOf(model: AnyModule, config: ModelShapeConfig): ModelShape {
  const seen = new Set<unknown>();
  let matmulParameters = 0;
  let trainedParameters = 0;
  for (const [, module] of model.namedModules()) {
    if (module instanceof Embedding) continue;
    for (const [, p] of module.ownParameters()) {
      if (!p || seen.has(p)) continue;
      seen.add(p);
      matmulParameters += p.size;
      if (p.requiresGrad) trainedParameters += p.size;
    }
  }
  const headDim = config.headDim ?? config.hiddenSize / config.numAttentionHeads;
  return {
    matmulParameters,
    trainedParameters,
    layers: config.numHiddenLayers,
    attentionWidth: config.numAttentionHeads * headDim,
  };
}

/**
 * Model FLOPs of one training micro-batch (Kaplan et al. 2020; PaLM's MFU, Chowdhery et al. 2022):
 * per token 2·N for the forward, 2·N for the gradients of the activations and 2·N_trained for the
 * weight gradients — 6·N when everything trains, about 4·N for LoRA, whose frozen weights get no
 * gradient — plus attention, 12 · layers · (heads × head size) per query-key pair (scores and weighted
 * values, forward and backward, no causal discount). Recomputation by gradient checkpointing is not
 * model work and is not counted.
 */
export function stepFlops(model: ModelShape, batch: BatchShape): number {
  const dense = (4 * model.matmulParameters + 2 * model.trainedParameters) * batch.tokens;
  return dense + 12 * model.layers * model.attentionWidth * batch.attentionPairs;
}

/** The dtype most parameter elements have: what the matrix products compute in. */
export function computeDtypeOf(model: AnyModule): Dtype {
  const counts = new Map<Dtype, number>();
  for (const p of model.parameters()) counts.set(p.dtype, (counts.get(p.dtype) ?? 0) + p.size);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'float32';
}

/** Model FLOPs utilization: achieved model FLOP/s over the peak rate. */
export function mfu(flops: number, milliseconds: number, peak: PeakRate): number {
  return milliseconds > 0 ? flops / (milliseconds / 1000) / peak.flops : 0;
}

/**
 * "MFU 41.3% of the H100 SXM's 989 TFLOP/s bf16/f16", or "MFU unknown: …" saying why there is no peak
 * rate (the backend names no device, or the table does not know it).
 */
export function describeMfu(
  flops: number,
  milliseconds: number,
  peak: PeakRate | undefined,
  device: { backend: string; device?: string | undefined },
): string {
  if (!peak) {
    return device.device
      ? `MFU unknown: no peak rate for ${device.device.split(' (')[0]}`
      : `MFU unknown: the ${device.backend} backend names no device`;
  }
  const share = (mfu(flops, milliseconds, peak) * 100).toFixed(1);
  return `MFU ${share}% of the ${peak.name}'s ${Math.round(peak.flops / 1e12)} TFLOP/s ${peak.precision}`;
}

/** The help text's account of tokens/s and MFU. */
export const THROUGHPUT_HELP =
  'Reports tokens/s (real tokens, padding excluded) and, on a device with a known peak rate (A100, H100,\n' +
  'H200: dense bf16/f16 for 16-bit models, f32 otherwise), model FLOPs utilization: model FLOPs per step\n' +
  '(4·N + 2·N_trained)·tokens + 12·layers·heads·head_size·Σ length², where N counts the parameters used\n' +
  'in matrix products (not embedding tables) — the usual 6·N·tokens plus attention when every weight\n' +
  "trains, about 4·N for LoRA's frozen ones; recomputation (--gradient-checkpointing) is not counted.";
