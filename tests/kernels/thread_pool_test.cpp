// The thread pool: every index of every job runs exactly once, before parallel_for returns, however the jobs
// follow each other. Back-to-back jobs of different sizes (so different chunk counts) with more threads than cores
// are where a worker late from one job meets the next.
#include "kernels/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "kernels/cpu_topology.h"

namespace rkchat::kernels {
namespace {

TEST(ThreadPool, EveryIndexOnceInBackToBackJobsOfDifferentSizes) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> hits(512);
    for (int job = 0; job < 4000; ++job) {
      // Sizes and grains that give 1 to 4 * threads chunks, changing from one job to the next.
      const int64_t n = 1 + (job * 37) % 300;
      const int64_t grain = 1 + job % 7;
      for (int64_t i = 0; i < n; ++i) hits[static_cast<size_t>(i)].store(0, std::memory_order_relaxed);
      pool.parallel_for(n, grain, [&](int64_t b, int64_t e, int tid) {
        EXPECT_GE(tid, 0);
        EXPECT_LT(tid, threads);
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1, std::memory_order_relaxed);
      });
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(hits[static_cast<size_t>(i)].load(std::memory_order_relaxed), 1)
            << "index " << i << " of job " << job << " (n " << n << ", grain " << grain << ", " << threads
            << " threads)";
    }
  }
}

TEST(ThreadPool, RangesStartOnGrainBoundaries) {
  ThreadPool pool(3);
  std::atomic<int> misaligned{0};
  pool.parallel_for(1000, 48, [&](int64_t b, int64_t, int) {
    if (b % 48 != 0) misaligned.fetch_add(1);
  });
  EXPECT_EQ(misaligned.load(), 0);
}

// Given cores, every participant runs only there: the workers, and the caller from its first job on.
TEST(ThreadPool, ParticipantsRunOnlyOnTheGivenCores) {
  const auto allowed = affinity_cpus();
  if (allowed.empty()) GTEST_SKIP() << "no affinity calls here";
  const std::vector<int> one = {allowed.back()};
  // In a thread of its own: the pool narrows its caller's affinity, which must not follow the later tests.
  std::thread([&] {
    ThreadPool pool(3, one);
    std::mutex mu;
    std::vector<std::vector<int>> seen;
    bool workers_ran = false;
    for (int job = 0; job < 20; ++job) {
      pool.parallel_for(64, [&](int64_t, int64_t, int tid) {
        // Slow ranges, so that the workers wake and claim some before the caller has taken them all.
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        const auto mine = affinity_cpus();
        std::lock_guard<std::mutex> lock(mu);
        seen.push_back(mine);
        workers_ran |= tid != 0;
      });
    }
    EXPECT_TRUE(workers_ran);
    for (const auto& cpus : seen) EXPECT_EQ(cpus, one);
    EXPECT_EQ(affinity_cpus(), one);
  }).join();
  EXPECT_EQ(affinity_cpus(), allowed);  // this thread was not touched
}

}  // namespace
}  // namespace rkchat::kernels
