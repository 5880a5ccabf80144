#include "kernels/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define RKCHAT_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define RKCHAT_PAUSE() asm volatile("yield")
#else
#define RKCHAT_PAUSE() ((void)0)
#endif

namespace rkchat::kernels {

namespace {
// How many polls a worker spins on before it sleeps: long enough to bridge the gap between two kernels of one
// forward pass, short enough not to burn a core while the process idles.
constexpr int kSpinPolls = 1 << 16;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  threads_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::range_for(int index, int64_t& b, int64_t& e) const {
  // Split [0, n) into n_threads_ chunks of whole grains.
  const int64_t grains = (n_ + grain_ - 1) / grain_;
  const int64_t per = grains / n_threads_;
  const int64_t extra = grains % n_threads_;
  const int64_t g0 = index * per + std::min<int64_t>(index, extra);
  const int64_t g1 = g0 + per + (index < extra ? 1 : 0);
  b = std::min(n_, g0 * grain_);
  e = std::min(n_, g1 * grain_);
}

void ThreadPool::run(int64_t n, int64_t grain, void* ctx, Trampoline tramp) {
  if (n <= 0) return;
  if (n_threads_ == 1 || n <= grain) {
    tramp(ctx, 0, n, 0);
    return;
  }
  ctx_ = ctx;
  tramp_ = tramp;
  n_ = n;
  grain_ = std::max<int64_t>(1, grain);
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
  int64_t b, e;
  range_for(0, b, e);
  if (b < e) tramp(ctx, b, e, 0);
  while (pending_.load(std::memory_order_acquire) != 0) RKCHAT_PAUSE();
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && spins < kSpinPolls) {
      RKCHAT_PAUSE();
      ++spins;
    }
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load()) return;
    int64_t b, e;
    range_for(index, b, e);
    if (b < e) tramp_(ctx_, b, e, index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace rkchat::kernels
