#include "thread_pool.h"

#include <chrono>
#include <cstdlib>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#define LORAKIT_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define LORAKIT_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define LORAKIT_CPU_RELAX() ((void)0)
#endif

namespace lorakit {
namespace {

// How long an idle worker spins before it sleeps on the condition variable. Training issues GEMMs back to
// back with a little JavaScript in between; spinning across that gap saves a futex wake-up (tens of
// microseconds) per call, and sleeping after it keeps an idle process from burning a core.
constexpr auto kSpinBeforeSleep = std::chrono::microseconds(300);

int default_thread_count() {
  if (const char* env = std::getenv("LORAKIT_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1 && n <= 1024) return static_cast<int>(n);
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

}  // namespace

ThreadPool& ThreadPool::instance() {
  // Leaked on purpose: joining threads from a static destructor at process exit can deadlock when the
  // runtime has already torn down parts of the process.
  static ThreadPool* pool = new ThreadPool(default_thread_count());
  return *pool;
}

ThreadPool::ThreadPool(int n) : num_threads_(n) {}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    state_.fetch_add(uint64_t{1} << 16);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::set_num_threads(int n) { num_threads_.store(n < 1 ? 1 : n, std::memory_order_relaxed); }

void ThreadPool::ensure_workers(int n) {
  while (static_cast<int>(workers_.size()) < n - 1) {
    const int index = static_cast<int>(workers_.size());
    // The worker starts from the generation current now, before run() publishes the next one; reading it
    // inside the new thread could already see that next generation and then wait for it forever.
    const uint64_t seen = state_.load() >> 16;
    workers_.emplace_back([this, index, seen] { worker_loop(index, seen); });
  }
}

void ThreadPool::run(int n, const std::function<void(int)>& task) {
  if (n <= 1) {
    task(0);
    return;
  }
  ensure_workers(n);
  const uint64_t generation = (state_.load() >> 16) + 1;
  // Everything a claim reads is published before the claim counter opens for this generation.
  task_.store(&task);
  done_.store(0);
  run_.store(((generation & 0xffffffff) << 32) | static_cast<uint64_t>(n));
  claims_.store((generation & 0xffffffff) << 32);
  state_.store((generation << 16) | static_cast<uint64_t>(n));
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_all();
  }
  work();
  int spins = 0;
  while (done_.load(std::memory_order_acquire) < n) {
    LORAKIT_CPU_RELAX();
    // Yield now and then: if the scheduler put a worker on this core (a busy or oversubscribed machine),
    // spinning would only delay the index it is running.
    if ((++spins & 63) == 0) std::this_thread::yield();
  }
}

void ThreadPool::work() {
  for (;;) {
    const uint64_t claim = claims_.fetch_add(1);
    const uint64_t current = run_.load();
    if ((claim >> 32) != (current >> 32)) return;  // a stale claim from a run that has ended
    const uint64_t index = claim & 0xffffffff;
    if (index >= (current & 0xffffffff)) return;  // every index is taken
    // The run cannot end before this index is done, so task_ is still this run's task.
    (*task_.load())(static_cast<int>(index));
    done_.fetch_add(1, std::memory_order_release);
  }
}

void ThreadPool::worker_loop(int index, uint64_t seen) {
  const int tid = index + 1;
  for (;;) {
    // Wait for a new generation: spin for a while, then sleep.
    const auto spin_until = std::chrono::steady_clock::now() + kSpinBeforeSleep;
    int spins = 0;
    while ((state_.load(std::memory_order_acquire) >> 16) == seen) {
      LORAKIT_CPU_RELAX();
      if ((++spins & 63) != 0) continue;
      // As in run(): never hold a core that a runnable thread (maybe the caller) could use.
      std::this_thread::yield();
      if (std::chrono::steady_clock::now() > spin_until) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1);
        // sleepers_ is raised before state_ is re-read (both sequentially consistent), and run() stores
        // state_ before reading sleepers_, so one side always sees the other: no lost wake-up.
        wake_.wait(lock, [&] { return (state_.load() >> 16) != seen; });
        sleepers_.fetch_sub(1);
        break;
      }
    }
    const uint64_t state = state_.load(std::memory_order_acquire);
    seen = state >> 16;
    if (stop_.load()) return;
    // Workers beyond the run's width stay out, so a narrow run does not wake the whole pool's work.
    if (static_cast<uint64_t>(tid) < (state & 0xffff)) work();
  }
}

}  // namespace lorakit
