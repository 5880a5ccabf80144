#include "kernels/thread_pool.h"

#include <algorithm>

#include "kernels/cpu_topology.h"

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
// Ranges per thread: a thread that starts late (or is descheduled) leaves ranges for the others to claim, so the
// threads finish close together. More ranges cost a claim each and shorter streams for the prefetchers: 4 was the
// fastest decode of 1, 4 and 8 (rkchat bench, Qwen3-0.6B, 2 threads).
constexpr int64_t kChunksPerThread = 4;
// The claim word: job id (32 bits) | chunk count (16 bits) | next chunk to claim (16 bits).
constexpr int kChunkBits = 16;
constexpr uint64_t kChunkMask = (uint64_t{1} << kChunkBits) - 1;
}  // namespace

// The affinity read once: a pool narrows its callers' affinity, which must not shrink the next pool's cap.
int online_cores() { return std::max(1, static_cast<int>(host_cores().usable.size())); }

ThreadPool::ThreadPool(int n_threads, std::vector<int> cpus)
    : n_threads_(std::max(1, n_threads)), cpus_(std::move(cpus)) {
  static std::atomic<uint64_t> pools{0};
  id_ = ++pools;
  threads_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
    job_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::range_of(int64_t chunk, int64_t& b, int64_t& e) const {
  // Chunk i of n_chunks_ gets an equal share of whole grains.
  const int64_t grains = (n_ + grain_ - 1) / grain_;
  const int64_t per = grains / n_chunks_, extra = grains % n_chunks_;
  const int64_t g0 = chunk * per + std::min(chunk, extra);
  const int64_t g1 = g0 + per + (chunk < extra ? 1 : 0);
  b = std::min(n_, g0 * grain_);
  e = std::min(n_, g1 * grain_);
}

void ThreadPool::work_on(uint32_t job, int tid) {
  for (;;) {
    uint64_t c = claim_.load(std::memory_order_acquire);
    int64_t chunk;
    do {
      // The chunk count comes from the claim word itself: a worker late from the previous job must never compare
      // its stale claim with the next job's count, which the caller may already be writing.
      chunk = static_cast<int64_t>(c & kChunkMask);
      const auto total = static_cast<int64_t>((c >> kChunkBits) & kChunkMask);
      if ((c >> 32) != job || chunk >= total) return;
    } while (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel));
    int64_t b, e;
    range_of(chunk, b, e);
    if (b < e) tramp_(ctx_, b, e, tid);
    done_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run(int64_t n, int64_t grain, void* ctx, Trampoline tramp) {
  if (n <= 0) return;
  // The caller runs ranges too: it moves to the pool's cores with its first job (one system call, not one per job).
  thread_local uint64_t restricted_for = 0;
  if (restricted_for != id_) {
    restrict_current_thread(cpus_);
    restricted_for = id_;
  }
  if (n_threads_ == 1 || n <= grain) {
    tramp(ctx, 0, n, 0);
    return;
  }
  ctx_ = ctx;
  tramp_ = tramp;
  n_ = n;
  grain_ = std::max<int64_t>(1, grain);
  n_chunks_ =
      std::min<int64_t>({kChunksPerThread * n_threads_, (n + grain_ - 1) / grain_, static_cast<int64_t>(kChunkMask)});
  done_.store(0, std::memory_order_relaxed);
  const uint32_t job = job_.load(std::memory_order_relaxed) + 1;
  claim_.store(static_cast<uint64_t>(job) << 32 | static_cast<uint64_t>(n_chunks_) << kChunkBits,
               std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_.store(job, std::memory_order_release);
  }
  cv_.notify_all();
  work_on(job, 0);
  // Ranges claimed by workers may still be running: wait for them, yielding if they are slow.
  for (int spins = 0; done_.load(std::memory_order_acquire) != n_chunks_; ++spins) {
    if (spins < kSpinPolls)
      RKCHAT_PAUSE();
    else
      std::this_thread::yield();
  }
}

void ThreadPool::worker(int index) {
  restrict_current_thread(cpus_);
  uint32_t seen = 0;
  for (;;) {
    int spins = 0;
    while (job_.load(std::memory_order_acquire) == seen && spins < kSpinPolls) {
      RKCHAT_PAUSE();
      ++spins;
    }
    if (job_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return job_.load(std::memory_order_acquire) != seen; });
    }
    seen = job_.load(std::memory_order_acquire);
    if (stop_.load()) return;
    work_on(seen, index);
  }
}

}  // namespace rkchat::kernels
