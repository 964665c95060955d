import type { View } from '../../backend/kernels.js';
import { allocateNumeric, finish, type JsStorage, numeric } from './storage.js';
import { forEachRow } from './strided.js';

/**
 * The JS reference of the fused rotary kernel (`FusedKernels.rotary`): per row of the last dim,
 * out[j] = x[j]·c[j] ∓ x[j+h]·s[·] and out[j+h] = x[j+h]·c[j+h] ± x[j]·s[·]. Each product and the sum
 * are rounded to the dtype, so float32 results equal the composed ops bit for bit (a float32 product is
 * exact in double, and rounding it once is the float32 product).
 */
export function rotary(x: View, cos: View, sin: View, transposed: boolean): JsStorage {
  const rank = x.shape.length;
  const width = x.shape[rank - 1]!;
  const half = width / 2;
  const size = x.shape.reduce((a, b) => a * b, 1);
  const out = allocateNumeric(x.dtype, size);
  if (size === 0) return finish(x.dtype, out);
  const round = x.dtype === 'float32' ? Math.fround : (v: number) => v;
  const [xd, cd, sd] = [numeric(x).data, numeric(cos).data, numeric(sin).data];
  const [xs, cs, ss] = [x, cos, sin].map((v) => v.strides[rank - 1]!) as [number, number, number];
  // out[j] = x₁c₁ − sign·x₂·sinA, out[j+h] = x₂c₂ + sign·x₁·sinB with x₁ = x[j], x₂ = x[j+h]:
  // forward sign = 1, sinA = s[j], sinB = s[j+h]; transposed sign = −1, sinA = s[j+h], sinB = s[j].
  const sinAShift = transposed ? half : 0;
  const sinBShift = transposed ? 0 : half;
  const sign = transposed ? -1 : 1;
  let o = 0;
  forEachRow(
    x.shape.slice(0, -1),
    [x, cos, sin].map((v) => v.strides.slice(0, -1)),
    [x.offset, cos.offset, sin.offset],
    ([x0, c0, s0], length, [xStep, cStep, sStep]) => {
      for (let r = 0; r < length; r++, o += width) {
        const xr = x0! + r * xStep!;
        const cr = c0! + r * cStep!;
        const sr = s0! + r * sStep!;
        for (let j = 0; j < half; j++) {
          const x1 = xd[xr + j * xs]!;
          const x2 = xd[xr + (j + half) * xs]!;
          const c1 = cd[cr + j * cs]!;
          const c2 = cd[cr + (j + half) * cs]!;
          const sinA = sd[sr + (j + sinAShift) * ss]!;
          const sinB = sd[sr + (j + sinBShift) * ss]!;
          out[o + j] = round(x1 * c1) - sign * round(x2 * sinA);
          out[o + j + half] = round(x2 * c2) + sign * round(x1 * sinB);
        }
      }
    },
  );
  return finish(x.dtype, out);
}
