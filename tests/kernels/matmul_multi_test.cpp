// matmul_multi: several matrices over the same activations give, bit for bit, what separate matmul calls give --
// on every ISA, for weight types that share an activation format and for types that need different ones, odd row
// counts (ranges that end inside a register tile), several token counts and thread counts. Plus its workspace size
// and bad arguments.
#include <stdexcept>

#include "kernel_test_util.h"
#include "kernels/kquants.h"
#include "kernels/thread_pool.h"

namespace rkchat::kernels::test {
namespace {

constexpr int64_t kCols = 512;  // a whole number of blocks of every type, K-quants included

struct Weights {
  std::vector<uint8_t> bytes;
  Matrix m;
};

Weights make_weights(std::mt19937& rng, QType type, int64_t rows) {
  Weights w;
  if (type == QType::Q4_K || type == QType::Q6_K) {
    // random_weights has no K-quants: quantize random floats with the reference quantizers instead.
    const auto quantize = type == QType::Q4_K ? quantize_row_q4_k_ref : quantize_row_q6_k_ref;
    const std::vector<float> f = random_floats(rng, static_cast<size_t>(rows * kCols), 0.05f);
    w.bytes.resize(qtype_row_bytes(type, kCols) * static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r)
      quantize(&f[static_cast<size_t>(r * kCols)], &w.bytes[static_cast<size_t>(r) * qtype_row_bytes(type, kCols)],
               kCols);
  } else {
    w.bytes = random_weights(rng, type, rows, kCols);
  }
  w.m = {type, w.bytes.data(), rows, kCols, qtype_row_bytes(type, kCols)};
  return w;
}

// Outputs of the matrices, each [n_tok, ldy] with ldy = rows + 3 (a gap the products must not write), filled with
// a marker value.
std::vector<std::vector<float>> fresh_outputs(const std::vector<Weights>& ws, int n_tok) {
  std::vector<std::vector<float>> ys;
  for (const Weights& w : ws) ys.emplace_back(static_cast<size_t>((w.m.rows + 3) * n_tok), -7.0f);
  return ys;
}

class MatmulMultiTest : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { select_isa(GetParam()); }

  // Runs the matrices of `types` (with the given rows) once through matmul_multi and once as separate matmuls on
  // the same pool, and expects the same bits everywhere.
  void expect_same_as_separate(const std::vector<QType>& types, const std::vector<int64_t>& rows, int n_tok,
                               int threads) {
    std::vector<Weights> ws;
    for (size_t i = 0; i < types.size(); ++i) ws.push_back(make_weights(rng_, types[i], rows[i]));
    const int64_t ldx = kCols + 5;
    const std::vector<float> x = random_floats(rng_, static_cast<size_t>(ldx * n_tok));
    ThreadPool pool(threads);
    Workspace scratch;

    std::vector<std::vector<float>> want = fresh_outputs(ws, n_tok);
    for (size_t i = 0; i < ws.size(); ++i)
      matmul(ws[i].m, x.data(), ldx, want[i].data(), ws[i].m.rows + 3, n_tok, pool, scratch);

    std::vector<std::vector<float>> got = fresh_outputs(ws, n_tok);
    std::vector<MatmulOut> outs;
    for (size_t i = 0; i < ws.size(); ++i) outs.push_back({&ws[i].m, got[i].data(), ws[i].m.rows + 3});
    matmul_multi(outs, x.data(), ldx, n_tok, pool, scratch);

    for (size_t i = 0; i < ws.size(); ++i)
      EXPECT_EQ(got[i], want[i]) << "matrix " << i << " (" << qtype_name(types[i]) << ", " << rows[i]
                                 << " rows) n_tok=" << n_tok << " threads=" << threads;
  }

  // Every token count and thread count, and each matrix in turn with each of the odd row counts.
  void expect_same_as_separate(const std::vector<QType>& types) {
    const std::vector<int64_t> row_counts = {1, 7, 33, 100, 301};
    for (int n_tok : {1, 3, 17}) {
      for (int threads : {1, 2, 3}) {
        for (size_t shift = 0; shift < row_counts.size(); ++shift) {
          std::vector<int64_t> rows;
          for (size_t i = 0; i < types.size(); ++i) rows.push_back(row_counts[(i + shift) % row_counts.size()]);
          expect_same_as_separate(types, rows, n_tok, threads);
        }
      }
    }
  }

