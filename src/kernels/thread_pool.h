// A persistent pool of worker threads: no thread is created per operation. Work is split statically into
// contiguous ranges (one per thread), which suits matmuls whose rows all cost the same. Workers spin briefly
// after each job (decode issues hundreds of small jobs per token), then sleep.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace rkchat::kernels {

class ThreadPool {
 public:
  // n_threads counts the calling thread: ThreadPool(1) runs everything inline.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end, thread_index) on disjoint ranges covering [0, n), in parallel, and returns when all are
  // done. Ranges are aligned to `grain` (except the last). fn must not throw.
  template <class F>
  void parallel_for(int64_t n, int64_t grain, F&& fn) {
    run(n, grain, &fn, [](void* ctx, int64_t b, int64_t e, int tid) { (*static_cast<F*>(ctx))(b, e, tid); });
  }
  template <class F>
  void parallel_for(int64_t n, F&& fn) {
    parallel_for(n, 1, static_cast<F&&>(fn));
  }

 private:
  using Trampoline = void (*)(void*, int64_t, int64_t, int);
  void run(int64_t n, int64_t grain, void* ctx, Trampoline tramp);
  void worker(int index);
  void range_for(int index, int64_t& b, int64_t& e) const;

  int n_threads_;
  std::vector<std::thread> threads_;
  // The current job.
  void* ctx_ = nullptr;
  Trampoline tramp_ = nullptr;
  int64_t n_ = 0;
  int64_t grain_ = 1;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace rkchat::kernels
