// The Backend for Rockchip's NPU: drives librkllmrt.so (loaded at run time) for .rkllm models.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace rkchat::backends {

// Picks and loads the runtime matching the model, checks versions before rkllm_init, initializes the model.
// Throws Error with what to do for any problem (no runtime, version mismatch, init failure).
std::unique_ptr<Backend> make_rkllm_backend(const LoadOptions& options);

}  // namespace rkchat::backends
