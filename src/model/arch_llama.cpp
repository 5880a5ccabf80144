// Llama family (Llama 2/3, SmolLM, TinyLlama): normal RoPE, no biases, no q/k norm.
#include "model/arch.h"

namespace rkchat::model {
extern const ArchSpec kArchLlama = {"llama", RopeStyle::normal, false, false, 10000.0f};
}
