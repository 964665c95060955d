// What the SGEMM (gemm.cc) and DGEMM (dgemm.cc) drivers share: packing memory per pool thread and the
// way a call takes the thread pool (or runs alone when another thread holds it).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <new>
#include <vector>

#include "thread_pool.h"

namespace lorakit {
namespace gemm_workspace {

inline int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }
inline int64_t ceil_div(int64_t x, int64_t y) { return (x + y - 1) / y; }

// Work below this many multiply-adds per thread is not worth waking another thread for (a wake-up and
// the final join cost a few microseconds; 2^18 multiply-adds take about 3 µs on one AVX2 core).
constexpr int64_t kMinMacsPerThread = int64_t{1} << 18;

// Scratch memory for packed panels of T, 64-byte aligned, grown on demand and kept between calls.
template <class T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  ~AlignedBuffer() { std::free(data_); }

  // Throws std::bad_alloc on failure (called on the JavaScript thread, before any worker starts).
  T* reserve(int64_t count) {
    if (count > size_) {
      std::free(data_);
      data_ = nullptr;
      size_ = 0;
      const size_t bytes = static_cast<size_t>(round_up(count * int64_t{sizeof(T)}, 64));
      data_ = static_cast<T*>(std::aligned_alloc(64, bytes));
      if (data_ == nullptr) throw std::bad_alloc();
      size_ = count;
    }
    return data_;
  }
  T* data() const { return data_; }

 private:
  T* data_ = nullptr;
  int64_t size_ = 0;
};

template <class T>
struct Scratch {
  AlignedBuffer<T> a;
  AlignedBuffer<T> b;
};

// One Scratch per pool thread (and element type), used only while ThreadPool::try_acquire() is held.
template <class T>
std::vector<Scratch<T>>& pool_scratch() {
  static std::vector<Scratch<T>> scratch;
  return scratch;
}

// A caller-owned view of "a pool slot or a private buffer set".
template <class T>
struct Workspace {
  std::unique_lock<std::mutex> lock;
  std::vector<Scratch<T>> local;
  Scratch<T>* slots = nullptr;
  int threads = 1;
};

template <class T>
Workspace<T> acquire_workspace(int wanted_threads) {
  Workspace<T> ws;
  ws.lock = ThreadPool::instance().try_acquire();
  if (ws.lock.owns_lock()) {
    auto& scratch = pool_scratch<T>();
    if (static_cast<int>(scratch.size()) < wanted_threads) scratch.resize(wanted_threads);
    ws.slots = scratch.data();
    ws.threads = wanted_threads;
  } else {
    // Another thread of this process is inside a GEMM: run on this thread alone.
    ws.local.resize(1);
    ws.slots = ws.local.data();
    ws.threads = 1;
  }
  return ws;
}

inline void run_threads(int threads, const std::function<void(int)>& task) {
  if (threads <= 1) {
    task(0);
  } else {
    ThreadPool::instance().run(threads, task);
  }
}

}  // namespace gemm_workspace
}  // namespace lorakit
