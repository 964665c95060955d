// The linear-algebra row kernels of vector_kernels.h (float64): level-1 pieces, the two products of a
// blocked reflector application, and plane rotations. Included by vector_kernels_impl.h inside its
// unnamed namespace, so it is compiled once per instruction set like the rest of the table; not meant to
// be included anywhere else.

// ---------------------------------------------------------------------------------------------------------
// Level-1 pieces of the linear-algebra kernels.

void axpy_row_f64(int64_t n, double alpha, const double* x, double* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

double dot_row_f64(int64_t n, const double* x, const double* y) {
  double part[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) part[l] += x[i + l] * y[i + l];
  }
  double s = 0.0;
  for (double p : part) s += p;
  for (; i < n; ++i) s += x[i] * y[i];
  return s;
}

void axpy4_row_f64(int64_t n, double a0, double a1, double a2, double a3, const double* __restrict r0,
                   const double* __restrict r1, const double* __restrict r2, const double* __restrict r3,
                   double* __restrict y) {
  for (int64_t i = 0; i < n; ++i) y[i] += (a0 * r0[i] + a1 * r1[i]) + (a2 * r2[i] + a3 * r3[i]);
}

void scatter4_row_f64(int64_t n, const double* __restrict x, double y0, double y1, double y2, double y3,
                      double* __restrict w0, double* __restrict w1, double* __restrict w2, double* __restrict w3) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    w0[i] += y0 * v;
    w1[i] += y1 * v;
    w2[i] += y2 * v;
    w3[i] += y3 * v;
  }
}

void subtract4_row_f64(int64_t n, double* __restrict c, double y0, double y1, double y2, double y3,
                       const double* __restrict w0, const double* __restrict w1, const double* __restrict w2,
                       const double* __restrict w3) {
  for (int64_t i = 0; i < n; ++i) c[i] -= (y0 * w0[i] + y1 * w1[i]) + (y2 * w2[i] + y3 * w3[i]);
}

void update2_dot_row_f64(int64_t n, double* __restrict r0, double* __restrict r1, double a0, double b0, double a1,
                         double b1, const double* __restrict p, const double* __restrict q,
                         const double* __restrict z, double* dots) {
  double d0[4] = {0, 0, 0, 0};
  double d1[4] = {0, 0, 0, 0};
  int64_t i = 0;
  if (q != nullptr) {
    for (; i + 4 <= n; i += 4) {
      for (int l = 0; l < 4; ++l) {
        const double x0 = r0[i + l] - (a0 * p[i + l] + b0 * q[i + l]);
        const double x1 = r1[i + l] - (a1 * p[i + l] + b1 * q[i + l]);
        r0[i + l] = x0;
        r1[i + l] = x1;
        d0[l] += x0 * z[i + l];
        d1[l] += x1 * z[i + l];
      }
    }
    for (; i < n; ++i) {
      const double x0 = r0[i] - (a0 * p[i] + b0 * q[i]);
      const double x1 = r1[i] - (a1 * p[i] + b1 * q[i]);
      r0[i] = x0;
      r1[i] = x1;
      d0[0] += x0 * z[i];
      d1[0] += x1 * z[i];
    }
  } else {
    for (; i + 4 <= n; i += 4) {
      for (int l = 0; l < 4; ++l) {
        const double x0 = r0[i + l] - a0 * p[i + l];
        const double x1 = r1[i + l] - a1 * p[i + l];
        r0[i + l] = x0;
        r1[i + l] = x1;
        d0[l] += x0 * z[i + l];
        d1[l] += x1 * z[i + l];
      }
    }
    for (; i < n; ++i) {
      const double x0 = r0[i] - a0 * p[i];
      const double x1 = r1[i] - a1 * p[i];
      r0[i] = x0;
      r1[i] = x1;
      d0[0] += x0 * z[i];
      d1[0] += x1 * z[i];
    }
  }
  dots[0] = (d0[0] + d0[1]) + (d0[2] + d0[3]);
  dots[1] = (d1[0] + d1[1]) + (d1[2] + d1[3]);
}

