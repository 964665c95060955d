import { noGrad, svdLowrank, type Tensor, tensor } from '@lorakit/tensor';
import { LoftqError } from './errors.js';
import { int8DequantizeValues, int8QuantizeValues } from './quant/int8.js';
import { NFQuantizer } from './quant/nf-quantizer.js';
import { nf4DequantizeValues, nf4QuantizeValues } from './quant/nf4.js';

/**
 * Which quantizer LoftQ alternates with:
 * - 'bitsandbytes' (default): what PEFT ≥ 0.19 uses — bitsandbytes NF4 (block 64, no double
 *   quantization) for 4 bits, bitsandbytes row-wise int8 for 8 bits. Bit-exact.
 * - 'nf': PEFT ≤ 0.18's own `NFQuantizer` (NormalFloat, block 64): NF4 for 4 bits — which gives the same
 *   values as bitsandbytes NF4 except for elements at a rounding boundary — and NF8, a 256-value normal
 *   code book, for 8 bits.
 */
export type LoftqQuantizer = 'bitsandbytes' | 'nf';

/**
 * How LoftQ finds the rank-r part of the quantization error:
 * - 'full' (default): the exact SVD, as PEFT (`torch.linalg.svd`). Cost grows as min(m, n)²·max(m, n).
 * - `{ method: 'lowrank', niter, oversample }`: randomized SVD (`svdLowrank` with q = r + oversample,
 *   default 2 power iterations and oversample 10) — much faster for large layers, slightly worse fits.
 */
export type LoftqSvd =
  | 'full'
  | { readonly method: 'lowrank'; readonly niter?: number; readonly oversample?: number };

export interface LoftqInitOptions {
  /** 4 (NF4) or 8 (int8). */
  readonly bits: number;
  /** LoRA rank r. */
  readonly rank: number;
  /** Alternating steps T ≥ 1 (default 1). */
  readonly iterations?: number;
  readonly quantizer?: LoftqQuantizer;
  readonly svd?: LoftqSvd;
  /** A quantize-then-dequantize of its own (e.g. a quantized layer's format); overrides `quantizer`. */
  readonly fakeQuantize?: FakeQuantize;
}

export interface LoftqInitResult {
  /** The dequantized (fake-quantized) weight Q_T, float32, the input's shape. */
  readonly dequantized: Tensor;
  /** lora_A = diag(√σ₁..σᵣ)·Vᵣᵀ [r, in]. */
  readonly loraA: Tensor;
  /** lora_B = Uᵣ·diag(√σ₁..σᵣ) [out, r]. */
  readonly loraB: Tensor;
}

/** Quantize-then-dequantize of a row-major [rows, columns] float32 matrix. */
export type FakeQuantize = (values: Float32Array, rows: number, columns: number) => Float32Array;

/** The fake-quantizer LoftQ uses for `bits` and `quantizer`. */
export function loftqFakeQuantizer(bits: number, quantizer: LoftqQuantizer = 'bitsandbytes'): FakeQuantize {
  checkBits(bits);
  if (quantizer === 'nf') {
    const nf = new NFQuantizer({ numBits: bits, method: 'normal', blockSize: 64 });
    return (values, rows, columns) => {
      const q = nf.quantizeBlock(tensor(values, { shape: [rows, columns] }));
      return nf.dequantizeBlock(q).toArray() as Float32Array;
    };
  }
  if (quantizer !== 'bitsandbytes') {
    throw new LoftqError(
      `[loftq] quantizer must be 'bitsandbytes' or 'nf', received ${JSON.stringify(quantizer)}`,
    );
  }
  if (bits === 4) {
    return (values) =>
      nf4DequantizeValues({ ...nf4QuantizeValues(values, 64), blocksize: 64 }, values.length);
  }
  return (values, rows, columns) => int8DequantizeValues(int8QuantizeValues(values, rows, columns), columns);
}

