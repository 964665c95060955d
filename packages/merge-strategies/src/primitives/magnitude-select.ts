import { MergeError } from '@lorakit/lora';
import type { HostArray } from '@lorakit/tensor';

/**
 * Marks the k entries of largest magnitude (1 = keep): the mask of `topk(|t|, k)`.
 *
 * Why on the host, and why not a sort: `topk` in @lorakit/tensor sorts with indices (O(n log n), ~8 s
 * for the 16.7 M entries of a 4096×4096 delta in the JS backend) where only the k-th largest magnitude
 * is needed. For float32, the order of magnitudes is the order of the bit patterns without the sign bit
 * read as unsigned integers (NaN patterns lie above ∞, so NaN counts as largest, as in topk): a radix
 * select over the two 16-bit halves of those keys finds the threshold in two passes, a third writes the
 * mask. float64 (rare: tests) sorts a copy of the magnitudes. Entries tied at the threshold are kept in
 * row-major order until k are kept (topk leaves this order unspecified).
 */
export function kthLargestMagnitudeMask(values: HostArray, k: number): Uint8Array {
  const n = values.length;
  const mask = new Uint8Array(n);
  if (k <= 0) return mask;
  if (k >= n) return mask.fill(1);
  if (values instanceof Float32Array) return float32Mask(values, k, mask);
  if (values instanceof Float64Array) return float64Mask(values, k, mask);
  throw new MergeError(
    `[magnitudePrune] needs a float32 or float64 tensor, received ${values.constructor.name}`,
  );
}

function float32Mask(values: Float32Array, k: number, mask: Uint8Array): Uint8Array {
  const n = values.length;
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  const counts = new Uint32Array(65536);
  for (let i = 0; i < n; i++) counts[(bits[i]! & 0x7fffffff) >>> 16]!++;
  // rank: 1-based position of the threshold among the candidates, counted from the largest.
  let rank = k;
  let high = 65535;
  while (rank > counts[high]!) rank -= counts[high--]!;
  counts.fill(0);
  for (let i = 0; i < n; i++) {
    const key = bits[i]! & 0x7fffffff;
    if (key >>> 16 === high) counts[key & 0xffff]!++;
  }
  let low = 65535;
  while (rank > counts[low]!) rank -= counts[low--]!;
  const threshold = ((high << 16) | low) >>> 0;
  // Everything above the threshold is kept, and the first `rank` entries equal to it.
  let ties = rank;
  for (let i = 0; i < n; i++) {
    const key = (bits[i]! & 0x7fffffff) >>> 0;
    if (key > threshold) mask[i] = 1;
    else if (key === threshold && ties > 0) {
      mask[i] = 1;
      ties--;
    }
  }
  return mask;
}

function float64Mask(values: Float64Array, k: number, mask: Uint8Array): Uint8Array {
  const n = values.length;
  // Ascending sort puts NaN last, i.e. NaN is the largest magnitude.
  const sorted = Float64Array.from(values, Math.abs).sort();
  const threshold = sorted[n - k]!;
  let ties = 0;
  for (let i = n - k; i < n; i++) if (same(sorted[i]!, threshold)) ties++;
  for (let i = 0; i < n; i++) {
    const magnitude = Math.abs(values[i]!);
    if (greater(magnitude, threshold)) mask[i] = 1;
    else if (same(magnitude, threshold) && ties > 0) {
      mask[i] = 1;
      ties--;
    }
  }
  return mask;
}

function same(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

function greater(a: number, b: number): boolean {
  return Number.isNaN(a) ? !Number.isNaN(b) : a > b;
}
