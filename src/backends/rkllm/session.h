// One runtime handle (rkllm_init .. rkllm_destroy) spoken to in one ABI family. The rest of the backend is
// family-neutral: it sees InitRequest / RunRequest / Event and never a runtime struct.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "backends/rkllm/abi_common.h"
#include "backends/rkllm/library.h"
#include "sampling/sampler.h"

namespace rkchat::backends::rkllm {

struct InitRequest {
  std::string model_path;
  int n_ctx = 4096;
  int max_new_tokens = 4096;
  sampling::Params sampling;
  int npu_domain = 0;
  uint32_t cpu_mask = 0;  // 0: the runtime's default
};

struct RunRequest {
  std::string role = "user";
  bool enable_thinking = true;
  std::string prompt;               // input when tokens is empty
  std::span<const int32_t> tokens;  // token ids to append to the history
  int max_new_tokens = 0;           // 1.3 only (<= 0: the init value)
  sampling::Params sampling;        // 1.3 only
};

// What a result callback carried, copied off the runtime's buffers.
struct Event {
  int state = abi::kRunNormal;
  std::string text;
  int32_t token = -1;
  abi::PerfStat perf{};
};
// Called on the runtime's thread; must not throw (the callback catches and drops whatever does).
using EventSink = std::function<void(Event&&)>;

class Session {
 public:
  virtual ~Session() = default;
  // Synchronous: returns rkllm_run's code after the last event went to `sink`.
  virtual int run(const RunRequest& request, const EventSink& sink) = 0;
  virtual int abort() = 0;  // thread-safe
  virtual int clear_kv_cache() = 0;
  virtual bool set_chat_template(const std::string& system, const std::string& prefix,
                                 const std::string& postfix) = 0;  // false when the runtime lacks it
  virtual bool per_run_sampling() const = 0;  // 1.3: sampling and max_new_tokens can change per run
};

// Calls rkllm_init for `family` (12 or 13). Throws Error with the runtime's code on failure.
std::unique_ptr<Session> open_session(int family, const Library& lib, const InitRequest& request);

// Cores "4-7" / "0,2,4-5" -> bit mask. Throws Error on bad text or a core above 31.
uint32_t parse_cpu_mask(const std::string& cpus);

}  // namespace rkchat::backends::rkllm
