// The DGEMM driver: blocking, packing and the split across threads; the packing routines and the
// micro-kernel come from the variant dgemm_kernels() picks (dgemm_kernels_impl.h). The loop nest is the
// one of the SGEMM (gemm.cc, after Goto & van de Geijn):
//
//   for jc in n step NC        pack the kc × nc block of op(B)
//     for pc in k step KC
//       for ic in m step MC    pack the mc × kc block of op(A)
//         for jr, ir           micro-kernel on one MR × NR tile of C
//
// with beta applied on the first k slice only. Threads take contiguous ranges of tile rows (or of tile
// columns when C has more of those) and run that loop nest on their part of C with their own packing
// buffers. Strided batches of small products give each thread whole products instead.
#include "dgemm.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <new>
#include <vector>

#include "gemm_workspace.h"
#include "thread_pool.h"

namespace lorakit {
namespace {

using gemm_workspace::ceil_div;
using gemm_workspace::kMinMacsPerThread;
using gemm_workspace::round_up;
using gemm_workspace::run_threads;
using Scratch = gemm_workspace::Scratch<double>;
using Workspace = gemm_workspace::Workspace<double>;
inline Workspace acquire_workspace(int wanted_threads) {
  return gemm_workspace::acquire_workspace<double>(wanted_threads);
}

struct Problem {
  int64_t m, n, k;
  double alpha;
  const double* a;  // op(A)(i, p) at a[i · ars + p · acs]
  int64_t ars, acs;
  const double* b;  // op(B)(p, j) at b[p · brs + j · bcs]
  int64_t brs, bcs;
  double beta;
  double* c;
  int64_t ldc;
};

Problem make_problem(const DgemmArgs& g) {
  Problem pr;
  pr.m = g.m;
  pr.n = g.n;
  pr.k = g.k;
  pr.alpha = g.alpha;
  pr.a = g.a;
  pr.ars = g.trans_a ? 1 : g.lda;
  pr.acs = g.trans_a ? g.lda : 1;
  pr.b = g.b;
  pr.brs = g.trans_b ? 1 : g.ldb;
  pr.bcs = g.trans_b ? g.ldb : 1;
  pr.beta = g.beta;
  pr.c = g.c;
  pr.ldc = g.ldc;
  return pr;
}

bool trivial(const Problem& pr) { return pr.m == 0 || pr.n == 0; }

// alpha == 0 or k == 0: C = beta · C, A and B are not read (BLAS semantics).
bool scale_only(const Problem& pr) { return pr.k == 0 || pr.alpha == 0.0; }

void scale_c(const Problem& pr) {
  for (int64_t i = 0; i < pr.m; ++i) {
    double* row = pr.c + i * pr.ldc;
    if (pr.beta == 0.0) {
      std::fill(row, row + pr.n, 0.0);
    } else if (pr.beta != 1.0) {
      for (int64_t j = 0; j < pr.n; ++j) row[j] *= pr.beta;
    }
  }
}

int threads_for(const Problem& pr, int available) {
  // In double: with alpha = 0, k is not bounded by any array length and m · n · k could overflow.
  const double macs = static_cast<double>(pr.m) * static_cast<double>(pr.n) * static_cast<double>(pr.k);
  const double useful = std::max(1.0, std::floor(macs / static_cast<double>(kMinMacsPerThread)));
  return static_cast<int>(std::min(static_cast<double>(available), useful));
}

// Packing buffer sizes for a sub-problem of m × n × k.
void reserve_scratch(const DgemmKernels& ks, Scratch& s, int64_t m, int64_t n, int64_t k) {
  const int64_t kc = std::min(ks.kc, k);
  s.a.reserve(std::min(ks.mc, round_up(m, ks.mr)) * kc);
  s.b.reserve(kc * std::min(ks.nc, round_up(n, ks.nr)));
}

// The packed, blocked product of one (sub-)problem on the calling thread; k > 0 and alpha != 0.
void gemm_serial(const DgemmKernels& ks, const Problem& pr, Scratch& scratch) {
  double* ap = scratch.a.data();
  double* bp = scratch.b.data();
  for (int64_t jc = 0; jc < pr.n; jc += ks.nc) {
    const int64_t nc = std::min(ks.nc, pr.n - jc);
    for (int64_t pc = 0; pc < pr.k; pc += ks.kc) {
      const int64_t kc = std::min(ks.kc, pr.k - pc);
      const double beta = pc == 0 ? pr.beta : 1.0;
      ks.pack_b(kc, nc, pr.b + pc * pr.brs + jc * pr.bcs, pr.brs, pr.bcs, bp);
      for (int64_t ic = 0; ic < pr.m; ic += ks.mc) {
        const int64_t mc = std::min(ks.mc, pr.m - ic);
        ks.pack_a(mc, kc, pr.a + ic * pr.ars + pc * pr.acs, pr.ars, pr.acs, ap);
        for (int64_t jr = 0; jr < nc; jr += ks.nr) {
          const int64_t cols = std::min(ks.nr, nc - jr);
          for (int64_t ir = 0; ir < mc; ir += ks.mr) {
            const int64_t rows = std::min(ks.mr, mc - ir);
            ks.micro(kc, ap + ir * kc, bp + jr * kc, rows, cols, pr.alpha, beta,
                     pr.c + (ic + ir) * pr.ldc + jc + jr, pr.ldc);
          }
        }
      }
    }
  }
}

// The rows [m0, m0 + rows) and columns [n0, n0 + cols) of C as a problem of their own.
Problem part(const Problem& pr, int64_t m0, int64_t rows, int64_t n0, int64_t cols) {
  Problem sub = pr;
  sub.m = rows;
  sub.n = cols;
  sub.a = pr.a + m0 * pr.ars;
  sub.b = pr.b + n0 * pr.bcs;
  sub.c = pr.c + m0 * pr.ldc + n0;
  return sub;
}

// One product on up to ws.threads threads: contiguous ranges of whole tiles along the dimension of C that
// has more tiles (each thread packs its own share of that operand and all of the other one).
void gemm_parallel(const DgemmKernels& ks, const Problem& pr, Workspace& ws, int threads) {
  if (trivial(pr)) return;
  if (scale_only(pr)) {
    scale_c(pr);
    return;
  }
  const int64_t tiles_m = ceil_div(pr.m, ks.mr);
  const int64_t tiles_n = ceil_div(pr.n, ks.nr);
  const bool by_rows = tiles_m >= tiles_n;
  const int64_t tiles = by_rows ? tiles_m : tiles_n;
  const int64_t unit = by_rows ? ks.mr : ks.nr;
  const int64_t extent = by_rows ? pr.m : pr.n;
  threads = static_cast<int>(std::min<int64_t>(threads, tiles));
  const int64_t share = ceil_div(tiles, threads) * unit;
  threads = static_cast<int>(ceil_div(extent, share));
  for (int t = 0; t < threads; ++t) {
    if (by_rows) {
      reserve_scratch(ks, ws.slots[t], share, pr.n, pr.k);
    } else {
      reserve_scratch(ks, ws.slots[t], pr.m, share, pr.k);
    }
  }
  run_threads(threads, [&](int tid) {
    const int64_t begin = tid * share;
    const int64_t size = std::min(share, extent - begin);
    if (size <= 0) return;
    const Problem sub = by_rows ? part(pr, begin, size, 0, pr.n) : part(pr, 0, pr.m, begin, size);
    gemm_serial(ks, sub, ws.slots[tid]);
  });
}

}  // namespace

void dgemm(const DgemmArgs& args) {
  const Problem pr = make_problem(args);
  if (trivial(pr)) return;
  const DgemmKernels& ks = dgemm_kernels();
  Workspace ws = acquire_workspace(threads_for(pr, ThreadPool::instance().num_threads()));
  gemm_parallel(ks, pr, ws, ws.threads);
}

void dgemm_strided_batched(const DgemmArgs& args, int64_t batch, int64_t stride_a, int64_t stride_b,
                           int64_t stride_c) {
  const Problem pr = make_problem(args);
  if (trivial(pr) || batch <= 0) return;
  const DgemmKernels& ks = dgemm_kernels();
  const int available = ThreadPool::instance().num_threads();
  const int per_product = threads_for(pr, available);
  auto product = [&](int64_t i) {
    Problem p = pr;
    p.a += i * stride_a;
    p.b += i * stride_b;
    p.c += i * stride_c;
    return p;
  };
  if (per_product >= available || batch == 1) {
    // Each product is big enough to use every thread: run them one after another.
    Workspace ws = acquire_workspace(per_product);
    for (int64_t i = 0; i < batch; ++i) gemm_parallel(ks, product(i), ws, ws.threads);
    return;
  }
  // Small products: one thread per product, products dealt round-robin.
  const double total = static_cast<double>(pr.m) * static_cast<double>(pr.n) * static_cast<double>(pr.k) *
                       static_cast<double>(batch);
  const double useful = std::max(1.0, std::floor(total / static_cast<double>(kMinMacsPerThread)));
  const int threads =
      static_cast<int>(std::min({static_cast<double>(available), static_cast<double>(batch), useful}));
  Workspace ws = acquire_workspace(threads);
  if (!scale_only(pr)) {
    for (int t = 0; t < ws.threads; ++t) reserve_scratch(ks, ws.slots[t], pr.m, pr.n, pr.k);
  }
  const int used = ws.threads;
  run_threads(used, [&](int tid) {
    for (int64_t i = tid; i < batch; i += used) {
      const Problem p = product(i);
      if (scale_only(p)) {
        scale_c(p);
      } else {
        gemm_serial(ks, p, ws.slots[tid]);
      }
    }
  });
}

}  // namespace lorakit
