// Qwen2 / Qwen2.5: NEOX RoPE and biases on the q, k and v projections.
#include "model/arch.h"

namespace rkchat::model {
extern const ArchSpec kArchQwen2 = {"qwen2", RopeStyle::neox, true, false, 1000000.0f};
}
