// Runs the real flash kernels (kernels/flash*.cuh, copied beside this file's stand-ins for common.cuh
// and mma.cuh) on the host, one OS thread per CUDA thread, and compares out, logsumexp, dq, dk and dv with
// float64 loops over the definition. Usage: emulator B H KVH T S D causal window padding transposed bf16
// (padding: leading padded keys of the last batch row); FLASH_EMULATOR_MODE=greedy or deferred picks the
// scheduling and the cp.async timing (see runtime.h, mma.cuh). Prints the errors; exits 1 past the
// tolerance, 3 on a deadlock.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <ucontext.h>
#include <vector>

#include "flash.cuh"

Dim3 threadIdx, blockIdx, blockDim, gridDim;
Warp* emulatedWarp;
int emulatedLane;
FiberBarrier* blockBarrier;
unsigned short* emulatedDynamicShared;
bool deferredCopies = false;
std::vector<PendingCopy> pendingCopies[1024];

static ucontext_t scheduler;
static std::vector<ucontext_t> fibers;
static std::vector<char> finished;
static int running;
static void (*fiberKernel)(const FlashParams);
static const FlashParams* fiberParams;

/** Scheduling: round robin (warps advance in lockstep), or greedy (the lowest runnable thread runs on, so
 * one warp gets as far ahead of the others as the barriers allow). */
static bool greedy = false;
struct Waiting {
  const FiberBarrier* barrier;
  unsigned generation;
};
static std::vector<Waiting> waiting;

void fiber_wait(const FiberBarrier* barrier, unsigned generation) {
  while (barrier->generation == generation) {
    waiting[running] = {barrier, generation};
    swapcontext(&fibers[running], &scheduler);
  }
  waiting[running] = {nullptr, 0};
}

static bool runnable(int t) {
  return !finished[t] && (waiting[t].barrier == nullptr || waiting[t].barrier->generation != waiting[t].generation);
}

static void fiber_main() {
  fiberKernel(*fiberParams);
  finished[running] = 1;
}

static void launch(void (*kernel)(const FlashParams), const FlashParams& p, unsigned gx, unsigned gy, int threads) {
  static std::vector<Chunk16> shared(100 * 1024 / 16);
  static std::vector<std::vector<char>> stacks(threads, std::vector<char>(256 * 1024));
  emulatedDynamicShared = (unsigned short*)shared.data();
  blockDim = {(unsigned)threads, 1, 1};
  gridDim = {gx, gy, 1};
  fiberKernel = kernel;
  fiberParams = &p;
  fibers.assign(threads, ucontext_t{});
  for (unsigned y = 0; y < gy; ++y)
    for (unsigned x = 0; x < gx; ++x) {
      std::memset(shared.data(), 0xff, shared.size() * 16);  // NaN everywhere a kernel forgets to write
      FiberBarrier block{threads};
      blockBarrier = &block;
      std::vector<Warp> warps(threads / 32);
      finished.assign(threads, 0);
      for (int t = 0; t < threads; ++t) {
        getcontext(&fibers[t]);
        fibers[t].uc_stack.ss_sp = stacks[t].data();
        fibers[t].uc_stack.ss_size = stacks[t].size();
        fibers[t].uc_link = &scheduler;
        makecontext(&fibers[t], fiber_main, 0);
      }
      blockIdx = {x, y, 0};
      waiting.assign(threads, Waiting{nullptr, 0});
      for (int next = 0;;) {
        int t = -1;
        for (int i = 0; i < threads && t < 0; ++i) {
          const int candidate = greedy ? i : (next + i) % threads;
          if (runnable(candidate)) t = candidate;
        }
        if (t < 0) break;
        running = t;
        threadIdx = {(unsigned)t, 0, 0};
        emulatedWarp = &warps[t / 32];
        emulatedLane = t % 32;
        swapcontext(&scheduler, &fibers[t]);
        next = t + 1;
      }
      for (int t = 0; t < threads; ++t)
        if (!finished[t]) {
          std::fprintf(stderr, "deadlock: thread %d of block (%u, %u) never finished\n", t, x, y);
          std::exit(3);
        }
    }
}

