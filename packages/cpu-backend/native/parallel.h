// Splits a range of independent work items across the thread pool when there is enough of it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>

#include "thread_pool.h"

namespace lorakit {

// Runs body(tid, begin, end) over [0, total) in contiguous chunks, one per thread (tid < the pool's
// thread count), using at most one thread per `grain` items: a wake-up costs a few microseconds, so small
// ranges stay on the calling thread. If another thread of this process holds the pool (a worker_threads
// Worker inside a kernel), the whole range runs on the calling thread. Bodies must not throw.
inline void parallel_for_threads(int64_t total, int64_t grain,
                                 const std::function<void(int, int64_t, int64_t)>& body) {
  if (total <= 0) return;
  ThreadPool& pool = ThreadPool::instance();
  const int64_t wanted =
      std::min<int64_t>(pool.num_threads(), std::max<int64_t>(1, total / std::max<int64_t>(1, grain)));
  if (wanted <= 1) {
    body(0, 0, total);
    return;
  }
  auto lock = pool.try_acquire();
  if (!lock.owns_lock()) {
    body(0, 0, total);
    return;
  }
  const int threads = static_cast<int>(wanted);
  const int64_t chunk = (total + threads - 1) / threads;
  pool.run(threads, [&](int tid) {
    const int64_t begin = tid * chunk;
    const int64_t end = std::min(total, begin + chunk);
    if (begin < end) body(tid, begin, end);
  });
}

inline void parallel_for(int64_t total, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  parallel_for_threads(total, grain, [&](int, int64_t begin, int64_t end) { body(begin, end); });
}

// Upper bound on the tid a parallel_for_threads body can see, for sizing per-thread scratch.
inline int max_parallel_threads() { return std::max(1, ThreadPool::instance().num_threads()); }

}  // namespace lorakit
