// Dense linear algebra in float64 for the cpu backend: SVD, QR and the symmetric eigendecomposition.
//
// These are the JavaScript reference's algorithms (packages/tensor/src/linalg), with the same reflector
// conventions, sweep logic, ordering and sign choices, so results agree with the reference to rounding:
// Householder bidiagonalization / QR / tridiagonalization (Golub & Van Loan, Matrix Computations, 4th ed.,
// §5.2, Alg. 5.4.2, Alg. 8.3.1), blocked reflector products in compact WY form (Schreiber & Van Loan), and
// implicit-shift QR on the bidiagonal / tridiagonal (Alg. 8.6.1–8.6.2, 8.3.2). What differs is how the
// heavy passes run: vectorized row kernels, the passes over the trailing matrix split across threads, and
// the QR iteration's plane rotations recorded and applied afterwards in column panels that stay in cache,
// the panels spread over threads.
//
// Inputs are row-major, finite (checked in TypeScript) and are not modified.
#pragma once

#include <cstdint>

namespace lorakit {

constexpr int kLinalgConverged = 0;
constexpr int kLinalgNoConvergence = 1;

// a (m × n) = u · diag(s) · vh. full: u is m × m and vh n × n; otherwise u is m × k, vh k × n, k = min(m, n).
// s descending; each pair (uᵢ, vᵢ), i < k, signed so that the largest-magnitude entry of uᵢ is positive.
int svd_f64(const double* a, int64_t m, int64_t n, bool full, int max_sweeps, double* u, double* s, double* vh);

// Reduced QR of a (m × n): q is m × k, r is k × n upper triangular (LAPACK's sign convention).
void qr_f64(const double* a, int64_t m, int64_t n, double* q, double* r);

// a (n × n, lower triangle read) = vectors · diag(values) · vectorsᵀ; values ascending, eigenvectors as
// columns, each signed so that its largest-magnitude entry is positive.
int eigh_f64(const double* a, int64_t n, int max_sweeps, double* values, double* vectors);

}  // namespace lorakit
