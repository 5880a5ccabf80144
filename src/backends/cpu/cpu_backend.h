// rkchat's own engine behind the Backend interface: a GGUF model run by src/model on this machine's CPU.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace rkchat::backends {

// Throws backends::Error for a missing, malformed or unsupported GGUF file.
std::unique_ptr<Backend> make_cpu_backend(const LoadOptions& options);

}  // namespace rkchat::backends
