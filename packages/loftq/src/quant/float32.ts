/**
 * float32 arithmetic in JavaScript. A product, quotient or sum of two float32 values computed in float64
 * and rounded once to float32 (`Math.fround`) is the correctly rounded float32 result: float64 has more
 * than 2·24 + 2 significand bits, so double rounding is innocuous for + − × ÷ (Figueroa, 1995). That is
 * what makes the quantizers below bit-exact with PyTorch's float32 kernels.
 */
export const f32 = Math.fround;

/** Round half to even, as `torch.round` and CUDA's `__float2int_rn`. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds halves up; a half-way value whose upward neighbour is odd goes down instead.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The float32 values of a tensor's host array (a copy only when the input is not float32 already). */
export function asFloat32(values: ArrayLike<number>): Float32Array {
  return values instanceof Float32Array ? values : Float32Array.from(values);
}
