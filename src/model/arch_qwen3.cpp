// Qwen3: NEOX RoPE, no biases, per-head RMSNorm of q and k (attn_q_norm / attn_k_norm); head_dim from
// attention.key_length, which need not equal n_embd / n_head.
#include "model/arch.h"

namespace rkchat::model {
extern const ArchSpec kArchQwen3 = {"qwen3", RopeStyle::neox, false, true, 1000000.0f};
}