void update2_accumulate_row_f64(int64_t n, double* __restrict r0, double* __restrict r1, double f0, double f1,
                                const double* __restrict q, double w0, double w1, double* __restrict g) {
  if (n <= 0) return;
  if (r1 == nullptr) {
    r0[0] -= f0 * q[0];
    const double x0 = w0 * r0[0];
    for (int64_t c = 1; c < n; ++c) {
      const double a = r0[c] - f0 * q[c];
      r0[c] = a;
      g[c - 1] += x0 * a;
    }
    return;
  }
  r0[0] -= f0 * q[0];
  r1[0] -= f1 * q[0];
  const double x0 = w0 * r0[0];
  const double x1 = w1 * r1[0];
  for (int64_t c = 1; c < n; ++c) {
    const double a = r0[c] - f0 * q[c];
    const double b = r1[c] - f1 * q[c];
    r0[c] = a;
    r1[c] = b;
    g[c - 1] += x0 * a + x1 * b;
  }
}

void rotate_row_f64(int64_t n, double* __restrict x, double* __restrict y, double c, double s) {
  for (int64_t i = 0; i < n; ++i) {
    const double a = x[i];
    const double b = y[i];
    x[i] = c * a + s * b;
    y[i] = c * b - s * a;
  }
}

// W = Yᵀ·C and C −= Y·W, one reflector / one row at a time (the portable form, and the tails).
void block_project_generic(int64_t rows, int64_t b, const double* y, const double* c, int64_t ldc, int64_t width,
                           double* w, int64_t l0, int64_t k0) {
  for (int64_t l = l0; l < b; ++l) {
    double* wl = w + l * width;
    for (int64_t k = k0; k < width; ++k) wl[k] = 0.0;
  }
  for (int64_t i = 0; i < rows; ++i) {
    const double* ci = c + i * ldc;
    for (int64_t l = l0; l < b && l <= i; ++l) {
      const double yl = y[i * b + l];
      if (yl == 0.0) continue;
      double* wl = w + l * width;
      for (int64_t k = k0; k < width; ++k) wl[k] += yl * ci[k];
    }
  }
}

void block_update_generic(int64_t rows, int64_t b, const double* y, const double* w, int64_t width, double* c,
                          int64_t ldc, int64_t i0, int64_t k0) {
  for (int64_t i = i0; i < rows; ++i) {
    double* ci = c + i * ldc;
    const int64_t count = i + 1 < b ? i + 1 : b;
    for (int64_t l = 0; l < count; ++l) {
      const double yl = y[i * b + l];
      if (yl == 0.0) continue;
      const double* wl = w + l * width;
      for (int64_t k = k0; k < width; ++k) ci[k] -= yl * wl[k];
    }
  }
}

