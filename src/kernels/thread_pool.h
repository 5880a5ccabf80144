// A persistent pool of worker threads: no thread is created per operation. A job [0, n) is cut into a few
// contiguous ranges per thread (equal work for matmul rows), and every participant -- the caller included -- claims
// ranges until none is left. So the caller never waits for a worker that the OS has not scheduled yet (an
// oversubscribed machine, a test run beside a build): it takes that range itself. Workers spin briefly after each job
// (decode issues hundreds of small jobs per token), then sleep. Given cores, the workers and every thread that
// issues jobs run only there: the kernel would otherwise move them to a LITTLE core now and then, and each job ends
// when its slowest range does.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace rkchat::kernels {

// Online cores this process may run on (its CPU affinity when it started), at least 1. Workers spin between jobs,
// so a pool larger than this makes them take turns on the cores and a forward pass crawls: callers cap their
// thread counts by it.
int online_cores();

class ThreadPool {
 public:
  // n_threads counts the calling thread: ThreadPool(1) runs everything inline. `cpus` (CoreChoice::first): the
  // cores its threads may run on, any when empty.
  explicit ThreadPool(int n_threads, std::vector<int> cpus = {});
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end, thread_index) on disjoint ranges covering [0, n), in parallel, and returns when all are
  // done. Ranges are aligned to `grain` (except the last). thread_index < size() identifies the participant (for
  // per-thread scratch). fn must not throw.
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
  // Claims and runs ranges of job `job` until none is left.
  void work_on(uint32_t job, int tid);
  void range_of(int64_t chunk, int64_t& b, int64_t& e) const;

  int n_threads_;
  std::vector<int> cpus_;
  uint64_t id_;  // tells a caller whether it was restricted to this pool's cores already
  std::vector<std::thread> threads_;
  // The current job; written by the caller before the job id is published in `claim_`.
  void* ctx_ = nullptr;
  Trampoline tramp_ = nullptr;
  int64_t n_ = 0;
  int64_t grain_ = 1;
  int64_t n_chunks_ = 0;
  std::atomic<uint64_t> claim_{0};  // job id << 32 | chunk count << 16 | next chunk to claim
  std::atomic<int64_t> done_{0};    // chunks finished in the current job
  std::atomic<uint32_t> job_{0};    // id of the newest job, for the workers to wake on
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace rkchat::kernels
