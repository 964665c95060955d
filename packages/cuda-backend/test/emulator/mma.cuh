// Host stand-in for kernels/mma.cuh: ldmatrix and mma.sync m16n8k16 emulated per the PTX ISA's fragment
// layouts ("Matrix Fragments for mma.m16n8k16 with floating point type", "ldmatrix"), as warp
// collectives over runtime.h.
#pragma once
#include <vector>

#include "common.cuh"

struct alignas(16) Chunk16 {
  unsigned x, y, z, w;
};

extern unsigned short* emulatedDynamicShared;
inline unsigned short* dynamic_shared() { return emulatedDynamicShared; }

/** Matrix i's row addresses come from lanes 8i … 8i+7; lane l gets row l/4, columns 2(l%4) and +1. */
inline void ldmatrix_x4(unsigned (&r)[4], const unsigned short* pointer) {
  Warp& w = *emulatedWarp;
  const int l = emulatedLane;
  w.rows[l] = pointer;
  w.barrier.arrive_and_wait();
  for (int i = 0; i < 4; ++i) {
    const unsigned short* row = w.rows[8 * i + l / 4];
    r[i] = (unsigned)row[(l % 4) * 2] | ((unsigned)row[(l % 4) * 2 + 1] << 16);
  }
  w.barrier.arrive_and_wait();
}
/** Transposed: lane l gets column l/4 of rows 2(l%4) and 2(l%4)+1. */
inline void ldmatrix_x4_trans(unsigned (&r)[4], const unsigned short* pointer) {
  Warp& w = *emulatedWarp;
  const int l = emulatedLane;
  w.rows[l] = pointer;
  w.barrier.arrive_and_wait();
  for (int i = 0; i < 4; ++i) {
    const unsigned short low = w.rows[8 * i + (l % 4) * 2][l / 4];
    const unsigned short high = w.rows[8 * i + (l % 4) * 2 + 1][l / 4];
    r[i] = (unsigned)low | ((unsigned)high << 16);
  }
  w.barrier.arrive_and_wait();
}

template <bool BF16>
inline float element(unsigned reg, int half) {
  const unsigned short bits = (unsigned short)(reg >> (16 * half));
  return BF16 ? bf16_to_float(bits) : half_to_float(bits);
}

/**
 * A (16×16): register r of lane (g, t) holds row g + 8(r&1), columns 2t + 8(r>>1) and +1.
 * B (16×8): register r holds rows 2t + 8r and +1 of column g. C: c[e] is row g + 8(e>>1), column 2t + (e&1).
 */
template <bool BF16>
inline void mma16816(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  Warp& w = *emulatedWarp;
  const int l = emulatedLane;
  for (int r = 0; r < 4; ++r) w.a[l][r] = a[r];
  w.b[l][0] = b0;
  w.b[l][1] = b1;
  w.barrier.arrive_and_wait();
  // Element (row, k) of A sits in lane 4(row % 8) + (k % 8)/2, register (row ≥ 8) + 2(k ≥ 8), half k % 2;
  // element (k, n) of B in lane 4n + (k % 8)/2, register (k ≥ 8), half k % 2.
  const int g = l >> 2, t = l & 3;
  for (int e = 0; e < 4; ++e) {
    const int row = g + 8 * (e >> 1), col = 2 * t + (e & 1);
    float sum = 0.f;
    for (int k = 0; k < 16; ++k) {
      const float x = element<BF16>(w.a[4 * (row % 8) + (k % 8) / 2][(row >= 8) + 2 * (k >= 8)], k % 2);
      const float y = element<BF16>(w.b[4 * col + (k % 8) / 2][k >= 8], k % 2);
      sum += x * y;
    }
    c[e] += sum;
  }
  w.barrier.arrive_and_wait();
}

/**
 * cp.async lands at some moment between its issue and the issuing thread's wait. The emulation takes one
 * extreme or the other: at once (a copy that overwrites a tile other warps still read shows up), or with
 * `deferredCopies` at the wait (a read before the wait and the barrier after it shows up).
 */
struct PendingCopy {
  unsigned short* shared;
  const unsigned short* global;
};
extern bool deferredCopies;
extern std::vector<PendingCopy> pendingCopies[1024];
inline void cp_async_16(unsigned short* shared, const unsigned short* global) {
  if (deferredCopies) pendingCopies[threadIdx.x].push_back({shared, global});
  else std::memcpy(shared, global, 16);
}
inline void cp_async_wait_all() {
  for (const PendingCopy& c : pendingCopies[threadIdx.x]) std::memcpy(c.shared, c.global, 16);
  pendingCopies[threadIdx.x].clear();
}
inline void cp_async_commit() {}

inline float exp2_approx(float x) { return std::exp2(x); }