function checkBits(bits: number): void {
  if (bits !== 4 && bits !== 8) {
    throw new LoftqError(
      `[loftq] Only nf4 and int8 quantization is supported: loftq_bits must be 4 or 8, received ${bits}`,
    );
  }
}

/**
 * The best rank-r factors of `error` [m, n] by SVD: B = Uᵣ·diag(√σ), A = diag(√σ)·Vᵣᵀ (PEFT's
 * `_low_rank_decomposition`, which splits √σ evenly between the factors and ignores the LoRA scaling).
 * Computed in float64, returned as float32.
 */
export function lowRankFactors(
  error: Tensor,
  rank: number,
  svd: LoftqSvd = 'full',
): { a: Tensor; b: Tensor } {
  return noGrad(() => {
    const [m, n] = error.shape as [number, number];
    const k = Math.min(m, n);
    if (!Number.isInteger(rank) || rank < 1 || rank > k) {
      throw new LoftqError(
        `[loftq] the rank must be an integer in [1, ${k}] for a [${m}, ${n}] weight, received ${rank}`,
      );
    }
    const e = error.double();
    let u: Tensor;
    let s: Tensor;
    let vh: Tensor;
    if (svd === 'full') ({ u, s, vh } = e.svd());
    else {
      const q = Math.min(k, rank + (svd.oversample ?? 10));
      const low = svdLowrank(e, q, svd.niter ?? 2);
      ({ u, s } = low);
      vh = low.v.T;
    }
    const root = s.narrow(0, 0, rank).sqrt();
    const b = u.narrow(1, 0, rank).mul(root.reshape(1, rank));
    const a = vh.narrow(0, 0, rank).mul(root.reshape(rank, 1));
    return { a: a.float().contiguous(), b: b.float().contiguous() };
  });
}

/**
 * LoftQ (Li et al., 2023, "LoftQ: LoRA-Fine-Tuning-Aware Quantization for Large Language Models"),
 * PEFT's `loftq_init`: starting from R = W, T times quantize R to Q = deq(quant(R)), take the best rank-r
 * fit B·A of W − Q, and (except after the last step) set R = W − B·A. Returns the last Q and its factors,
 * so that Q + B·A ≈ W. As in PEFT the LoRA scaling is not taken into account: the init compensates the
 * quantization error exactly only when `lora_alpha / r = 1`.
 *
 * @example
 * ```ts
 * const { dequantized, loraA, loraB } = loftqInit(weight, { bits: 4, rank: 16, iterations: 5 });
 * ```
 */
export function loftqInit(weight: Tensor, options: LoftqInitOptions): LoftqInitResult {
  checkBits(options.bits);
  const iterations = options.iterations ?? 1;
  if (!Number.isInteger(iterations) || iterations <= 0) {
    throw new LoftqError(`[loftq] Number of iterations must be greater than 0, received ${iterations}`);
  }
  if (weight.rank !== 2) {
    throw new LoftqError(`[loftq] Only support 2D matrix, but your input has ${weight.rank} dimensions.`);
  }
  const fakeQuantize = options.fakeQuantize ?? loftqFakeQuantizer(options.bits, options.quantizer);
  return noGrad(() => {
    const [rows, columns] = weight.shape as [number, number];
    const w = weight.float().contiguous();
    let residual = w.toArray() as Float32Array;
    let dequantized = residual;
    let factors: { a: Tensor; b: Tensor } | undefined;
    for (let step = 0; step < iterations; step++) {
      dequantized = fakeQuantize(residual, rows, columns);
      const q = tensor(dequantized, { shape: [rows, columns], backend: w.backend.name });
      factors = lowRankFactors(w.sub(q), options.rank, options.svd);
      if (step + 1 < iterations) residual = w.sub(factors.b.matmul(factors.a)).toArray() as Float32Array;
    }
    return {
      dequantized: tensor(dequantized, { shape: [rows, columns], backend: w.backend.name }),
      loraA: factors!.a,
      loraB: factors!.b,
    };
  });
}