#if defined(__AVX2__) && defined(__FMA__)
// W = Yᵀ·C as a register-blocked product: a 4 × 8 tile of W (eight accumulators) runs down all the rows
// of C; the eight-column strip of C it reads stays in L1 for the next reflectors' tiles. Y is zero above
// its diagonal, so a tile starts at its first reflector's row.
void block_project_avx2(int64_t rows, int64_t b, const double* y, const double* c, int64_t ldc, int64_t width,
                        double* w, double* strip) {
  const int64_t b4 = b - b % 4;
  const int64_t w8 = width - width % 8;
  for (int64_t k = 0; k < w8; k += 8) {
    // The strip is copied out first: rows of C lie ldc·8 bytes apart, often a power of two, and in place
    // every row of the strip would fall into the same few cache sets.
    for (int64_t i = 0; i < rows; ++i) {
      _mm256_storeu_pd(strip + 8 * i, _mm256_loadu_pd(c + i * ldc + k));
      _mm256_storeu_pd(strip + 8 * i + 4, _mm256_loadu_pd(c + i * ldc + k + 4));
    }
    for (int64_t l = 0; l < b4; l += 4) {
      __m256d a00 = _mm256_setzero_pd(), a01 = _mm256_setzero_pd(), a10 = _mm256_setzero_pd(),
              a11 = _mm256_setzero_pd(), a20 = _mm256_setzero_pd(), a21 = _mm256_setzero_pd(),
              a30 = _mm256_setzero_pd(), a31 = _mm256_setzero_pd();
      for (int64_t i = l; i < rows; ++i) {
        const double* ci = strip + 8 * i;
        const __m256d c0 = _mm256_loadu_pd(ci);
        const __m256d c1 = _mm256_loadu_pd(ci + 4);
        const double* yi = y + i * b + l;
        const __m256d y0 = _mm256_broadcast_sd(yi);
        const __m256d y1 = _mm256_broadcast_sd(yi + 1);
        const __m256d y2 = _mm256_broadcast_sd(yi + 2);
        const __m256d y3 = _mm256_broadcast_sd(yi + 3);
        a00 = _mm256_fmadd_pd(y0, c0, a00);
        a01 = _mm256_fmadd_pd(y0, c1, a01);
        a10 = _mm256_fmadd_pd(y1, c0, a10);
        a11 = _mm256_fmadd_pd(y1, c1, a11);
        a20 = _mm256_fmadd_pd(y2, c0, a20);
        a21 = _mm256_fmadd_pd(y2, c1, a21);
        a30 = _mm256_fmadd_pd(y3, c0, a30);
        a31 = _mm256_fmadd_pd(y3, c1, a31);
      }
      double* wl = w + l * width + k;
      _mm256_storeu_pd(wl, a00);
      _mm256_storeu_pd(wl + 4, a01);
      _mm256_storeu_pd(wl + width, a10);
      _mm256_storeu_pd(wl + width + 4, a11);
      _mm256_storeu_pd(wl + 2 * width, a20);
      _mm256_storeu_pd(wl + 2 * width + 4, a21);
      _mm256_storeu_pd(wl + 3 * width, a30);
      _mm256_storeu_pd(wl + 3 * width + 4, a31);
    }
  }
  // Reflectors past the last multiple of four (all columns), then columns past the last multiple of
  // eight (the first b4 reflectors).
  if (b4 < b) block_project_generic(rows, b, y, c, ldc, width, w, b4, 0);
  if (w8 < width) {
    for (int64_t l = 0; l < b4; ++l) {
      for (int64_t k = w8; k < width; ++k) w[l * width + k] = 0.0;
    }
    for (int64_t i = 0; i < rows; ++i) {
      const double* ci = c + i * ldc;
      for (int64_t l = 0; l < b4 && l <= i; ++l) {
        const double yl = y[i * b + l];
        for (int64_t k = w8; k < width; ++k) w[l * width + k] += yl * ci[k];
      }
    }
  }
}

