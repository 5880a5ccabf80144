// backends::load: picks the backend from the model file, or the one the user forced.
#include <filesystem>

#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"
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

std::unique_ptr<Backend> load(const LoadOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (options.path.empty()) throw Error("no model given (use -m FILE)");
  if (!fs::exists(options.path, ec)) throw Error(options.path + ": no such file");
  if (fs::is_directory(options.path, ec)) throw Error(options.path + ": is a folder, not a model file");
  std::string backend = options.backend;
  if (backend == "auto") backend = fs::path(options.path).extension() == ".rkllm" ? "rkllm" : "cpu";
  if (backend == "rkllm") return make_rkllm_backend(options);
  if (backend == "cpu") return make_cpu_backend(options);
  throw Error("unknown backend '" + options.backend + "' (use auto, cpu or rkllm)");
}

}  // namespace rkchat::backends
