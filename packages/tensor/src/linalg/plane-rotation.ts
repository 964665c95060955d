/**
 * Rows i and j of a row-major matrix become (c·rowᵢ + s·rowⱼ, c·rowⱼ − s·rowᵢ). The QR iterations
 * keep singular vectors and eigenvectors as rows, so every Givens rotation is one pass over two
 * contiguous rows.
 */
export function rotateRows(
  mat: Float64Array,
  cols: number,
  i: number,
  j: number,
  c: number,
  s: number,
): void {
  const oi = i * cols;
  const oj = j * cols;
  for (let t = 0; t < cols; t++) {
    const x = mat[oi + t]!;
    const y = mat[oj + t]!;
    mat[oi + t] = c * x + s * y;
    mat[oj + t] = c * y - s * x;
  }
}

/** √(a² + b²) without the cost of Math.hypot when the squares cannot over- or underflow. */
export function pythag(a: number, b: number): number {
  const sum = a * a + b * b;
  if (sum > 1e-290 && sum < 1e290) return Math.sqrt(sum);
  return Math.hypot(a, b);
}

/**
 * Applies rotations r = 0…count−1 in order, rotation r to rows (first + r, first + r + 1) with
 * cosines c[r] and sines s[r] as in `rotateRows`. One QR sweep's rotations are deferred and applied
 * here four at a time: each element of five rows is loaded and stored once for four rotations instead
 * of twice per rotation, with the same arithmetic as applying them one by one.
 */
export function rotateRowSequence(
  mat: Float64Array,
  cols: number,
  first: number,
  c: Float64Array,
  s: Float64Array,
  count: number,
): void {
  let r = 0;
  for (; r + 3 < count; r += 4) {
    const c0 = c[r]!;
    const s0 = s[r]!;
    const c1 = c[r + 1]!;
    const s1 = s[r + 1]!;
    const c2 = c[r + 2]!;
    const s2 = s[r + 2]!;
    const c3 = c[r + 3]!;
    const s3 = s[r + 3]!;
    const o0 = (first + r) * cols;
    const o1 = o0 + cols;
    const o2 = o1 + cols;
    const o3 = o2 + cols;
    const o4 = o3 + cols;
    for (let t = 0; t < cols; t++) {
      const x0 = mat[o0 + t]!;
      const x1 = mat[o1 + t]!;
      mat[o0 + t] = c0 * x0 + s0 * x1;
      const carry1 = c0 * x1 - s0 * x0;
      const x2 = mat[o2 + t]!;
      mat[o1 + t] = c1 * carry1 + s1 * x2;
      const carry2 = c1 * x2 - s1 * carry1;
      const x3 = mat[o3 + t]!;
      mat[o2 + t] = c2 * carry2 + s2 * x3;
      const carry3 = c2 * x3 - s2 * carry2;
      const x4 = mat[o4 + t]!;
      mat[o3 + t] = c3 * carry3 + s3 * x4;
      mat[o4 + t] = c3 * x4 - s3 * carry3;
    }
  }
  for (; r < count; r++) rotateRows(mat, cols, first + r, first + r + 1, c[r]!, s[r]!);
}