// C −= Y·W with a 4 × 8 tile of C in registers while the reflectors go by.
void block_update_avx2(int64_t rows, int64_t b, const double* y, const double* w, int64_t width, double* c,
                       int64_t ldc) {
  const int64_t r4 = rows - rows % 4;
  const int64_t w8 = width - width % 8;
  for (int64_t i = 0; i < r4; i += 4) {
    const int64_t count = i + 4 < b ? i + 4 : b;  // y[i + 3][l] is zero for l > i + 3
    const double* y0p = y + i * b;
    for (int64_t k = 0; k < w8; k += 8) {
      double* c0p = c + i * ldc + k;
      __m256d c00 = _mm256_loadu_pd(c0p), c01 = _mm256_loadu_pd(c0p + 4);
      __m256d c10 = _mm256_loadu_pd(c0p + ldc), c11 = _mm256_loadu_pd(c0p + ldc + 4);
      __m256d c20 = _mm256_loadu_pd(c0p + 2 * ldc), c21 = _mm256_loadu_pd(c0p + 2 * ldc + 4);
      __m256d c30 = _mm256_loadu_pd(c0p + 3 * ldc), c31 = _mm256_loadu_pd(c0p + 3 * ldc + 4);
      for (int64_t l = 0; l < count; ++l) {
        const __m256d w0 = _mm256_loadu_pd(w + l * width + k);
        const __m256d w1 = _mm256_loadu_pd(w + l * width + k + 4);
        const __m256d y0 = _mm256_broadcast_sd(y0p + l);
        const __m256d y1 = _mm256_broadcast_sd(y0p + b + l);
        const __m256d y2 = _mm256_broadcast_sd(y0p + 2 * b + l);
        const __m256d y3 = _mm256_broadcast_sd(y0p + 3 * b + l);
        c00 = _mm256_fnmadd_pd(y0, w0, c00);
        c01 = _mm256_fnmadd_pd(y0, w1, c01);
        c10 = _mm256_fnmadd_pd(y1, w0, c10);
        c11 = _mm256_fnmadd_pd(y1, w1, c11);
        c20 = _mm256_fnmadd_pd(y2, w0, c20);
        c21 = _mm256_fnmadd_pd(y2, w1, c21);
        c30 = _mm256_fnmadd_pd(y3, w0, c30);
        c31 = _mm256_fnmadd_pd(y3, w1, c31);
      }
      _mm256_storeu_pd(c0p, c00);
      _mm256_storeu_pd(c0p + 4, c01);
      _mm256_storeu_pd(c0p + ldc, c10);
      _mm256_storeu_pd(c0p + ldc + 4, c11);
      _mm256_storeu_pd(c0p + 2 * ldc, c20);
      _mm256_storeu_pd(c0p + 2 * ldc + 4, c21);
      _mm256_storeu_pd(c0p + 3 * ldc, c30);
      _mm256_storeu_pd(c0p + 3 * ldc + 4, c31);
    }
    if (w8 < width) {
      for (int64_t r = 0; r < 4; ++r) {
        double* ci = c + (i + r) * ldc;
        const int64_t lr = i + r + 1 < b ? i + r + 1 : b;
        for (int64_t l = 0; l < lr; ++l) {
          const double yl = y[(i + r) * b + l];
          for (int64_t k = w8; k < width; ++k) ci[k] -= yl * w[l * width + k];
        }
      }
    }
  }
  if (r4 < rows) block_update_generic(rows, b, y, w, width, c, ldc, r4, 0);
}

// A packed panel of 16 columns: the row being rotated down the sequence stays in four registers, each
// rotation loads and stores one row. Four independent column vectors hide the multiply–add latency.
void rotate_sequence_16_avx2(double* rows, int64_t ld, const double* c, const double* s, int64_t count) {
  __m256d x0 = _mm256_loadu_pd(rows);
  __m256d x1 = _mm256_loadu_pd(rows + 4);
  __m256d x2 = _mm256_loadu_pd(rows + 8);
  __m256d x3 = _mm256_loadu_pd(rows + 12);
  double* row = rows;
  for (int64_t r = 0; r < count; ++r, row += ld) {
    const __m256d cr = _mm256_broadcast_sd(c + r);
    const __m256d sr = _mm256_broadcast_sd(s + r);
    double* next = row + ld;
    const __m256d y0 = _mm256_loadu_pd(next);
    const __m256d y1 = _mm256_loadu_pd(next + 4);
    const __m256d y2 = _mm256_loadu_pd(next + 8);
    const __m256d y3 = _mm256_loadu_pd(next + 12);
    _mm256_storeu_pd(row, _mm256_fmadd_pd(sr, y0, _mm256_mul_pd(cr, x0)));
    _mm256_storeu_pd(row + 4, _mm256_fmadd_pd(sr, y1, _mm256_mul_pd(cr, x1)));
    _mm256_storeu_pd(row + 8, _mm256_fmadd_pd(sr, y2, _mm256_mul_pd(cr, x2)));
    _mm256_storeu_pd(row + 12, _mm256_fmadd_pd(sr, y3, _mm256_mul_pd(cr, x3)));
    x0 = _mm256_fnmadd_pd(sr, x0, _mm256_mul_pd(cr, y0));
    x1 = _mm256_fnmadd_pd(sr, x1, _mm256_mul_pd(cr, y1));
    x2 = _mm256_fnmadd_pd(sr, x2, _mm256_mul_pd(cr, y2));
    x3 = _mm256_fnmadd_pd(sr, x3, _mm256_mul_pd(cr, y3));
  }
  _mm256_storeu_pd(row, x0);
  _mm256_storeu_pd(row + 4, x1);
  _mm256_storeu_pd(row + 8, x2);
  _mm256_storeu_pd(row + 12, x3);
}

