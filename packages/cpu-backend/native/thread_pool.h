// A persistent pool of std::thread workers. run(n, task) executes task(0) … task(n − 1) exactly once each:
// the caller and the woken workers claim indices from a shared counter, and the caller returns when all n
// have finished, so a kernel called from JavaScript is synchronous. Because indices are claimed rather
// than assigned, the caller never waits for a worker that has not been scheduled yet (a busy or
// oversubscribed machine): it runs the unclaimed indices itself and only waits for indices a worker has
// actually started. Task bodies therefore must not wait for each other, and per-index scratch must be
// indexed by the task index, not by thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lorakit {

class ThreadPool {
 public:
  // The process-wide pool, sized from LORAKIT_NUM_THREADS or std::thread::hardware_concurrency().
  static ThreadPool& instance();

  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_.load(std::memory_order_relaxed); }
  // Sets how many threads later calls use (>= 1). Workers are started on demand and never stopped
  // before process exit, so lowering the count only idles them.
  void set_num_threads(int n);

  // Runs task(i) for i = 0 .. n - 1, n <= num_threads(), each index once, on the caller and up to n − 1
  // workers. Only one run may be in flight: callers hold the lock returned by try_acquire() (see gemm.cc)
  // while they call run().
  void run(int n, const std::function<void(int)>& task);

  // Guards the pool (and the per-thread scratch buffers of the GEMM driver) against a second caller,
  // e.g. from a worker_threads Worker, which then runs single-threaded on its own scratch instead.
  std::unique_lock<std::mutex> try_acquire() { return std::unique_lock<std::mutex>(busy_, std::try_to_lock); }

 private:
  explicit ThreadPool(int n);
  void ensure_workers(int n);
  void worker_loop(int index, uint64_t seen);
  // Claims and runs indices of the current run until none is left.
  void work();

  std::atomic<int> num_threads_;
  std::mutex busy_;

  std::vector<std::thread> workers_;  // worker i runs tid i + 1
  std::mutex mutex_;
  std::condition_variable wake_;
  // (generation << 16) | participant count, published in one atomic store so a worker that wakes late
  // never pairs one run's generation with another run's participant count.
  std::atomic<uint64_t> state_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  // The run being claimed: (generation << 32) | index count, and the claim counter
  // (generation << 32) | next index. A claim whose generation differs from the run's is stale (a worker
  // that woke after its run ended) and is dropped, so it can neither run an index twice nor touch a task
  // whose run has returned.
  std::atomic<uint64_t> run_{0};
  std::atomic<uint64_t> claims_{0};
  std::atomic<int> done_{0};
  std::atomic<const std::function<void(int)>*> task_{nullptr};
};

}  // namespace lorakit
