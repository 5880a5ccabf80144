// Internal to the engine: how the final hidden states of one input become its embedding, as llama.cpp pools them
// (src/llama-context.cpp, LLAMA_POOLING_TYPE_*) and normalizes them (common_embd_normalize, Euclidean norm).
#pragma once

#include <utility>
#include <vector>

#include "backends/backend.h"

namespace rkchat::runtime::detail {

// The rows [first, end) of an input of n tokens (n >= 1) whose hidden states a pooling reads: all of them (mean),
// the first (cls) or the last (last).
std::pair<int, int> pooled_rows(backends::Pooling pooling, int n);

// The mean of `rows` hidden states ([rows, width], rows >= 1), scaled to L2 norm 1 (left zero when it is zero).
std::vector<float> mean_normalized(const float* hidden, int rows, int width);

}  // namespace rkchat::runtime::detail
