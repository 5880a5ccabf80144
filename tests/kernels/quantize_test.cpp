// Activation quantizers of every ISA against the scalar reference: bit-exact blocks.
#include <cstring>

#include "kernel_test_util.h"

namespace rkchat::kernels::test {
namespace {

class QuantizeTest : public testing::TestWithParam<std::string> {};

// Random rows plus blocks that stress the rounding: exact halves (x * id = k + 0.5 with id = 1), zeros, a lone
// nonzero value, tiny and huge magnitudes.
std::vector<float> tricky_row(std::mt19937& rng, int64_t n) {
  std::vector<float> x = random_floats(rng, static_cast<size_t>(n));
  std::uniform_int_distribution<int> k(-126, 125);
  const int64_t nb = n / QK8_0;
  for (int64_t b = 0; b < nb; ++b) {
    float* blk = x.data() + b * QK8_0;
    switch (b % 6) {
      case 0:
        blk[0] = 127.0f;  // d = 1 exactly, so every other element is quantized at an exact half
        for (int j = 1; j < QK8_0; ++j) blk[j] = static_cast<float>(k(rng)) + 0.5f;
        break;
      case 1:
        std::fill(blk, blk + QK8_0, 0.0f);
        break;
      case 2:
        std::fill(blk, blk + QK8_0, 0.0f);
        blk[5] = -3.0f;
        break;
      case 3:
        for (int j = 0; j < QK8_0; ++j) blk[j] *= 1e-30f;
        break;
      case 4:
        for (int j = 0; j < QK8_0; ++j) blk[j] *= 1e6f;
        break;
      default:
        break;
    }
  }
  return x;
}

template <class Block>
void expect_same_blocks(void (*want)(const float*, void*, int64_t), void (*got)(const float*, void*, int64_t)) {
  std::mt19937 rng(42);
  for (int64_t n : {32, 64, 96, 224, 1024, 4128}) {
    const std::vector<float> x = tricky_row(rng, n);
    std::vector<Block> a(static_cast<size_t>(n / QK8_0)), b(a.size());
    want(x.data(), a.data(), n);
    got(x.data(), b.data(), n);
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_EQ(std::memcmp(&a[i], &b[i], sizeof(Block)), 0) << "n=" << n << " block " << i;
  }
}

TEST_P(QuantizeTest, Q8_0MatchesReferenceBitForBit) {
  const KernelTable ref = table_of("scalar");
  const KernelTable isa = table_of(GetParam());
  expect_same_blocks<BlockQ8_0>(ref.quantize_row_q8_0, isa.quantize_row_q8_0);
}

TEST_P(QuantizeTest, Q8_1MatchesReferenceBitForBit) {
  const KernelTable ref = table_of("scalar");
  const KernelTable isa = table_of(GetParam());
  expect_same_blocks<BlockQ8_1>(ref.quantize_row_q8_1, isa.quantize_row_q8_1);
}

// The reference itself, on hand-computed blocks.
TEST(QuantizeRef, Q8_0RoundsHalvesAwayFromZero) {
  const KernelTable ref = table_of("scalar");
  float x[QK8_0] = {};
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 0.49f;
  x[4] = -63.5f;
  BlockQ8_1 b;
  ref.quantize_row_q8_1(x, &b, QK8_0);
  EXPECT_EQ(fp16_to_fp32(b.d), 1.0f);
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], 3);
  EXPECT_EQ(b.qs[2], -3);
  EXPECT_EQ(b.qs[3], 0);
  EXPECT_EQ(b.qs[4], -64);
  EXPECT_EQ(fp16_to_fp32(b.s), 127.0f + 3 - 3 + 0 - 64);
}

INSTANTIATE_TEST_SUITE_P(Isa, QuantizeTest, testing::ValuesIn(available_isas()), isa_name);

}  // namespace
}  // namespace rkchat::kernels::test
