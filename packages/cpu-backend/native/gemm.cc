// The GEMM driver: blocking, packing and the split across threads. The arithmetic lives in the kernel sets
// (kernels.h). Loop structure after Goto & van de Geijn, "Anatomy of High-Performance Matrix
// Multiplication" (TOMS 2008), and BLIS (Van Zee & van de Geijn, TOMS 2015):
//
//   for jc in n step NC            B block kc × nc packed once per (jc, pc), lives in L3
//     for pc in k step KC
//       pack B[pc, jc]
//       for ic in m step MC        A block mc × kc packed per (ic, pc), lives in L2
//         pack A[ic, pc]
//         for jr in nc step NR     one kc × NR micro-panel of B stays in L1 ...
//           for ir in mc step MR   ... while the MR × kc micro-panels of A stream past it
//             micro-kernel: C[ir, jr] (MR × NR) = alpha · Ap · Bp + beta' · C
//
// beta' is beta for the first kc slice and 1 afterwards, so C is scaled exactly once. Thin k slices swap
// the jr and ir loops (see gemm_packed_serial), and two other paths sit beside this one: a dot-product
// kernel for few columns or rows (gemm_dot) and the transposed product for few columns (swapped()).
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "cpu_features.h"
#include "dgemm.h"
#include "kernels.h"
#include "gemm_workspace.h"
#include "thread_pool.h"
#include "vector_kernels.h"

