// Internal to src/kernels: the table of function pointers that one ISA fills. The reference (scalar) entries are
// filled first; each faster ISA then overwrites what it implements, so a partial ISA file is always complete.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"

namespace rkchat::kernels {

struct AttendSpan;

// Products of one weight type with its activation format.
struct TypeKernels {
  QType act = QType::F32;  // activation format this weight type multiplies with (F32, Q8_0, Q8_1 or Q8_K)
  // y[t * ldy + r] = dot(W row r, A row t) for r in [r0, r1), t < n_tok. w points at row 0, a at token 0's
  // quantized (or f32) activation row; cols is a multiple of the weight type's block size.
  void (*gemm)(const uint8_t* w, size_t w_row_bytes, const uint8_t* a, size_t a_row_bytes, float* y, int64_t ldy,
               int64_t r0, int64_t r1, int n_tok, int64_t cols) = nullptr;
  // The load-time repack an ISA offers (pack == nullptr: none): pack writes the row groups [g0, g1) of the stored
  // matrix w (rows x cols) into dst, the whole packed matrix, in layout `packed`; gemm_packed has gemm's contract
  // on a matrix in that layout (w its start, w_row_bytes the stored row's bytes, r0 a multiple of the group).
  Layout packed = Layout::rows;
  void (*pack)(const uint8_t* w, size_t w_row_bytes, int64_t rows, int64_t cols, int64_t g0, int64_t g1,
               uint8_t* dst) = nullptr;
  decltype(gemm) gemm_packed = nullptr;
};

struct KernelTable {
  const char* isa = "scalar";
  // Quantize one row of n floats (n a multiple of the block size) into blocks.
  void (*quantize_row_q8_0)(const float* x, void* dst, int64_t n) = nullptr;
  void (*quantize_row_q8_1)(const float* x, void* dst, int64_t n) = nullptr;
  void (*quantize_row_q8_k)(const float* x, void* dst, int64_t n) = nullptr;
  TypeKernels f32, f16, bf16, q8_0, q4_0, q4_1, q4_k, q5_k, q6_k;
  void (*attend_span)(const AttendSpan& a) = nullptr;  // attention.h
  const TypeKernels* for_type(QType t) const;          // nullptr for an unsupported weight type
};

// Fillers, one per ISA and family. The dispatcher calls the reference ones, then those of the chosen ISA.
void fill_ref(KernelTable& t);            // ref.cpp: F32/F16/BF16/Q8_0/Q4_0/Q4_1 and activation quantizers
void fill_kquants_ref(KernelTable& t);    // kquants_ref.cpp: Q4_K/Q5_K/Q6_K and the Q8_K quantizer
void fill_attention_ref(KernelTable& t);  // attention.cpp
void fill_repack_ref(KernelTable& t);     // repack.cpp: the scalar gemm of Layout::rows4 (no pack: nothing to gain)
#if defined(RKCHAT_HAVE_X86_KERNELS)
void fill_attention_avx2(KernelTable& t);
void fill_attention_avx512(KernelTable& t);
void fill_avx2(KernelTable& t);
void fill_kquants_avx2(KernelTable& t);
void fill_avx2_gemv(KernelTable& t);          // x86_avx2_gemv.cpp: Q4_0/Q8_0 decode, on top of fill_avx2 (AVX2 only)
void fill_avx2_rows(KernelTable& t);          // x86_avx2_rows.cpp: the load-time repack to Layout::rows8 (AVX2 only)
void fill_kquants_avx2_rows(KernelTable& t);  // x86_avx2_kquants_rows.cpp: Q4_K/Q6_K prefill (AVX2 only)
void fill_avx512vnni(KernelTable& t);
void fill_avx512vnni_rows(KernelTable& t);  // x86_avx512vnni_rows.cpp: prefill over 16-row tiles, on top of the above
void fill_kquants_avx512vnni(KernelTable& t);
void fill_kquants_avx512vnni_rows(KernelTable& t);  // x86_avx512vnni_kquants_rows.cpp: Q4_K/Q5_K prefill
void fill_amx(KernelTable& t);  // x86_amx.cpp: Q8_0 prefill tiles; on top of (and falling back to) avx512vnni
#endif
#if defined(RKCHAT_HAVE_ARM_KERNELS)
void fill_attention_neon(KernelTable& t);  // arm_neon_base_attention.cpp, for both NEON levels
void fill_neon_base(KernelTable& t);       // arm_neon_base.cpp: plain NEON (no dot product)
void fill_neon_dot(KernelTable& t);       // both NEON levels also offer the repack to Layout::rows4 (arm_neon_packed.h)
void fill_neon_dot_rows(KernelTable& t);  // arm_neon_dot_rows.cpp: prefill over 4-row tiles, on top of the above
void fill_kquants_neon_dot(KernelTable& t);
#endif

// The table of the active ISA.
const KernelTable& kernel_table();

}  // namespace rkchat::kernels
