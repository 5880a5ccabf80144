// Armv8.2-A kernels with the dot-product extension (sdot: Cortex-A76, A55 with dotprod, ...), compiled with
// +dotprod and chosen only when HWCAP says the CPU has it. Float weights stay with the plain NEON kernels.
//
// Main idea: the quantized tiles of arm_neon_gemm.h with vdotq_s32, which adds four int8 products into each
// int32 lane: exactly the 8 lanes of 4 consecutive elements that the shared float order wants, in two
// instructions per 32-element block and (row, token) pair.
#include "kernels/arm_neon_gemm.h"
#include "kernels/kernel_table.h"

namespace rkchat::kernels {

namespace {

struct SdotDot {
  RK_INLINE static IntLanes8 dot(const NeonBlock& w, const NeonBlock& x) {
    return {vdotq_s32(vdupq_n_s32(0), w.lo, x.lo), vdotq_s32(vdupq_n_s32(0), w.hi, x.hi)};
  }
};

}  // namespace

void fill_neon_dot(KernelTable& t) {
  t.isa = "neon-dot";
  fill_neon_quant<SdotDot>(t);
}

}  // namespace rkchat::kernels