namespace lorakit {
namespace {

// ---------------------------------------------------------------------------------------------------------
// Kernel selection: the widest set this build has and the CPU and OS can run (cpu_features.cc), AVX-512
// first, then AVX2/FMA, then portable. LORAKIT_CPU_KERNEL=avx512|avx2|portable (or a set's full name)
// asks for one set; a set that cannot run here is ignored in favour of the automatic choice.

const KernelSet* usable_avx512() { return cpu_features().avx512 ? avx512_kernels() : nullptr; }
const KernelSet* usable_avx2() { return cpu_features().avx2_fma ? avx2_kernels() : nullptr; }

const KernelSet* auto_kernels() {
  const char* env = std::getenv("LORAKIT_CPU_KERNEL");
  if (env != nullptr) {
    if (std::strcmp(env, "portable") == 0) return &portable_kernels();
    if ((std::strcmp(env, "avx2") == 0 || std::strcmp(env, "avx2-fma") == 0) && usable_avx2() != nullptr) {
      return usable_avx2();
    }
    if (std::strcmp(env, "avx512") == 0 && usable_avx512() != nullptr) return usable_avx512();
  }
  if (const KernelSet* ks = usable_avx512()) return ks;
  if (const KernelSet* ks = usable_avx2()) return ks;
  return &portable_kernels();
}

std::atomic<const KernelSet*>& current_kernels() {
  static std::atomic<const KernelSet*> kernels{auto_kernels()};
  return kernels;
}

using gemm_workspace::ceil_div;
using gemm_workspace::kMinMacsPerThread;
using gemm_workspace::round_up;
using gemm_workspace::run_threads;

// ---------------------------------------------------------------------------------------------------------
// Blocking parameters
//
// The register tile (MR × NR) and the cache blocking (MC, KC, NC) belong to the kernel set: a wider tile
// wants a shallower KC to keep its B micro-panel in L1. LORAKIT_GEMM_BLOCKING="mc,kc,nc[,thin]"
// overrides the set's MC, KC, NC (rounded up to multiples of MR and NR) for tuning on other CPUs; it is
// not a stable interface.

struct Blocking {
  int64_t mr, nr, mc, kc, nc;
  // Slices with kc at most this run the ir loop outside the jr loop (see gemm_packed_serial).
  int64_t row_major_max_kc = 32;
};

struct BlockingOverride {
  long mc = 0, kc = 0, nc = 0, thin = -1;
  bool sizes = false;
};

BlockingOverride read_blocking_override() {
  BlockingOverride o;
  if (const char* env = std::getenv("LORAKIT_GEMM_BLOCKING")) {
    o.sizes = std::sscanf(env, "%ld,%ld,%ld,%ld", &o.mc, &o.kc, &o.nc, &o.thin) >= 3 && o.mc > 0 && o.kc > 0 &&
              o.nc > 0;
    if (!o.sizes) o.thin = -1;
  }
  return o;
}

Blocking blocking(const KernelSet& ks) {
  static const BlockingOverride o = read_blocking_override();
  Blocking b{ks.mr, ks.nr, ks.mc, ks.kc, ks.nc};
  if (o.sizes) {
    b.mc = round_up(o.mc, ks.mr);
    b.kc = o.kc;
    b.nc = round_up(o.nc, ks.nr);
  }
  if (o.thin >= 0) b.row_major_max_kc = o.thin;
  return b;
}


// The skinny path handles C = A · Bᵀ with n up to this many columns (LoRA's x · Aᵀ has n = r).
constexpr int64_t kDotMaxN = 32;
// ... and products with at most this many rows when B is stored n × k.
constexpr int64_t kDotMaxM = 2;

using Scratch = gemm_workspace::Scratch<float>;
using Workspace = gemm_workspace::Workspace<float>;
inline Workspace acquire_workspace(int wanted_threads) {
  return gemm_workspace::acquire_workspace<float>(wanted_threads);
}

// ---------------------------------------------------------------------------------------------------------
// Serial pieces

void scale_c(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + n, 0.0f);
    } else if (beta != 1.0f) {
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

// C (mr × nr) = alpha · tile + beta · C, element (i, j) of C at c[i · rsc + j · csc] and of the tile at
// tile[i · ldt + j]: the edges of the matrix, and every tile of a transposed C (see swapped()).
void merge_tile(int64_t mr, int64_t nr, const float* tile, int64_t ldt, float alpha, float beta, float* c,
                int64_t rsc, int64_t csc) {
  if (csc == 1) {
    for (int64_t i = 0; i < mr; ++i) {
      float* row = c + i * rsc;
      const float* t = tile + i * ldt;
      if (beta == 0.0f) {
        for (int64_t j = 0; j < nr; ++j) row[j] = alpha * t[j];
      } else {
        for (int64_t j = 0; j < nr; ++j) row[j] = alpha * t[j] + beta * row[j];
      }
    }
    return;
  }
  for (int64_t j = 0; j < nr; ++j) {
    float* col = c + j * csc;
    for (int64_t i = 0; i < mr; ++i) {
      const float t = alpha * tile[i * ldt + j];
      col[i * rsc] = beta == 0.0f ? t : t + beta * col[i * rsc];
    }
  }
}

struct Problem {
  int64_t m, n, k;
  float alpha;
  ConstView a;  // op(A), m × k
  ConstView b;  // op(B), k × n
  float beta;
  float* c;
  int64_t ldc;       // C(i, j) at c[i · ldc + j · csc]
  int64_t csc = 1;   // 1 except for a swapped (transposed) problem, which only the packed path takes
};

struct PanelSizes {
  int64_t mc, kc, nc;
};

// Packed-buffer sizes for a sub-problem of m × n × k.
PanelSizes panel_sizes(const Blocking& bl, int64_t m, int64_t n, int64_t k) {
  return PanelSizes{std::min(bl.mc, round_up(m, bl.mr)), std::min(bl.kc, k), std::min(bl.nc, round_up(n, bl.nr))};
}

// With slack for the packers' overlapping stores.
void reserve_scratch(Scratch& s, const PanelSizes& p) {
  s.a.reserve(p.mc * p.kc + kPackSlack);
  s.b.reserve(p.kc * p.nc + kPackSlack);
}

// Packed, blocked product of one sub-problem on the calling thread.
void gemm_packed_serial(const KernelSet& ks, const Problem& pr, Scratch& scratch) {
  const Blocking bl = blocking(ks);
  const int64_t tile_rows = bl.mr;
  const int64_t tile_cols = bl.nr;
  float* ap = scratch.a.data();
  float* bp = scratch.b.data();
  alignas(64) float edge[kMaxMR * kMaxNR];

  for (int64_t jc = 0; jc < pr.n; jc += bl.nc) {
    const int64_t nc = std::min(bl.nc, pr.n - jc);
    for (int64_t pc = 0; pc < pr.k; pc += bl.kc) {
      const int64_t kc = std::min(bl.kc, pr.k - pc);
      const float beta = pc == 0 ? pr.beta : 1.0f;
      ks.pack_b(kc, nc, ConstView{pr.b.data + pc * pr.b.rs + jc * pr.b.cs, pr.b.rs, pr.b.cs}, bp);
      for (int64_t ic = 0; ic < pr.m; ic += bl.mc) {
        const int64_t mc = std::min(bl.mc, pr.m - ic);
        ks.pack_a(mc, kc, ConstView{pr.a.data + ic * pr.a.rs + pc * pr.a.cs, pr.a.rs, pr.a.cs}, ap);
        auto tile = [&](int64_t ir, int64_t jr) {
          const int64_t mr = std::min(tile_rows, mc - ir);
          const int64_t nr = std::min(tile_cols, nc - jr);
          const float* apanel = ap + ir * kc;
          const float* bpanel = bp + jr * kc;
          float* c = pr.c + (ic + ir) * pr.ldc + (jc + jr) * pr.csc;
          if (mr == tile_rows && nr == tile_cols && pr.csc == 1) {
            ks.micro(kc, apanel, bpanel, c, pr.ldc, pr.alpha, beta);
          } else {
            ks.micro(kc, apanel, bpanel, edge, tile_cols, 1.0f, 0.0f);
            merge_tile(mr, nr, edge, tile_cols, pr.alpha, beta, c, pr.ldc, pr.csc);
          }
        };
        if (kc <= bl.row_major_max_kc) {
          // Thin k slice: the tile's arithmetic is short and writing C dominates. Walking C row strip by
          // row strip writes it sequentially; walking it column strip by column strip (below) touches
          // MC rows ldc apart per strip, which with ldc a multiple of 1 KiB all land in a few cache
          // sets and thrash.
          for (int64_t ir = 0; ir < mc; ir += tile_rows) {
            for (int64_t jr = 0; jr < nc; jr += tile_cols) tile(ir, jr);
          }
        } else {
          for (int64_t jr = 0; jr < nc; jr += tile_cols) {
            for (int64_t ir = 0; ir < mc; ir += tile_rows) tile(ir, jr);
          }
        }
      }
    }
  }
}

// Splits C into tm × tn thread tiles (tm · tn = threads). Each thread packs its own A rows and B columns,
// so a split of n repacks A once per column tile and a split of m repacks B once per row tile; the cost
// model charges packed elements against the multiply-adds (padding included) of the slowest thread.
void choose_grid(const Blocking& bl, int64_t m, int64_t n, int64_t k, int threads, int* tm_out, int* tn_out) {
  constexpr double kMacsPerPackedElement = 8.0;
  double best = -1.0;
  for (int tm = 1; tm <= threads; ++tm) {
    if (threads % tm != 0) continue;
    const int tn = threads / tm;
    const int64_t ms = round_up(ceil_div(m, tm), bl.mr);
    const int64_t ns = round_up(ceil_div(n, tn), bl.nr);
    if ((tm > 1 && ms * (tm - 1) >= m) || (tn > 1 && ns * (tn - 1) >= n)) continue;  // an idle thread
    const double macs = static_cast<double>(ms) * static_cast<double>(ns) * static_cast<double>(k);
    const double packed = static_cast<double>(ms) * static_cast<double>(k) * static_cast<double>(ceil_div(ns, bl.nc)) +
                          static_cast<double>(ns) * static_cast<double>(k);
    const double cost = macs + kMacsPerPackedElement * packed;
    if (best < 0.0 || cost < best) {
      best = cost;
      *tm_out = tm;
      *tn_out = tn;
    }
  }
  if (best < 0.0) {
    *tm_out = 1;
    *tn_out = 1;
  }
}

void gemm_packed(const KernelSet& ks, const Problem& pr, Workspace& ws, int threads) {
  const Blocking bl = blocking(ks);
  int tm = 1, tn = 1;
  choose_grid(bl, pr.m, pr.n, pr.k, threads, &tm, &tn);
  threads = tm * tn;
  const int64_t ms = round_up(ceil_div(pr.m, tm), bl.mr);
  const int64_t ns = round_up(ceil_div(pr.n, tn), bl.nr);
  const PanelSizes sizes = panel_sizes(bl, ms, ns, pr.k);
  for (int t = 0; t < threads; ++t) reserve_scratch(ws.slots[t], sizes);

  run_threads(threads, [&](int tid) {
    const int64_t m0 = (tid / tn) * ms;
    const int64_t n0 = (tid % tn) * ns;
    if (m0 >= pr.m || n0 >= pr.n) return;
    Problem sub = pr;
    sub.m = std::min(ms, pr.m - m0);
    sub.n = std::min(ns, pr.n - n0);
    sub.a.data = pr.a.data + m0 * pr.a.rs;
    sub.b.data = pr.b.data + n0 * pr.b.cs;
    sub.c = pr.c + m0 * pr.ldc + n0 * pr.csc;
    gemm_packed_serial(ks, sub, ws.slots[tid]);
  });
}

// The dot-product path wants op(B)'s columns contiguous (B stored n × k). When they are not, op(B) is
// copied transposed into `scratch` first; with n <= kDotMaxN (or m tiny) that copy is small next to the
// product. Returns the pointer and leading dimension to hand to the dot kernel.
struct DotB {
  const float* data;
  int64_t ld;
};

void reserve_dot_b(const Problem& pr, Scratch& scratch) {
  if (pr.b.rs != 1) scratch.b.reserve(pr.n * pr.k);
}

DotB dot_b(const Problem& pr, Scratch& scratch) {
  if (pr.b.rs == 1) return DotB{pr.b.data, pr.b.cs};
  float* bt = scratch.b.data();
  // Eight columns at a time: eight sequential write streams, and each row of B is read in one piece.
  constexpr int64_t kCols = 8;
  for (int64_t j0 = 0; j0 < pr.n; j0 += kCols) {
    const int64_t cols = std::min(kCols, pr.n - j0);
    for (int64_t p = 0; p < pr.k; ++p) {
      const float* row = pr.b.data + p * pr.b.rs + j0 * pr.b.cs;
      for (int64_t j = 0; j < cols; ++j) bt[(j0 + j) * pr.k + p] = row[j * pr.b.cs];
    }
  }
  return DotB{bt, pr.k};
}

// Skinny products through the dot kernel: rows of C split across threads, or columns when there are too
// few rows to share.
void gemm_dot(const KernelSet& ks, const Problem& pr, Workspace& ws, int threads) {
  reserve_dot_b(pr, ws.slots[0]);
  const DotB b = dot_b(pr, ws.slots[0]);
  if (pr.m >= 3 * threads || pr.n < 8 * threads) {
    const int64_t rows = round_up(ceil_div(pr.m, threads), 3);
    threads = static_cast<int>(ceil_div(pr.m, rows));
    run_threads(threads, [&](int tid) {
      const int64_t m0 = tid * rows;
      if (m0 >= pr.m) return;
      ks.dot_nt(std::min(rows, pr.m - m0), pr.n, pr.k, pr.alpha, pr.a.data + m0 * pr.a.rs, pr.a.rs, b.data,
                b.ld, pr.beta, pr.c + m0 * pr.ldc, pr.ldc);
    });
  } else {
    const int64_t cols = round_up(ceil_div(pr.n, threads), 4);
    threads = static_cast<int>(ceil_div(pr.n, cols));
    run_threads(threads, [&](int tid) {
      const int64_t n0 = tid * cols;
      if (n0 >= pr.n) return;
      ks.dot_nt(pr.m, std::min(cols, pr.n - n0), pr.k, pr.alpha, pr.a.data, pr.a.rs, b.data + n0 * b.ld, b.ld,
                pr.beta, pr.c + n0, pr.ldc);
    });
  }
}

Problem make_problem(const SgemmArgs& g) {
  Problem pr;
  pr.m = g.m;
  pr.n = g.n;
  pr.k = g.k;
  pr.alpha = g.alpha;
  pr.a = g.trans_a ? ConstView{g.a, 1, g.lda} : ConstView{g.a, g.lda, 1};
  pr.b = g.trans_b ? ConstView{g.b, 1, g.ldb} : ConstView{g.b, g.ldb, 1};
  pr.beta = g.beta;
  pr.c = g.c;
  pr.ldc = g.ldc;
  return pr;
}

bool trivial(const Problem& pr) { return pr.m == 0 || pr.n == 0; }

// alpha == 0 or k == 0: C = beta · C, A and B are not read (BLAS semantics).
bool scale_only(const Problem& pr) { return pr.k == 0 || pr.alpha == 0.0f; }

// The dot kernel reads op(A) row by row, so it needs rows contiguous. It pays off for few columns (LoRA's
// x · Aᵀ with n = r, whatever B's layout: a transposed copy of a k × r operand is cheap) and for a few
// rows against B stored n × k (matrix-vector products such as x · Wᵀ for a single token), where the
// packed path would compute MR = 6 rows to use one.
bool use_dot(const Problem& pr) {
  if (pr.a.cs != 1) return false;
  return pr.n <= kDotMaxN || (pr.m <= kDotMaxM && pr.b.rs == 1);
}

int threads_for(const Problem& pr, int available) {
  // In double: with alpha = 0, k is not bounded by any array length and m · n · k could overflow.
  const double macs = static_cast<double>(pr.m) * static_cast<double>(pr.n) * static_cast<double>(pr.k);
  const double useful = std::max(1.0, std::floor(macs / static_cast<double>(kMinMacsPerThread)));
  return static_cast<int>(std::min(static_cast<double>(available), useful));
}

// Cᵀ = op(B)ᵀ · op(A)ᵀ: the same product with the roles of m and n exchanged and C written transposed.
Problem swapped(const Problem& pr) {
  Problem t = pr;
  t.m = pr.n;
  t.n = pr.m;
  t.a = ConstView{pr.b.data, pr.b.cs, pr.b.rs};
  t.b = ConstView{pr.a.data, pr.a.cs, pr.a.rs};
  t.ldc = pr.csc;
  t.csc = pr.ldc;
  return t;
}

// Tiles are wider (NR) than tall (MR), so a product with few columns (n = 8 with a 6 × 16 tile: half of
// every tile wasted) runs faster transposed, where those columns become rows (n = 8 rows in 12). Writing
// C transposed goes through a scratch tile, which only pays off when k is long enough to hide it.
bool prefer_swapped(const KernelSet& ks, const Problem& pr) {
  if (pr.k < 128) return false;
  const int64_t direct = round_up(pr.m, ks.mr) * round_up(pr.n, ks.nr);
  const int64_t transposed = round_up(pr.n, ks.mr) * round_up(pr.m, ks.nr);
  return 4 * transposed < 3 * direct;
}

Problem packed_problem(const KernelSet& ks, const Problem& pr) {
  return prefer_swapped(ks, pr) ? swapped(pr) : pr;
}

void gemm_with(const KernelSet& ks, const Problem& pr, Workspace& ws, int threads) {
  if (trivial(pr)) return;
  if (scale_only(pr)) {
    scale_c(pr.m, pr.n, pr.beta, pr.c, pr.ldc);
    return;
  }
  if (use_dot(pr)) {
    gemm_dot(ks, pr, ws, threads);
  } else {
    gemm_packed(ks, packed_problem(ks, pr), ws, threads);
  }
}

}  // namespace

void sgemm(const SgemmArgs& args) {
  const Problem pr = make_problem(args);
  if (trivial(pr)) return;
  const KernelSet& ks = *current_kernels().load();
  Workspace ws = acquire_workspace(threads_for(pr, num_threads()));
  gemm_with(ks, pr, ws, ws.threads);
}

void sgemm_strided_batched(const SgemmArgs& args, int64_t batch, int64_t stride_a, int64_t stride_b,
                           int64_t stride_c) {
  const Problem pr = make_problem(args);
  if (trivial(pr) || batch <= 0) return;
  const KernelSet& ks = *current_kernels().load();
  const int available = num_threads();
  const int per_product = threads_for(pr, available);
  auto product = [&](int64_t i) {
    Problem p = pr;
    p.a.data += i * stride_a;
    p.b.data += i * stride_b;
    p.c += i * stride_c;
    return p;
  };
  if (per_product >= available || batch == 1) {
    // Each product is big enough to use every thread: run them one after another.
    Workspace ws = acquire_workspace(per_product);
    for (int64_t i = 0; i < batch; ++i) gemm_with(ks, product(i), ws, ws.threads);
    return;
  }
  // Small products: one thread per product, products dealt round-robin.
  const double total = static_cast<double>(pr.m) * static_cast<double>(pr.n) * static_cast<double>(pr.k) *
                       static_cast<double>(batch);
  const double useful = std::max(1.0, std::floor(total / static_cast<double>(kMinMacsPerThread)));
  const int threads = static_cast<int>(std::min({static_cast<double>(available), static_cast<double>(batch), useful}));
  Workspace ws = acquire_workspace(threads);
  if (!scale_only(pr)) {
    const PanelSizes sizes = panel_sizes(blocking(ks), std::max(pr.m, pr.n), std::max(pr.m, pr.n), pr.k);
    for (int t = 0; t < ws.threads; ++t) {
      if (use_dot(pr)) {
        reserve_dot_b(pr, ws.slots[t]);
      } else {
        reserve_scratch(ws.slots[t], sizes);
      }
    }
  }
  const int used = ws.threads;
  run_threads(used, [&](int tid) {
    for (int64_t i = tid; i < batch; i += used) {
      const Problem p = product(i);
      if (scale_only(p)) {
        scale_c(p.m, p.n, p.beta, p.c, p.ldc);
      } else if (use_dot(p)) {
        const DotB b = dot_b(p, ws.slots[tid]);
        ks.dot_nt(p.m, p.n, p.k, p.alpha, p.a.data, p.a.rs, b.data, b.ld, p.beta, p.c, p.ldc);
      } else {
        gemm_packed_serial(ks, packed_problem(ks, p), ws.slots[tid]);
      }
    }
  });
}

bool set_kernel(KernelChoice choice) {
  switch (choice) {
    case KernelChoice::kAuto:
      current_kernels().store(auto_kernels());
      return true;
    case KernelChoice::kPortable:
      current_kernels().store(&portable_kernels());
      return true;
    case KernelChoice::kAvx2Fma:
      if (usable_avx2() == nullptr) return false;
      current_kernels().store(usable_avx2());
      return true;
    case KernelChoice::kAvx512:
      if (usable_avx512() == nullptr) return false;
      current_kernels().store(usable_avx512());
      return true;
  }
  return false;
}

const char* kernel_name() { return current_kernels().load()->name; }

const VectorKernels& vector_kernels() {
  const KernelSet* gemm = current_kernels().load();
  if (gemm == avx512_kernels() && avx512_vector_kernels() != nullptr) return *avx512_vector_kernels();
  if (gemm == avx2_kernels() && avx2_vector_kernels() != nullptr) return *avx2_vector_kernels();
  return portable_vector_kernels();
}

const DgemmKernels& dgemm_kernels() {
  const KernelSet* gemm = current_kernels().load();
  if (gemm == avx512_kernels() && avx512_dgemm_kernels() != nullptr) return *avx512_dgemm_kernels();
  if (gemm == avx2_kernels() && avx2_dgemm_kernels() != nullptr) return *avx2_dgemm_kernels();
  return portable_dgemm_kernels();
}

bool avx2_fma_usable() { return usable_avx2() != nullptr; }

bool avx512_usable() { return usable_avx512() != nullptr; }

int num_threads() { return ThreadPool::instance().num_threads(); }

void set_num_threads(int n) { ThreadPool::instance().set_num_threads(n); }

}  // namespace lorakit