  std::mt19937 rng_{21};
};

TEST_P(MatmulMultiTest, SharedQ8_0Activations) { expect_same_as_separate({QType::Q8_0, QType::Q4_0, QType::Q8_0}); }

TEST_P(MatmulMultiTest, SharedQ8_KActivations) { expect_same_as_separate({QType::Q4_K, QType::Q6_K}); }

TEST_P(MatmulMultiTest, DifferentActivationFormats) { expect_same_as_separate({QType::Q8_0, QType::Q4_K}); }

TEST_P(MatmulMultiTest, EveryActivationFormat) {
  expect_same_as_separate({QType::Q4_1, QType::Q6_K, QType::F16, QType::Q4_0});
}

TEST_P(MatmulMultiTest, FloatWeights) { expect_same_as_separate({QType::F32, QType::F16, QType::BF16}); }

TEST_P(MatmulMultiTest, OneMatrixAndEmptyMatrices) {
  expect_same_as_separate({QType::Q8_0}, {100}, 3, 2);
  expect_same_as_separate({QType::Q8_0, QType::Q4_K, QType::Q4_0}, {0, 33, 0}, 3, 2);
}

INSTANTIATE_TEST_SUITE_P(Isa, MatmulMultiTest, testing::ValuesIn(available_isas()), isa_name);

TEST(MatmulMulti, WorkspaceHoldsOneCopyPerActivationFormat) {
  const Matrix q8{QType::Q8_0, nullptr, 4, 1024, 0}, q4{QType::Q4_0, nullptr, 4, 1024, 0};
  const Matrix q4k{QType::Q4_K, nullptr, 4, 1024, 0}, f16{QType::F16, nullptr, 4, 1024, 0};
  const MatmulOut shared[] = {{&q8, nullptr, 0}, {&q4, nullptr, 0}, {&f16, nullptr, 0}};
  EXPECT_EQ(matmul_multi_workspace_bytes(shared, 8), matmul_workspace_bytes(QType::Q8_0, 1024, 8));
  const MatmulOut mixed[] = {{&q8, nullptr, 0}, {&q4k, nullptr, 0}, {&q4, nullptr, 0}};
  EXPECT_EQ(matmul_multi_workspace_bytes(mixed, 8),
            matmul_workspace_bytes(QType::Q8_0, 1024, 8) + matmul_workspace_bytes(QType::Q4_K, 1024, 8));
  const MatmulOut floats[] = {{&f16, nullptr, 0}};
  EXPECT_EQ(matmul_multi_workspace_bytes(floats, 8), 0u);
}

TEST(MatmulMulti, ReservedWorkspaceIsNotGrown) {
  std::mt19937 rng(5);
  const Weights a = make_weights(rng, QType::Q8_0, 40), b = make_weights(rng, QType::Q6_K, 40);
  const int n_tok = 4;
  std::vector<float> ya(40 * n_tok), yb(40 * n_tok);
  const MatmulOut outs[] = {{&a.m, ya.data(), 40}, {&b.m, yb.data(), 40}};
  Workspace ws;
  void* p = ws.get(matmul_multi_workspace_bytes(outs, n_tok));
  const size_t capacity = ws.capacity();
  ThreadPool pool(2);
  const std::vector<float> x = random_floats(rng, static_cast<size_t>(kCols * n_tok));
  matmul_multi(outs, x.data(), kCols, n_tok, pool, ws);
  EXPECT_EQ(ws.capacity(), capacity);
  EXPECT_EQ(ws.get(1), p);
}

TEST(MatmulMulti, RejectsBadArguments) {
  ThreadPool pool(1);
  Workspace ws;
  std::vector<uint8_t> bytes(8192);
  std::vector<float> x(512), y(512);
  const Matrix a{QType::Q8_0, bytes.data(), 4, 256, qtype_row_bytes(QType::Q8_0, 256)};
  const Matrix b{QType::Q8_0, bytes.data(), 4, 128, qtype_row_bytes(QType::Q8_0, 128)};
  const MatmulOut different_cols[] = {{&a, y.data(), 4}, {&b, y.data(), 4}};
  EXPECT_THROW(matmul_multi(different_cols, x.data(), 256, 1, pool, ws), std::invalid_argument);
  EXPECT_THROW(matmul_multi_workspace_bytes(different_cols, 1), std::invalid_argument);
  EXPECT_THROW(matmul_multi({}, x.data(), 256, 1, pool, ws), std::invalid_argument);
  EXPECT_THROW(matmul_multi_workspace_bytes({}, 1), std::invalid_argument);
  const MatmulOut null_matrix[] = {{&a, y.data(), 4}, {nullptr, y.data(), 4}};
  EXPECT_THROW(matmul_multi(null_matrix, x.data(), 256, 1, pool, ws), std::invalid_argument);
  const MatmulOut short_ldy[] = {{&a, y.data(), 4}, {&a, y.data(), 3}};
  EXPECT_THROW(matmul_multi(short_ldy, x.data(), 256, 1, pool, ws), std::invalid_argument);
  const Matrix not_a_weight{QType::Q8_K, bytes.data(), 4, 256, qtype_row_bytes(QType::Q8_K, 256)};
  const MatmulOut bad_type[] = {{&a, y.data(), 4}, {&not_a_weight, y.data(), 4}};
  EXPECT_THROW(matmul_multi(bad_type, x.data(), 256, 1, pool, ws), std::invalid_argument);
}

}  // namespace
}  // namespace rkchat::kernels::test
