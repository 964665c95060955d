/**
 * PyTorch's CPU `torch.randn` after `torch.manual_seed(seed)`, reproduced value for value (to the last
 * bit of the transcendental functions). PEFT's incremental PCA reseeds with 42 before every
 * `torch.svd_lowrank` call, so the random sketch of the randomized SVD is a fixed matrix; drawing the
 * same one makes lorakit's components agree with PEFT's to float rounding instead of to the accuracy of
 * the randomized SVD, and keeps the convergence decisions (cosine ≥ τ) and hence the ranks identical.
 *
 * The generator is MT19937 (Matsumoto & Nishimura 1998) seeded like `std::mt19937(seed)`. ATen's CPU
 * normal kernel then has three paths:
 * - float32, ≥ 16 values (contiguous): uniforms u = (next32() & (2²⁴−1)) / 2²⁴ for every slot, then Box–Muller on
 *   blocks of 16 (u1 = 1 − data[j], u2 = data[j+8] → r·cos θ into j, r·sin θ into j+8); when the size is
 *   not a multiple of 16 the last 16 slots get fresh uniforms and are transformed again.
 * - float64, ≥ 16 values: the same with 53-bit uniforms from two 32-bit draws (first draw = high word).
 * - fewer than 16 values: one `normal_distribution<double>` draw per value (u1, u2 53-bit, r = √(−2·log1p(−u2)),
 *   value r·cos(2πu1); r·sin(2πu1) is cached and returned by the next draw).
 */

const N = 624;
const M = 397;

/** The 32-bit Mersenne Twister, as `std::mt19937` and ATen's `at::mt19937`. */
export class Mt19937 {
  readonly #state = new Uint32Array(N);
  #index = N;

  constructor(seed: number) {
    this.#state[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const previous = this.#state[i - 1]! ^ (this.#state[i - 1]! >>> 30);
      // 1812433253 · previous + i (mod 2³²), split so the product stays exact in doubles.
      this.#state[i] =
        ((((previous & 0xffff0000) >>> 16) * 1812433253) << 16) + (previous & 0x0000ffff) * 1812433253 + i;
    }
  }

  /** The next 32-bit output (an unsigned integer). */
  next32(): number {
    if (this.#index >= N) this.#twist();
    let y = this.#state[this.#index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  #twist(): void {
    const s = this.#state;
    for (let i = 0; i < N; i++) {
      const y = (s[i]! & 0x80000000) | (s[(i + 1) % N]! & 0x7fffffff);
      s[i] = s[(i + M) % N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.#index = 0;
  }

  /** A float32-grid uniform in [0, 1): 24 random bits. */
  uniformFloat(): number {
    return (this.next32() & 0xffffff) / 0x1000000;
  }

  /** A float64 uniform in [0, 1): the low 53 bits of (first draw << 32 | second draw). */
  uniformDouble(): number {
    const high = this.next32() & 0x1fffff;
    const low = this.next32();
    return (high * 0x100000000 + low) / 2 ** 53;
  }
}

const TWO_PI = 2 * Math.PI;

function boxMuller16(data: Float64Array | Float32Array, offset: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = 1 - data[offset + j]!;
    const u2 = data[offset + j + 8]!;
    const radius = Math.sqrt(-2 * Math.log(u1));
    const theta = TWO_PI * u2;
    data[offset + j] = radius * Math.cos(theta);
    data[offset + j + 8] = radius * Math.sin(theta);
  }
}

function fill16(data: Float64Array | Float32Array, uniform: () => number): void {
  const size = data.length;
  for (let i = 0; i < size; i++) data[i] = uniform();
  for (let i = 0; i + 16 <= size; i += 16) boxMuller16(data, i);
  if (size % 16 !== 0) {
    for (let i = size - 16; i < size; i++) data[i] = uniform();
    boxMuller16(data, size - 16);
  }
}

/**
 * `torch.manual_seed(seed); torch.randn(size, dtype)` on the CPU, as host values. float32 results are
 * rounded from double-precision transcendental functions, so they can differ from PyTorch's vectorized
 * float32 ones in the last bit.
 */
export function torchRandn(
  size: number,
  dtype: 'float32' | 'float64',
  seed: number,
): Float32Array | Float64Array {
  const generator = new Mt19937(seed);
  if (size >= 16) {
    // float32: Box–Muller on the float32-rounded uniforms (exact: 24-bit values), written back as float32.
    const data = dtype === 'float32' ? new Float32Array(size) : new Float64Array(size);
    fill16(data, dtype === 'float32' ? () => generator.uniformFloat() : () => generator.uniformDouble());
    return data;
  }
  const out = dtype === 'float32' ? new Float32Array(size) : new Float64Array(size);
  let cached: number | undefined;
  for (let i = 0; i < size; i++) {
    if (cached !== undefined) {
      out[i] = cached;
      cached = undefined;
      continue;
    }
    const u1 = generator.uniformDouble();
    const u2 = generator.uniformDouble();
    const radius = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = TWO_PI * u1;
    cached = radius * Math.sin(theta);
    out[i] = radius * Math.cos(theta);
  }
  return out;
}
