// Batches that mix sequences (what a server's scheduler sends) must give each sequence exactly what it would get
// alone, and malformed batches must be refused without touching the cache.
#include <gtest/gtest.h>

#include <filesystem>

#include "gguf/gguf.h"
#include "model/model.h"

namespace {

using rkchat::model::Batch;
using rkchat::model::KvCache;
using rkchat::model::Model;

class BatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::filesystem::path file = std::filesystem::path(RKCHAT_FIXTURES_DIR) / "tiny-qwen3-q8_0.gguf";
    if (!std::filesystem::exists(file)) GTEST_SKIP() << "fixture not found: " << file;
    gguf_ = rkchat::gguf::File::open(file.string());
    model_ = std::make_unique<Model>(*gguf_, 8);
  }
  int n_vocab() const { return model_->hparams().n_vocab; }

  std::unique_ptr<rkchat::gguf::File> gguf_;
  std::unique_ptr<Model> model_;
  rkchat::kernels::ThreadPool pool_{2};
};

TEST_F(BatchTest, InterleavedSequencesMatchSeparateRuns) {
  const std::vector<int32_t> a = {5, 17, 300, 42, 7, 900}, b = {11, 12, 13};
  // Alone: each sequence in its own cache, one token at a time.
  auto alone = [&](const std::vector<int32_t>& toks) {
    KvCache cache(model_->hparams(), 16, 1, rkchat::kernels::KvType::f32);
    std::vector<float> out(static_cast<size_t>(n_vocab()));
    for (size_t i = 0; i < toks.size(); ++i) {
      Batch batch;
      batch.add(toks[i], static_cast<int32_t>(i), 0, true);
      model_->forward(batch, cache, pool_, out.data());
    }
    return out;
  };
  // Together: a's prompt in one batch with b's first tokens, then both decode steps in shared batches.
  KvCache cache(model_->hparams(), 16, 3, rkchat::kernels::KvType::f32);
  Batch batch;
  for (int i = 0; i < 4; ++i) batch.add(a[static_cast<size_t>(i)], i, 2, false);
  batch.add(b[0], 0, 0, false);
  std::vector<float> out(2 * static_cast<size_t>(n_vocab()));
  model_->forward(batch, cache, pool_, out.data());
  for (size_t step = 0; step < 2; ++step) {
    batch.clear();
    batch.add(a[4 + step], 4 + static_cast<int32_t>(step), 2, true);
    batch.add(b[1 + step], 1 + static_cast<int32_t>(step), 0, true);
    model_->forward(batch, cache, pool_, out.data());
  }
  const auto want_a = alone(a), want_b = alone(b);
  for (int v = 0; v < n_vocab(); ++v) {
    ASSERT_NEAR(out[static_cast<size_t>(v)], want_a[static_cast<size_t>(v)], 1e-4f) << "vocab " << v;
    ASSERT_NEAR(out[static_cast<size_t>(n_vocab() + v)], want_b[static_cast<size_t>(v)], 1e-4f) << "vocab " << v;
  }
  EXPECT_EQ(cache.length(2), 6);
  EXPECT_EQ(cache.length(0), 3);
  EXPECT_EQ(cache.length(1), 0);
}

TEST_F(BatchTest, MalformedBatchesAreRefusedAndLeaveTheCache) {
  KvCache cache(model_->hparams(), 4, 1, rkchat::kernels::KvType::f16);
  std::vector<float> out(static_cast<size_t>(n_vocab()));
  Batch ok;
  ok.add(1, 0, 0, true);
  model_->forward(ok, cache, pool_, out.data());
  ASSERT_EQ(cache.length(0), 1);

  Batch bad_token;
  bad_token.add(n_vocab(), 1, 0, true);
  EXPECT_THROW(model_->forward(bad_token, cache, pool_, out.data()), std::invalid_argument);
  Batch gap;
  gap.add(1, 3, 0, true);
  EXPECT_THROW(model_->forward(gap, cache, pool_, out.data()), std::invalid_argument);
  Batch no_slot;
  no_slot.add(1, 0, 1, true);
  EXPECT_THROW(model_->forward(no_slot, cache, pool_, out.data()), std::invalid_argument);
  Batch overflow;
  for (int p = 1; p <= 4; ++p) overflow.add(1, p, 0, p == 4);
  EXPECT_THROW(model_->forward(overflow, cache, pool_, out.data()), std::invalid_argument);
  EXPECT_EQ(cache.length(0), 1);
}

}  // namespace
