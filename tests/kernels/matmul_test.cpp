// The matmul driver: thread counts do not change results, the f32 reference matches a double-precision product,
// dequantization agrees with the quantized products, bad arguments throw, ISA selection.
#include <stdexcept>

#include "kernel_test_util.h"
#include "kernels/thread_pool.h"

namespace rkchat::kernels::test {
namespace {

struct Weights {
  std::vector<uint8_t> bytes;
  Matrix m;
};

Weights make_weights(std::mt19937& rng, QType type, int64_t rows, int64_t cols) {
  Weights w;
  w.bytes = random_weights(rng, type, rows, cols);
  w.m = {type, w.bytes.data(), rows, cols, qtype_row_bytes(type, cols)};
  return w;
}

std::vector<float> run_matmul(const Matrix& w, const std::vector<float>& x, int n_tok, int threads) {
  ThreadPool pool(threads);
  Workspace ws;
  std::vector<float> y(static_cast<size_t>(w.rows * n_tok));
  matmul(w, x.data(), w.cols, y.data(), w.rows, n_tok, pool, ws);
  return y;
}

class MatmulTest : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { select_isa(GetParam()); }
};

TEST_P(MatmulTest, SameResultWithOneTwoOrThreeThreads) {
  std::mt19937 rng(3);
  for (QType type : {QType::Q8_0, QType::Q4_0, QType::Q4_1, QType::F16, QType::F32}) {
    for (int n_tok : {1, 5, 70}) {
      const Weights w = make_weights(rng, type, 301, 1024);
      const std::vector<float> x = random_floats(rng, static_cast<size_t>(1024 * n_tok));
      const std::vector<float> one = run_matmul(w.m, x, n_tok, 1);
      EXPECT_EQ(one, run_matmul(w.m, x, n_tok, 2)) << qtype_name(type) << " n_tok=" << n_tok;
      EXPECT_EQ(one, run_matmul(w.m, x, n_tok, 3)) << qtype_name(type) << " n_tok=" << n_tok;
    }
  }
}

TEST_P(MatmulTest, StridedActivationsAndOutputs) {
  std::mt19937 rng(4);
  const Weights w = make_weights(rng, QType::Q8_0, 37, 256);
  const int n_tok = 3;
  const int64_t ldx = 300, ldy = 50;
  std::vector<float> x = random_floats(rng, static_cast<size_t>(ldx * n_tok));
  std::vector<float> packed(static_cast<size_t>(256 * n_tok));
  for (int t = 0; t < n_tok; ++t) std::copy_n(x.begin() + t * ldx, 256, packed.begin() + t * 256);
  const std::vector<float> want = run_matmul(w.m, packed, n_tok, 2);
  ThreadPool pool(2);
  Workspace ws;
  std::vector<float> y(static_cast<size_t>(ldy * n_tok), 7.0f);
  matmul(w.m, x.data(), ldx, y.data(), ldy, n_tok, pool, ws);
  for (int t = 0; t < n_tok; ++t) {
    for (int64_t r = 0; r < ldy; ++r) {
      if (r < w.m.rows) {
        EXPECT_EQ(y[t * ldy + r], want[t * w.m.rows + r]);
      } else {
        EXPECT_EQ(y[t * ldy + r], 7.0f);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, MatmulTest, testing::ValuesIn(available_isas()), isa_name);

TEST(MatmulRef, F32MatchesDoublePrecisionProduct) {
  select_isa("scalar");
  std::mt19937 rng(11);
  for (int64_t cols : {1, 31, 1000, 4096}) {
    const Weights w = make_weights(rng, QType::F32, 17, cols);
    const int n_tok = 3;
    const std::vector<float> x = random_floats(rng, static_cast<size_t>(cols * n_tok));
    const std::vector<float> y = run_matmul(w.m, x, n_tok, 2);
    const auto* wf = reinterpret_cast<const float*>(w.bytes.data());
    for (int t = 0; t < n_tok; ++t) {
      for (int64_t r = 0; r < w.m.rows; ++r) {
        double want = 0, mag = 0;
        for (int64_t c = 0; c < cols; ++c) {
          want += static_cast<double>(wf[r * cols + c]) * static_cast<double>(x[t * cols + c]);
          mag += std::fabs(static_cast<double>(wf[r * cols + c]) * static_cast<double>(x[t * cols + c]));
        }
        // A float sum of n terms is within about n * 2^-24 of the exact sum, relative to the sum of |terms|.
        EXPECT_NEAR(y[t * w.m.rows + r], want, mag * static_cast<double>(cols) * 6e-8 + 1e-30);
      }
    }
  }
}

// The quantized products equal the dot product of the dequantized rows (up to float rounding): checks that the
// gemm and dequantize_row read the block layouts the same way.
TEST(MatmulRef, AgreesWithDequantizedRows) {
  const KernelTable ref = table_of("scalar");
  std::mt19937 rng(12);
  const int64_t cols = 320;
  for (QType type : {QType::Q8_0, QType::Q4_0, QType::Q4_1, QType::F16, QType::BF16}) {
    const Weights w = make_weights(rng, type, 4, cols);
    const TypeKernels* k = ref.for_type(type);
    const std::vector<float> x = random_floats(rng, cols);
    std::vector<uint8_t> a(qtype_row_bytes(k->act, cols));
    if (k->act == QType::Q8_0) ref.quantize_row_q8_0(x.data(), a.data(), cols);
    if (k->act == QType::Q8_1) ref.quantize_row_q8_1(x.data(), a.data(), cols);
    if (k->act == QType::F32) std::memcpy(a.data(), x.data(), a.size());
    std::vector<float> y(4), wd(cols), ad(cols);
    k->gemm(w.bytes.data(), w.m.row_bytes, a.data(), a.size(), y.data(), 4, 0, 4, 1, cols);
    dequantize_row(k->act, a.data(), ad.data(), cols);
    for (int64_t r = 0; r < 4; ++r) {
      dequantize_row(type, w.bytes.data() + r * w.m.row_bytes, wd.data(), cols);
      double want = 0, mag = 0;
      for (int64_t c = 0; c < cols; ++c) {
        want += static_cast<double>(wd[c]) * static_cast<double>(ad[c]);
        mag += std::fabs(static_cast<double>(wd[c]) * static_cast<double>(ad[c]));
      }
      // Q8_1 stores s = d * sum(q) as fp16, so Q4_1 carries that rounding too.
      const double tol = mag * (type == QType::Q4_1 ? 2e-3 : 1e-5);
      EXPECT_NEAR(y[r], want, tol) << qtype_name(type) << " row " << r;
    }
  }
}

TEST(Matmul, RejectsBadArguments) {
  ThreadPool pool(1);
  Workspace ws;
  std::vector<uint8_t> bytes(4096);
  std::vector<float> x(256), y(256);
  const Matrix partial_block{QType::Q8_0, bytes.data(), 2, 48, qtype_row_bytes(QType::Q8_0, 32)};
  EXPECT_THROW(matmul(partial_block, x.data(), 48, y.data(), 2, 1, pool, ws), std::invalid_argument);
  const Matrix short_rows{QType::Q8_0, bytes.data(), 2, 64, 10};
  EXPECT_THROW(matmul(short_rows, x.data(), 64, y.data(), 2, 1, pool, ws), std::invalid_argument);
  const Matrix not_a_weight{QType::Q8_1, bytes.data(), 2, 64, qtype_row_bytes(QType::Q8_1, 64)};
  EXPECT_THROW(matmul(not_a_weight, x.data(), 64, y.data(), 2, 1, pool, ws), std::invalid_argument);
  const Matrix ok{QType::F32, bytes.data(), 2, 64, 256};
  EXPECT_THROW(matmul(ok, x.data(), 63, y.data(), 2, 1, pool, ws), std::invalid_argument);
  EXPECT_THROW(dequantize_row(QType::Q4_0, bytes.data(), y.data(), 33), std::invalid_argument);
}

TEST(Matmul, WorkspaceSizeAndReuse) {
  EXPECT_EQ(matmul_workspace_bytes(QType::F16, 1024, 8), 0u);
  EXPECT_EQ(matmul_workspace_bytes(QType::Q8_0, 1024, 8), 8u * 32 * sizeof(BlockQ8_0));
  EXPECT_EQ(matmul_workspace_bytes(QType::Q4_1, 64, 3), 3u * 2 * sizeof(BlockQ8_1));
  Workspace ws;
  void* p = ws.get(1000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  EXPECT_GE(ws.capacity(), 1000u);
  EXPECT_EQ(ws.get(10), p);  // no reallocation when it fits
}

TEST(Dispatch, IsaSelection) {
  const std::vector<std::string> isas = available_isas();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.front(), "scalar");
  for (const std::string& isa : isas) {
    select_isa(isa);
    EXPECT_EQ(active_isa(), isa);
  }
  EXPECT_THROW(select_isa("bogus"), std::runtime_error);
#if defined(__x86_64__)
  EXPECT_THROW(select_isa("neon-dot"), std::runtime_error);
#else
  EXPECT_THROW(select_isa("avx2"), std::runtime_error);
#endif
  EXPECT_FALSE(cpu_features().summary().empty());
}

}  // namespace
}  // namespace rkchat::kernels::test
