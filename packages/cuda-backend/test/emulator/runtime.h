// A host emulation of the CUDA execution model for the flash kernels: each CUDA thread of a block is a
// fiber (ucontext) of one OS thread, blocks run one after another, and __syncthreads and the warp
// collectives are barriers at which a fiber yields until its group has arrived.
#pragma once
#include <cmath>
#include <cstring>

#define __device__
#define __global__
#define __forceinline__ inline
#define __shared__ static
#define __CUDA_ARCH__ 800

struct Dim3 {
  unsigned x = 0, y = 0, z = 0;
};
extern Dim3 threadIdx, blockIdx, blockDim, gridDim;

struct FiberBarrier;
/** Switches back to the scheduler until `barrier` has moved past `generation`. */
void fiber_wait(const FiberBarrier* barrier, unsigned generation);

struct FiberBarrier {
  int expected;
  int arrived = 0;
  unsigned generation = 0;
  void arrive_and_wait() {
    const unsigned seen = generation;
    if (++arrived == expected) {
      arrived = 0;
      ++generation;
      return;
    }
    fiber_wait(this, seen);
  }
};

/** What the lanes of one warp exchange in a collective operation. */
struct Warp {
  FiberBarrier barrier{32};
  const unsigned short* rows[32];
  unsigned a[32][4];
  unsigned b[32][2];
  float value[32];
};
extern Warp* emulatedWarp;
extern int emulatedLane;
extern FiberBarrier* blockBarrier;

inline void __syncthreads() { blockBarrier->arrive_and_wait(); }

inline float __shfl_xor_sync(unsigned, float v, int mask) {
  Warp& w = *emulatedWarp;
  w.value[emulatedLane] = v;
  w.barrier.arrive_and_wait();
  const float other = w.value[emulatedLane ^ mask];
  w.barrier.arrive_and_wait();
  return other;
}

inline float atomicAdd(float* at, float v) {
  const float old = *at;
  *at = old + v;
  return old;
}

inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline float __int_as_float(unsigned i) { return __int_as_float((int)i); }
inline float __uint_as_float(unsigned i) { return __int_as_float((int)i); }
inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}
