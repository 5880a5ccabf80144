// backends::load: picks the backend from the model file, or the one the user forced.
#include <filesystem>

#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/load_checks.h"
#include "backends/rkllm/rkllm_backend.h"

namespace rkchat::backends {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::eos:
      return "eos";
    case StopReason::max_tokens:
      return "max_tokens";
    case StopReason::context_full:
      return "context_full";
    case StopReason::stopped_by_caller:
      return "stop";
    case StopReason::aborted:
      return "aborted";
    case StopReason::error:
      return "error";
  }
  return "unknown";
}

const char* pooling_name(Pooling p) {
  switch (p) {
    case Pooling::none:
      return "none";
    case Pooling::mean:
      return "mean";
    case Pooling::cls:
      return "cls";
    case Pooling::last:
      return "last";
  }
  return "none";
}

namespace {

namespace fs = std::filesystem;

// "cpu" or "rkllm": the backend that loads `options`; throws Error for a missing file or an unknown backend.
std::string backend_for(const LoadOptions& options) {
  std::error_code ec;
  if (options.path.empty()) throw Error("no model given (use -m FILE)");
  if (!fs::exists(options.path, ec)) throw Error(options.path + ": no such file");
  if (fs::is_directory(options.path, ec)) throw Error(options.path + ": is a folder, not a model file");
  std::string backend = options.backend;
  if (backend == "auto") backend = fs::path(options.path).extension() == ".rkllm" ? "rkllm" : "cpu";
  if (backend != "rkllm" && backend != "cpu")
    throw Error("unknown backend '" + options.backend + "' (use auto, cpu or rkllm)");
  return backend;
}

}  // namespace

std::unique_ptr<Backend> load(const LoadOptions& options) {
  return backend_for(options) == "rkllm" ? make_rkllm_backend(options) : make_cpu_backend(options);
}

uint64_t load_bytes(const LoadOptions& options) {
  if (backend_for(options) == "cpu") return cpu::load_bytes(options);
  std::error_code ec;
  const auto size = fs::file_size(options.path, ec);
  if (ec) throw Error(options.path + ": " + ec.message());
  return size;
}

uint64_t available_memory() { return cpu::available_memory_bytes(); }

}  // namespace rkchat::backends