void rotate_sequence_8_avx2(double* rows, int64_t ld, const double* c, const double* s, int64_t count) {
  __m256d x0 = _mm256_loadu_pd(rows);
  __m256d x1 = _mm256_loadu_pd(rows + 4);
  double* row = rows;
  for (int64_t r = 0; r < count; ++r, row += ld) {
    const __m256d cr = _mm256_broadcast_sd(c + r);
    const __m256d sr = _mm256_broadcast_sd(s + r);
    double* next = row + ld;
    const __m256d y0 = _mm256_loadu_pd(next);
    const __m256d y1 = _mm256_loadu_pd(next + 4);
    _mm256_storeu_pd(row, _mm256_fmadd_pd(sr, y0, _mm256_mul_pd(cr, x0)));
    _mm256_storeu_pd(row + 4, _mm256_fmadd_pd(sr, y1, _mm256_mul_pd(cr, x1)));
    x0 = _mm256_fnmadd_pd(sr, x0, _mm256_mul_pd(cr, y0));
    x1 = _mm256_fnmadd_pd(sr, x1, _mm256_mul_pd(cr, y1));
  }
  _mm256_storeu_pd(row, x0);
  _mm256_storeu_pd(row + 4, x1);
}
#endif

void block_project_f64(int64_t rows, int64_t b, const double* y, const double* c, int64_t ldc, int64_t width,
                       double* w, double* scratch) {
#if defined(__AVX2__) && defined(__FMA__)
  block_project_avx2(rows, b, y, c, ldc, width, w, scratch);
#else
  (void)scratch;
  block_project_generic(rows, b, y, c, ldc, width, w, 0, 0);
#endif
}

void block_update_f64(int64_t rows, int64_t b, const double* y, const double* w, int64_t width, double* c,
                      int64_t ldc) {
#if defined(__AVX2__) && defined(__FMA__)
  block_update_avx2(rows, b, y, w, width, c, ldc);
#else
  block_update_generic(rows, b, y, w, width, c, ldc, 0, 0);
#endif
}

void rotate_sequence_row_f64(int64_t n, double* rows, int64_t ld, const double* c, const double* s, int64_t count) {
#if defined(__AVX2__) && defined(__FMA__)
  if (count > 0 && n == 16) return rotate_sequence_16_avx2(rows, ld, c, s, count);
  if (count > 0 && n == 8) return rotate_sequence_8_avx2(rows, ld, c, s, count);
#endif
  int64_t r = 0;
  for (; r + 3 < count; r += 4) {
    const double c0 = c[r], s0 = s[r], c1 = c[r + 1], s1 = s[r + 1];
    const double c2 = c[r + 2], s2 = s[r + 2], c3 = c[r + 3], s3 = s[r + 3];
    double* __restrict o0 = rows + r * ld;
    double* __restrict o1 = o0 + ld;
    double* __restrict o2 = o1 + ld;
    double* __restrict o3 = o2 + ld;
    double* __restrict o4 = o3 + ld;
    for (int64_t t = 0; t < n; ++t) {
      const double x0 = o0[t];
      const double x1 = o1[t];
      o0[t] = c0 * x0 + s0 * x1;
      const double carry1 = c0 * x1 - s0 * x0;
      const double x2 = o2[t];
      o1[t] = c1 * carry1 + s1 * x2;
      const double carry2 = c1 * x2 - s1 * carry1;
      const double x3 = o3[t];
      o2[t] = c2 * carry2 + s2 * x3;
      const double carry3 = c2 * x3 - s2 * carry2;
      const double x4 = o4[t];
      o3[t] = c3 * carry3 + s3 * x4;
      o4[t] = c3 * x4 - s3 * carry3;
    }
  }
  for (; r < count; ++r) rotate_row_f64(n, rows + r * ld, rows + (r + 1) * ld, c[r], s[r]);
}

