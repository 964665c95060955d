/**
 * Conversions between float32 and the narrow float formats safetensors stores.
 *
 * - F16: IEEE 754 binary16.
 * - BF16: the top 16 bits of a binary32.
 * - F8_E4M3: `float8_e4m3fn` (bias 7, no infinities, NaN = S.1111.111) — what PyTorch and
 *   safetensors mean by F8_E4M3.
 * - F8_E5M2: `float8_e5m2` (bias 15, IEEE-like with infinities and NaNs).
 *
 * Encoding rounds to nearest, ties to even, like PyTorch's casts.
 */

let f16Table: Float32Array | undefined;

/** 65,536-entry lookup table: decoding is then one load per element. */
function float16Table(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) table[h] = decodeFloat16Bits(h);
  f16Table = table;
  return table;
}

function decodeFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

export function decodeFloat16(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const table = float16Table();
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  return out;
}

export function decodeBFloat16(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const words = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) words[i] = bits[i]! << 16;
  return out;
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** float32 → bf16 bits, round to nearest even; NaN stays a (quiet) NaN. */
export function encodeBFloat16(values: ArrayLike<number>, out = new Uint16Array(values.length)): Uint16Array {
  for (let i = 0; i < values.length; i++) {
    scratch[0] = values[i]!;
    const x = scratchBits[0]!;
    if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) {
      out[i] = (x >>> 16) | 0x40;
      continue;
    }
    out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** float32 → f16 bits, round to nearest even, overflow to infinity, gradual underflow. */
export function encodeFloat16(values: ArrayLike<number>, out = new Uint16Array(values.length)): Uint16Array {
  for (let i = 0; i < values.length; i++) {
    scratch[0] = values[i]!;
    const x = scratchBits[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exponent = (x >>> 23) & 0xff;
    let mantissa = x & 0x7fffff;
    if (exponent === 0xff) {
      out[i] = sign | 0x7c00 | (mantissa ? 0x200 : 0);
      continue;
    }
    const e = exponent - 127 + 15;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mantissa |= 0x800000;
      const shift = 14 - e;
      const half = 1 << (shift - 1);
      const rest = mantissa & ((1 << shift) - 1);
      let m = mantissa >>> shift;
      if (rest > half || (rest === half && m & 1)) m++;
      out[i] = sign | m;
      continue;
    }
    let h = (e << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
    out[i] = sign | h;
  }
  return out;
}

function decodeMinifloat(bits: number, exponentBits: number, mantissaBits: number, fn: boolean): number {
  const sign = bits & 0x80 ? -1 : 1;
  const bias = (1 << (exponentBits - 1)) - 1;
  const exponent = (bits >> mantissaBits) & ((1 << exponentBits) - 1);
  const mantissa = bits & ((1 << mantissaBits) - 1);
  const maxExponent = (1 << exponentBits) - 1;
  if (fn) {
    if (exponent === maxExponent && mantissa === (1 << mantissaBits) - 1) return Number.NaN;
  } else if (exponent === maxExponent) {
    return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  }
  if (exponent === 0) return sign * mantissa * 2 ** (1 - bias - mantissaBits);
  return sign * (1 + mantissa / (1 << mantissaBits)) * 2 ** (exponent - bias);
}

const E4M3_TABLE = Float32Array.from({ length: 256 }, (_, b) => decodeMinifloat(b, 4, 3, true));
const E5M2_TABLE = Float32Array.from({ length: 256 }, (_, b) => decodeMinifloat(b, 5, 2, false));

export function decodeFloat8E4M3(bits: Uint8Array, out = new Float32Array(bits.length)): Float32Array {
  for (let i = 0; i < bits.length; i++) out[i] = E4M3_TABLE[bits[i]!]!;
  return out;
}

export function decodeFloat8E5M2(bits: Uint8Array, out = new Float32Array(bits.length)): Float32Array {
  for (let i = 0; i < bits.length; i++) out[i] = E5M2_TABLE[bits[i]!]!;
  return out;
}

/**
 * float32 → 8-bit float: nearest code, ties to the even code. Magnitudes at or above the midpoint
 * between the largest finite value and the next step overflow — to NaN for e4m3fn (it has no
 * infinity) and to infinity for e5m2 — as PyTorch's c10 casts do; below that they round to the max.
 */
function encodeMinifloat(
  values: ArrayLike<number>,
  table: Float32Array,
  overflowCode: number,
  out: Uint8Array,
) {
  const codes: number[] = [];
  for (let b = 0; b < 128; b++) if (Number.isFinite(table[b]!)) codes.push(b);
  codes.sort((a, b) => table[a]! - table[b]!);
  const top = codes[codes.length - 1]!;
  const maxFinite = table[top]!;
  const overflowAt = maxFinite + (maxFinite - table[codes[codes.length - 2]!]!) / 2;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) {
      out[i] = 0x7f;
      continue;
    }
    const signBit = v < 0 || Object.is(v, -0) ? 0x80 : 0;
    const a = Math.abs(v);
    if (a >= overflowAt) {
      out[i] = signBit | overflowCode;
      continue;
    }
    if (a >= maxFinite) {
      out[i] = signBit | top;
      continue;
    }
    let lo = 0;
    let hi = codes.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (table[codes[mid]!]! <= a) lo = mid;
      else hi = mid;
    }
    const below = codes[lo]!;
    const above = codes[hi]!;
    const dBelow = a - table[below]!;
    const dAbove = table[above]! - a;
    const pick = dBelow < dAbove ? below : dAbove < dBelow ? above : below & 1 ? above : below;
    out[i] = signBit | pick;
  }
  return out;
}

export function encodeFloat8E4M3(values: ArrayLike<number>, out = new Uint8Array(values.length)): Uint8Array {
  return encodeMinifloat(values, E4M3_TABLE, 0x7f, out);
}

export function encodeFloat8E5M2(values: ArrayLike<number>, out = new Uint8Array(values.length)): Uint8Array {
  return encodeMinifloat(values, E5M2_TABLE, 0x7c, out);
}