int main(int argc, char** argv) {
  if (argc != 12) {
    std::fprintf(stderr, "usage: emulator B H KVH T S D causal window padding transposed bf16\n");
    return 2;
  }
  const int B = atoi(argv[1]), H = atoi(argv[2]), KVH = atoi(argv[3]), T = atoi(argv[4]), S = atoi(argv[5]),
            D = atoi(argv[6]), causal = atoi(argv[7]), window = atoi(argv[8]), padding = atoi(argv[9]),
            transposed = atoi(argv[10]), bf16 = atoi(argv[11]);
  const char* mode = std::getenv("FLASH_EMULATOR_MODE");  // "greedy", "deferred" or unset
  greedy = mode && std::strcmp(mode, "greedy") == 0;
  deferredCopies = mode && std::strcmp(mode, "deferred") == 0;
  const double scale = 1.0 / std::sqrt((double)D);
  std::mt19937 random(1234);
  std::normal_distribution<float> normal;
  auto round = [&](float f) { return bf16 ? float_to_bf16(f) : float_to_half(f); };
  auto value = [&](unsigned short h) { return (double)(bf16 ? bf16_to_float(h) : half_to_float(h)); };
  // q, dO: [B, H, T, D] or [B, T, H, D] in memory; k, v likewise with KVH and S.
  auto strides = [&](int heads, int length) {
    return transposed ? std::vector<i64>{(i64)length * heads * D, D, (i64)heads * D}
                      : std::vector<i64>{(i64)heads * length * D, (i64)length * D, D};
  };
  auto fill = [&](size_t n) {
    std::vector<unsigned short> x(n);
    for (auto& e : x) e = round(normal(random));
    return x;
  };
  auto q = fill((size_t)B * H * T * D), k = fill((size_t)B * KVH * S * D), v = fill((size_t)B * KVH * S * D),
       dout = fill((size_t)B * H * T * D);
  const auto qs = strides(H, T), ks = strides(KVH, S);
  std::vector<unsigned char> mask((size_t)B * S, 1);
  for (int j = 0; j < padding && j < S; ++j) mask[(size_t)(B - 1) * S + j] = 0;
  auto at = [&](const std::vector<unsigned short>& x, const std::vector<i64>& s, int b, int h, int i, int d) {
    return value(x[b * s[0] + h * s[1] + i * s[2] + d]);
  };

  // The reference, in float64.
  std::vector<double> out((size_t)B * H * T * D), lse((size_t)B * H * T), dq(out.size()), dk((size_t)B * KVH * S * D),
      dv(dk.size());
  const int offset = S - T;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < T; ++i) {
        const int kvh = h / (H / KVH);
        std::vector<double> s(S, -INFINITY);
        double max = -INFINITY;
        for (int j = 0; j < S; ++j) {
          const int position = offset + i;
          const bool visible = (!causal || (j <= position && (window <= 0 || j > position - window))) && mask[b * S + j];
          if (!visible) continue;
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += at(q, qs, b, h, i, d) * at(k, ks, b, kvh, j, d);
          s[j] = dot * scale;
          max = std::max(max, s[j]);
        }
        const size_t row = ((size_t)b * H + h) * T + i;
        if (max == -INFINITY) {
          lse[row] = -INFINITY;
          continue;
        }
        double sum = 0;
        for (int j = 0; j < S; ++j) sum += std::exp(s[j] - max);
        lse[row] = max + std::log(sum);
        std::vector<double> p(S), dp(S);
        double delta = 0;
        for (int j = 0; j < S; ++j) {
          p[j] = std::exp(s[j] - lse[row]);
          for (int d = 0; d < D; ++d) {
            out[row * D + d] += p[j] * at(v, ks, b, kvh, j, d);
            dp[j] += at(dout, qs, b, h, i, d) * at(v, ks, b, kvh, j, d);
          }
          delta += p[j] * dp[j];
        }
        for (int j = 0; j < S; ++j) {
          const double ds = p[j] * (dp[j] - delta) * scale;
          const size_t key = (((size_t)b * KVH + kvh) * S + j) * D;
          for (int d = 0; d < D; ++d) {
            dq[row * D + d] += ds * at(k, ks, b, kvh, j, d);
            dk[key + d] += ds * at(q, qs, b, h, i, d);
            dv[key + d] += p[j] * at(dout, qs, b, h, i, d);
          }
        }
      }

  // The kernels.
  std::vector<unsigned short> kOut(out.size()), kDq(dq.size()), kDk(dk.size()), kDv(dv.size());
  std::vector<float> kLse(lse.size()), accum(dq.size(), 0.f), delta(lse.size());
  FlashParams p{};
  p.q = q.data();
  p.k = k.data();
  p.v = v.data();
  p.keyMask = padding > 0 ? mask.data() : nullptr;
  p.out = kOut.data();
  p.lse = kLse.data();
  p.dout = dout.data();
  p.dq = kDq.data();
  p.dk = kDk.data();
  p.dv = kDv.data();
  p.dqAccum = accum.data();
  p.delta = delta.data();
  p.dtype = bf16 ? DT_BF16 : DT_F16;
  p.batch = B;
  p.heads = H;
  p.kvHeads = KVH;
  p.queries = T;
  p.keys = S;
  p.headDim = D;
  for (int i = 0; i < 3; ++i) {
    p.qStrides[i] = qs[i];
    p.kStrides[i] = ks[i];
    p.vStrides[i] = ks[i];
    p.doStrides[i] = qs[i];
  }
  p.maskStrides[0] = S;
  p.maskStrides[1] = 1;
  p.causal = causal;
  p.window = window;
  p.scale = scale;
  const auto forward = D == 64 ? (bf16 ? flash_forward_bf16_64 : flash_forward_f16_64)
                               : (bf16 ? flash_forward_bf16_128 : flash_forward_f16_128);
  const auto backward = D == 64 ? (bf16 ? flash_backward_bf16_64 : flash_backward_f16_64)
                                : (bf16 ? flash_backward_bf16_128 : flash_backward_f16_128);
  launch(forward, p, (T + 63) / 64, B * H, 128);
  launch(flash_backward_delta, p, 4, 1, 128);
  launch(backward, p, (S + 63) / 64, B * KVH, 128);
  launch(flash_backward_dq, p, 4, 1, 128);

  auto compare = [&](const char* name, const std::vector<double>& expected, auto actual) {
    double diff = 0, size = 1;
    for (size_t i = 0; i < expected.size(); ++i) {
      const double a = actual(i);
      diff = std::isnan(a) ? INFINITY : std::max(diff, std::abs(a - expected[i]));
      size = std::max(size, std::abs(expected[i]));
      if (std::isinf(diff)) break;
    }
    const double relative = diff / size;
    std::printf("%s: max error %.3g relative to max %.3g\n", name, relative, size);
    return relative;
  };
  const double tolerance = bf16 ? 3e-2 : 6e-3;
  bool ok = true;
  ok &= compare("out", out, [&](size_t i) { return value(kOut[i]); }) < tolerance;
  ok &= compare("dq", dq, [&](size_t i) { return value(kDq[i]); }) < tolerance;
  ok &= compare("dk", dk, [&](size_t i) { return value(kDk[i]); }) < tolerance;
  ok &= compare("dv", dv, [&](size_t i) { return value(kDv[i]); }) < tolerance;
  double lseError = 0;
  for (size_t i = 0; i < lse.size(); ++i) {
    if (std::isinf(lse[i])) {
      if (!(std::isinf(kLse[i]) && kLse[i] < 0)) lseError = INFINITY;
    } else {
      lseError = std::max(lseError, std::abs(kLse[i] - lse[i]) / std::max(1.0, std::abs(lse[i])));
    }
  }
  std::printf("lse: max relative error %.3g\n", lseError);
  ok &= lseError < 1e-3;
  std::printf(ok ? "ok\n" : "FAILED\n");
  return ok ? 0 : 1;
}
