// The gemm of every ISA against the scalar reference, for every weight type, on random data with odd row and
// token counts and block counts that leave partial register tiles and partial groups.
//
// Tolerance: the ISAs sum the same integer block products in another order (and with FMA), so results may differ
// by float rounding: we allow 1e-5 of the sum of the absolute terms. Quantized types on ISAs that add up floats
// in the reference's order (sums_in_reference_order) must match it exactly. A second test uses data whose every
// partial sum is exactly representable, so there any difference -- a wrong integer sum -- fails exactly.
#include <algorithm>
#include <tuple>

#include "kernel_test_util.h"
#include "kernels/repack.h"

namespace rkchat::kernels::test {
namespace {

constexpr double kRelTol = 1e-5;

const QType kTypes[] = {QType::F32, QType::F16, QType::BF16, QType::Q8_0, QType::Q4_0, QType::Q4_1};

// Activations in the format the weight type pairs with, as the reference quantizer makes them.
std::vector<uint8_t> make_act(const KernelTable& ref, QType act, const std::vector<float>& x, int64_t cols, int n_tok,
                              size_t& row_bytes) {
  row_bytes = qtype_row_bytes(act, cols);
  std::vector<uint8_t> a(row_bytes * static_cast<size_t>(n_tok));
  for (int t = 0; t < n_tok; ++t) {
    const float* src = x.data() + t * cols;
    uint8_t* dst = a.data() + t * row_bytes;
    if (act == QType::F32) std::memcpy(dst, src, row_bytes);
    if (act == QType::Q8_0) ref.quantize_row_q8_0(src, dst, cols);
    if (act == QType::Q8_1) ref.quantize_row_q8_1(src, dst, cols);
  }
  return a;
}

// |W| dequantized, row by row: the weights' part of the sum of |terms| of each dot product, which sets the scale of
// its rounding error. Q4_1's d * q and m count apart.
std::vector<double> abs_weights(QType type, const uint8_t* w, int64_t rows, int64_t cols) {
  std::vector<double> out(static_cast<size_t>(rows * cols));
  std::vector<float> row(static_cast<size_t>(cols));
  const size_t row_bytes = qtype_row_bytes(type, cols);
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(type, w + r * row_bytes, row.data(), cols);
    for (int64_t c = 0; c < cols; ++c) {
      double v = std::fabs(static_cast<double>(row[c]));
      if (type == QType::Q4_1) {
        const auto& blk = reinterpret_cast<const BlockQ4_1*>(w + r * row_bytes)[c / QK4_1];
        const double m = static_cast<double>(fp16_to_fp32(blk.m));
        v = std::fabs(static_cast<double>(row[c]) - m) + std::fabs(m);
      }
      out[static_cast<size_t>(r * cols + c)] = v;
    }
  }
  return out;
}

// got against want (the reference), exactly or within the tolerance (see the top); rows past `rows` untouched.
void check(const KernelTable& isa, QType type, QType act, const std::vector<uint8_t>& w, const std::vector<uint8_t>& a,
           size_t arb, int64_t rows, int64_t cols, int n_tok, int64_t ldy, const std::vector<float>& want,
           const std::vector<float>& got, bool exact, const char* how) {
  const std::vector<double> wabs = abs_weights(type, w.data(), rows, cols);
  std::vector<float> ad(static_cast<size_t>(cols));
  for (int t = 0; t < n_tok; ++t) {
    dequantize_row(act, a.data() + t * arb, ad.data(), cols);
    for (int64_t r = 0; r < ldy; ++r) {
      const size_t i = static_cast<size_t>(t * ldy + r);
      if (r >= rows) {
        ASSERT_EQ(got[i], -1.0f) << how << " wrote outside the rows";
        continue;
      }
      if (exact) {
        ASSERT_EQ(got[i], want[i]) << isa.isa << " " << how << qtype_name(type) << " rows=" << rows << " cols=" << cols
                                   << " n_tok=" << n_tok << " at r=" << r << " t=" << t;
        continue;
      }
      double mag = 0;
      for (int64_t c = 0; c < cols; ++c)
        mag += wabs[static_cast<size_t>(r * cols + c)] * std::fabs(static_cast<double>(ad[c]));
      ASSERT_NEAR(got[i], want[i], kRelTol * mag + 1e-30)
          << how << qtype_name(type) << " rows=" << rows << " cols=" << cols << " n_tok=" << n_tok << " at r=" << r
          << " t=" << t;
    }
  }
}

// The ISA's gemm on w repacked at load (TypeKernels::pack), into y; false when the ISA does not repack this type.
bool packed_gemm(const TypeKernels& k, const std::vector<uint8_t>& w, int64_t rows, int64_t cols,
                 const std::vector<uint8_t>& a, size_t arb, std::vector<float>& y, int64_t ldy, int n_tok) {
  if (k.pack == nullptr) return false;
  const size_t wrb = w.size() / static_cast<size_t>(rows);
  const int64_t groups = packed_groups(k.packed, rows);
  std::vector<uint8_t> packed(packed_bytes(k.packed, wrb, rows), 0xa5);  // 0xa5: padding must be written
  k.pack(w.data(), wrb, rows, cols, 0, groups, packed.data());
  k.gemm_packed(packed.data(), wrb, a.data(), arb, y.data(), ldy, 0, rows, n_tok, cols);
  return true;
}

// The ISA's gemm against the reference on random data, and (where the ISA repacks the type) its packed gemm too.
void compare(const KernelTable& ref, const KernelTable& isa, QType type, int64_t rows, int64_t cols, int n_tok,
             std::mt19937& rng) {
  const std::vector<uint8_t> w = random_weights(rng, type, rows, cols);
  const size_t wrb = qtype_row_bytes(type, cols);
  const TypeKernels* rk = ref.for_type(type);
  const TypeKernels* ik = isa.for_type(type);
  ASSERT_TRUE(rk != nullptr && ik != nullptr);
  size_t arb = 0;
  const std::vector<uint8_t> a =
      make_act(ref, rk->act, random_floats(rng, static_cast<size_t>(cols * n_tok)), cols, n_tok, arb);
  const int64_t ldy = rows + 3;  // a stride wider than the rows, to catch stride mix-ups
  std::vector<float> want(static_cast<size_t>(ldy * n_tok), -1.0f), got(want), packed(want);
  rk->gemm(w.data(), wrb, a.data(), arb, want.data(), ldy, 0, rows, n_tok, cols);
  ik->gemm(w.data(), wrb, a.data(), arb, got.data(), ldy, 0, rows, n_tok, cols);
  const bool exact = rk->act != QType::F32 && sums_in_reference_order(isa.isa, type, n_tok);
  check(isa, type, rk->act, w, a, arb, rows, cols, n_tok, ldy, want, got, exact, "");
  if (packed_gemm(*ik, w, rows, cols, a, arb, packed, ldy, n_tok))
    check(isa, type, rk->act, w, a, arb, rows, cols, n_tok, ldy, want, packed, false, "packed ");
}

class GemmTest : public testing::TestWithParam<std::string> {};

TEST_P(GemmTest, MatchesReferenceOnRandomData) {
  const KernelTable ref = table_of("scalar");
  const KernelTable isa = table_of(GetParam());
  std::mt19937 rng(1234);
  for (QType type : kTypes) {
    for (int64_t rows : {1, 3, 7, 33}) {
      for (int n_tok : {1, 2, 3, 4, 5, 6, 7, 8, 9, 67}) {
        for (int64_t cols : {32, 96, 160, 544, 1056, 4096}) {
          if (n_tok == 67 && cols > 1056) continue;  // keeps the scalar reference quick
          compare(ref, isa, type, rows, cols, n_tok, rng);
        }
      }
    }
  }
}

TEST_P(GemmTest, FloatWeightsAnyColumnCount) {
  const KernelTable ref = table_of("scalar");
  const KernelTable isa = table_of(GetParam());
  std::mt19937 rng(99);
  for (QType type : {QType::F32, QType::F16, QType::BF16}) {
    for (int64_t cols : {1, 7, 15, 17, 33, 100, 1023}) compare(ref, isa, type, 5, cols, 3, rng);
  }
}

TEST_P(GemmTest, LargePrefillTile) {
  const KernelTable ref = table_of("scalar");
  const KernelTable isa = table_of(GetParam());
  std::mt19937 rng(5);
  for (QType type : {QType::Q8_0, QType::Q4_0, QType::Q4_1}) compare(ref, isa, type, 13, 2048, 131, rng);
}

// Shapes made of whole 16-row tiles (the AVX-512 VNNI prefill kernel) and 16 x 16 tiles (AMX) plus edges of rows
// and tokens, with odd and even block counts, and batches on both sides of the prefill kernel's minimum.
TEST_P(GemmTest, SixteenRowAndTokenTiles) {
  const KernelTable ref = table_of("scalar");
  const KernelTable isa = table_of(GetParam());
  std::mt19937 rng(16);
  for (const auto& [rows, cols, n_tok] : {std::tuple<int64_t, int64_t, int>{16, 32, 16},
                                          {48, 96, 32},
                                          {100, 160, 50},
                                          {35, 2080, 17},
                                          {64, 4096, 16},
                                          {32, 64, 24},
                                          {80, 1056, 131}}) {
    for (QType type : {QType::Q8_0, QType::Q4_0, QType::Q4_1}) compare(ref, isa, type, rows, cols, n_tok, rng);
  }
}

// AMX sums each (row, token) of a whole 16 x 16 tile in the same float order as the AVX-512 VNNI prefill kernel
// (x86_amx.cpp), so on shapes of whole tiles the two agree bit for bit.
TEST(AmxGemm, WholeTilesEqualTheVnniPrefillKernel) {
  const auto isas = available_isas();
  if (std::find(isas.begin(), isas.end(), "amx") == isas.end()) GTEST_SKIP() << "this CPU has no AMX-INT8";
  const KernelTable amx = table_of("amx"), vnni = table_of("avx512vnni");
  std::mt19937 rng(3);
  for (const auto& [rows, cols, n_tok] :
       {std::tuple<int64_t, int64_t, int>{64, 64, 64}, {32, 160, 48}, {48, 1024, 32}}) {
    const std::vector<uint8_t> w = random_weights(rng, QType::Q8_0, rows, cols);
    const size_t wrb = qtype_row_bytes(QType::Q8_0, cols);
    size_t arb = 0;
    const std::vector<uint8_t> a = make_act(vnni, QType::Q8_0, random_floats(rng, cols * n_tok), cols, n_tok, arb);
    std::vector<float> want(static_cast<size_t>(rows * n_tok)), got(want.size());
    vnni.q8_0.gemm(w.data(), wrb, a.data(), arb, want.data(), rows, 0, rows, n_tok, cols);
    amx.q8_0.gemm(w.data(), wrb, a.data(), arb, got.data(), rows, 0, rows, n_tok, cols);
    EXPECT_EQ(got, want) << rows << " x " << cols << ", " << n_tok << " tokens";
  }
}

// AVX2's 8-row tiles and AVX-512 VNNI's 16-row tiles (Layout::rows8, rows16) add the same integer sums in the same
// float steps, so the two packed gemms agree bit for bit.
TEST(PackedGemm, Avx2TilesEqualTheAvx512Ones) {
  const auto isas = available_isas();
  if (std::find(isas.begin(), isas.end(), "avx512vnni") == isas.end()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  const KernelTable avx2 = table_of("avx2"), vnni = table_of("avx512vnni");
  std::mt19937 rng(5);
  for (QType type : {QType::Q8_0, QType::Q4_0, QType::Q4_1}) {
    for (const auto& [rows, cols, n_tok] :
         {std::tuple<int64_t, int64_t, int>{32, 160, 1}, {48, 1024, 3}, {37, 96, 30}}) {
      const std::vector<uint8_t> w = random_weights(rng, type, rows, cols);
      size_t arb = 0;
      const std::vector<uint8_t> a =
          make_act(vnni, vnni.for_type(type)->act, random_floats(rng, cols * n_tok), cols, n_tok, arb);
      std::vector<float> want(static_cast<size_t>(rows * n_tok)), got(want.size());
      ASSERT_TRUE(packed_gemm(*vnni.for_type(type), w, rows, cols, a, arb, want, rows, n_tok));
      ASSERT_TRUE(packed_gemm(*avx2.for_type(type), w, rows, cols, a, arb, got, rows, n_tok));
      EXPECT_EQ(got, want) << qtype_name(type) << " " << rows << " x " << cols << ", " << n_tok << " tokens";
    }
  }
}

TEST_P(GemmTest, SubRangeOfRows) {
  const KernelTable isa = table_of(GetParam());
  std::mt19937 rng(8);
  const int64_t rows = 40, cols = 256;
  const int n_tok = 5;
  const std::vector<uint8_t> w = random_weights(rng, QType::Q8_0, rows, cols);
  size_t arb = 0;
  const std::vector<uint8_t> a = make_act(isa, QType::Q8_0, random_floats(rng, cols * n_tok), cols, n_tok, arb);
  const size_t wrb = qtype_row_bytes(QType::Q8_0, cols);
  std::vector<float> whole(rows * n_tok), parts(rows * n_tok, -1.0f);
  isa.q8_0.gemm(w.data(), wrb, a.data(), arb, whole.data(), rows, 0, rows, n_tok, cols);
  const std::pair<int64_t, int64_t> ranges[] = {{0, 5}, {5, 11}, {11, 29}, {29, 40}};
  for (const auto& [r0, r1] : ranges)
    isa.q8_0.gemm(w.data(), wrb, a.data(), arb, parts.data(), rows, r0, r1, n_tok, cols);
  EXPECT_EQ(whole, parts);
}

// Power-of-two scales, small weights and activations whose block maximum is exactly 127 * scale: every product
// and partial sum is exact in float, so the ISA must equal the reference bit for bit.
std::vector<uint8_t> exact_weights(std::mt19937& rng, QType type, int64_t rows, int64_t cols) {
  std::vector<uint8_t> w = random_weights(rng, type, rows, cols);
  std::uniform_int_distribution<int> e(0, 2), small(-4, 4), nib(0, 3), k(0, 3);
  auto put = [&](size_t off, float v) {
    const uint16_t h = fp32_to_fp16(v);
    std::memcpy(&w[off], &h, 2);
  };
  const size_t bytes = qtype_block_bytes(type);
  for (size_t off = 0; off < w.size(); off += bytes) {
    const float d = std::ldexp(1.0f, -e(rng));
    put(off, d);
    if (type == QType::Q8_0) {
      for (int j = 0; j < QK8_0; ++j) w[off + 2 + j] = static_cast<uint8_t>(static_cast<int8_t>(small(rng)));
    } else if (type == QType::Q4_0) {
      for (int j = 0; j < QK4_0 / 2; ++j)
        w[off + 2 + j] = static_cast<uint8_t>((8 + small(rng) / 2) | (8 - small(rng) / 2) << 4);
    } else {
      put(off + 2, -d * static_cast<float>(k(rng)));
      for (int j = 0; j < QK4_1 / 2; ++j) w[off + 4 + j] = static_cast<uint8_t>(nib(rng) | nib(rng) << 4);
    }
  }
  return w;
}

std::vector<float> exact_activations(std::mt19937& rng, int64_t n) {
  std::uniform_int_distribution<int> q(-127, 127), e(0, 2), pos(0, QK8_0 - 1);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t b = 0; b < n / QK8_0; ++b) {
    const float scale = std::ldexp(1.0f, -e(rng));
    for (int j = 0; j < QK8_0; ++j) x[b * QK8_0 + j] = scale * static_cast<float>(q(rng));
    x[b * QK8_0 + pos(rng)] = scale * (q(rng) < 0 ? -127.0f : 127.0f);
  }
  return x;
}

TEST_P(GemmTest, IntegerSumsAreExact) {
  const KernelTable ref = table_of("scalar");
  const KernelTable isa = table_of(GetParam());
  std::mt19937 rng(77);
  for (QType type : {QType::Q8_0, QType::Q4_0, QType::Q4_1}) {
    const TypeKernels* rk = ref.for_type(type);
    const TypeKernels* ik = isa.for_type(type);
    // 1 and 3 tokens: NEON's decode kernels (arm_neon_gemv.h); 9 rows: a whole 8-row tile and an edge.
    for (const auto& [cols, n_tok] :
         {std::pair<int64_t, int>{32, 7}, {96, 1}, {160, 7}, {224, 3}, {512, 7}, {512, 1}}) {
      const int64_t rows = 9;
      const std::vector<uint8_t> w = exact_weights(rng, type, rows, cols);
      size_t arb = 0;
      const std::vector<uint8_t> a = make_act(ref, rk->act, exact_activations(rng, cols * n_tok), cols, n_tok, arb);
      std::vector<float> want(rows * n_tok), got(rows * n_tok);
      const size_t wrb = qtype_row_bytes(type, cols);
      rk->gemm(w.data(), wrb, a.data(), arb, want.data(), rows, 0, rows, n_tok, cols);
      ik->gemm(w.data(), wrb, a.data(), arb, got.data(), rows, 0, rows, n_tok, cols);
      ASSERT_EQ(want, got) << qtype_name(type) << " cols=" << cols << " n_tok=" << n_tok;
      if (packed_gemm(*ik, w, rows, cols, a, arb, got, rows, n_tok)) {
        ASSERT_EQ(want, got) << "packed " << qtype_name(type) << " cols=" << cols << " n_tok=" << n_tok;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, GemmTest, testing::ValuesIn(available_isas()), isa_name);

}  // namespace
}  // namespace rkchat::kernels::test
