// Constants and helpers shared by the GGUF reader and writer (not part of the public interface).
#pragma once

#include <cstdint>

#include "gguf/gguf.h"

namespace rkchat::gguf::internal {

constexpr uint32_t kTypeCount = 40;  // ggml type ids 0..39; anything above is unknown
constexpr uint8_t kMagic[4] = {'G', 'G', 'U', 'F'};
constexpr uint32_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
constexpr const char* kAlignmentKey = "general.alignment";

// A ggml type with a block layout (supported or not); false for removed and out-of-range ids.
bool is_known(TensorType t);
const char* value_type_name(ValueType t);

}  // namespace rkchat::gguf::internal
