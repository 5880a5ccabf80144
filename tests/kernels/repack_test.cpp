// Layout::rows4, the load-time repack (repack.h): a repacked matrix reads as the stored one. Its rows dequantize to
// the same floats, the scalar reference on it equals the stored layout's bit for bit, and on every ISA that offers
// the repack, matmul over the packed matrix (threads, row grains, the last group's missing rows) matches matmul over
// the stored one within the rounding tolerance of gemm_test.cpp. The packed kernels themselves are held to the
// reference on random data there (compare, IntegerSumsAreExact).
#include "kernels/repack.h"

#include "kernel_test_util.h"
#include "kernels/thread_pool.h"

namespace rkchat::kernels::test {
namespace {

constexpr QType kPackable[] = {QType::Q8_0, QType::Q4_0, QType::Q4_1};

decltype(TypeKernels::pack) scalar_pack(QType type) {
  if (type == QType::Q8_0) return pack_rows4_q8_0;
  if (type == QType::Q4_0) return pack_rows4_q4_0;
  return pack_rows4_q4_1;
}

std::vector<float> matrix_rows(const Matrix& m) {
  std::vector<float> out(static_cast<size_t>(m.rows * m.cols));
  for (int64_t r = 0; r < m.rows; ++r) dequantize_matrix_row(m, r, out.data() + r * m.cols);
  return out;
}

TEST(Repack, RowsAndScalarGemmEqualTheStoredLayout) {
  const KernelTable ref = table_of("scalar");
  std::mt19937 rng(17);
  for (QType type : kPackable) {
    for (int64_t rows : {1, 4, 5, 11}) {
      const int64_t cols = 96;
      const int n_tok = 3;
      const std::vector<uint8_t> w = random_weights(rng, type, rows, cols);
      const size_t wrb = qtype_row_bytes(type, cols);
      const int64_t groups = (rows + 3) / 4;
      std::vector<uint8_t> packed(static_cast<size_t>(groups * 4) * wrb);
      scalar_pack(type)(w.data(), wrb, rows, cols, 0, groups, packed.data());
      const Matrix stored{type, w.data(), rows, cols, wrb};
      Matrix p = stored;
      p.data = packed.data();
      p.layout = Layout::rows4;
      EXPECT_EQ(matrix_rows(p), matrix_rows(stored)) << qtype_name(type) << " rows=" << rows;

      const TypeKernels& k = *ref.for_type(type);
      ASSERT_EQ(k.packed, Layout::rows4);
      size_t arb = qtype_row_bytes(k.act, cols);
      std::vector<uint8_t> a(arb * n_tok);
      const std::vector<float> x = random_floats(rng, static_cast<size_t>(cols * n_tok));
      for (int t = 0; t < n_tok; ++t) {
        auto* dst = a.data() + t * arb;
        if (k.act == QType::Q8_0) ref.quantize_row_q8_0(x.data() + t * cols, dst, cols);
        if (k.act == QType::Q8_1) ref.quantize_row_q8_1(x.data() + t * cols, dst, cols);
      }
      std::vector<float> want(static_cast<size_t>(rows * n_tok)), got(want.size());
      k.gemm(w.data(), wrb, a.data(), arb, want.data(), rows, 0, rows, n_tok, cols);
      k.gemm_packed(packed.data(), wrb, a.data(), arb, got.data(), rows, 0, rows, n_tok, cols);
      EXPECT_EQ(got, want) << qtype_name(type) << " rows=" << rows;
    }
  }
}

class RepackTest : public testing::TestWithParam<std::string> {};

TEST_P(RepackTest, MatmulOnThePackedMatrixMatchesTheStoredOne) {
  select_isa(GetParam());
  std::mt19937 rng(23);
  ThreadPool pool(3);
  Workspace ws;
  for (QType type : kPackable) {
    // 101 rows: grains of 48 rows over 3 threads, and a last group of 1 row; 9 and 20 tokens: the prefill tiles.
    for (const auto& [rows, n_tok] : {std::pair<int64_t, int>{101, 1}, {101, 3}, {101, 20}, {7, 12}, {52, 9}}) {
      const int64_t cols = 160;
      const std::vector<uint8_t> w = random_weights(rng, type, rows, cols);
      const Matrix stored{type, w.data(), rows, cols, qtype_row_bytes(type, cols)};
      const size_t n = packed_bytes(stored);
      if (n == 0) {
        EXPECT_EQ(kernel_table().for_type(type)->pack, nullptr) << GetParam();
        continue;
      }
      std::vector<uint8_t> mem(n);
      const Matrix p = pack_matrix(stored, mem.data(), pool);
      EXPECT_EQ(p.layout, kernel_table().for_type(type)->packed);
      EXPECT_EQ(matrix_rows(p), matrix_rows(stored));
      const std::vector<float> x = random_floats(rng, static_cast<size_t>(cols * n_tok));
      std::vector<float> want(static_cast<size_t>(rows * n_tok)), got(want.size());
      matmul(stored, x.data(), cols, want.data(), rows, n_tok, pool, ws);
      matmul(p, x.data(), cols, got.data(), rows, n_tok, pool, ws);
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-4 * (std::fabs(static_cast<double>(want[i])) + 1.0))
            << qtype_name(type) << " at " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, RepackTest, testing::ValuesIn(available_isas()), isa_name);

}  // namespace
}  // namespace rkchat::kernels::test
