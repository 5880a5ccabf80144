// Internal to the engine: the state shared by submit() (any thread) and the loop thread, and the two loops:
// stepped (engine_steps.cpp: continuous batching over a backend's slots) and turn-based (engine_turns.cpp: one
// Conversation::generate at a time, for backends that cannot step).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "runtime/engine.h"

namespace rkchat::runtime {

struct Engine::Impl {
  using Clock = std::chrono::steady_clock;
  struct Job {
    std::shared_ptr<Request> request;
    RequestOptions options;
    Clock::time_point submitted;
  };
  // An Engine::embed call: the loop computes its inputs one by one into result, then fulfils done.
  struct EmbedJob {
    std::vector<std::vector<int32_t>> inputs;
    size_t next = 0;  // the input the loop computes next
    Embeddings result;
    std::promise<Embeddings> done;
  };

  Impl(backends::Backend& b, const EngineOptions& o) : backend(b), options(o) {}
  virtual ~Impl() = default;
  // The loop body: runs until stopping is set and every job is done.
  virtual void run() = 0;

  // Takes the oldest waiting job (the caller holds mu); empty when none.
  std::optional<Job> pop_locked();
  // Sends a failed request its last update.
  void fail(Request& r, ErrorKind kind, const std::string& message, backends::TurnStats stats = {});
  // Counts a finished request into the totals.
  void account(const backends::TurnStats& stats);

  backends::Backend& backend;
  EngineOptions options;
  int slots = 1;  // requests that may run at once

  mutable std::mutex mu;  // guards everything below
  std::condition_variable wake;
  std::deque<Job> queue;
  std::deque<std::shared_ptr<EmbedJob>> embeds;  // waiting or being computed, oldest first
  int active = 0;
  bool stopping = false;
  EngineStats totals;

  std::thread thread;  // started last, by the Engine
};

// Needs backend.stepper() with options.parallel free slots.
std::unique_ptr<Engine::Impl> make_step_loop(backends::Backend& backend, const EngineOptions& options);
std::unique_ptr<Engine::Impl> make_turn_loop(backends::Backend& backend, const EngineOptions& options);

}  // namespace rkchat::runtime
