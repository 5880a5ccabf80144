// The engine against reference outputs computed by llama.cpp on the same files (../shared/fixtures/README.md):
// logits of 32 tokens decoded as one batch, and 32 greedy ids decoded one at a time after an 8-token prefix,
// for every fixture model, every ISA this machine runs, and 1 or 2 threads; the weights repacked at load where the
// ISA does that, as the CPU backend loads them.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "sampling/sampler.h"

namespace {

namespace fs = std::filesystem;
using rkchat::model::Batch;
using rkchat::model::KvCache;
using rkchat::model::Model;

struct Fixture {
  const char* model;
  double max_rel_err;  // the bound: 1e-4 for F32 models, 5e-3 for quantized ones
};

const Fixture kFixtures[] = {
    {"tiny-qwen3-f32", 1e-4},      {"tiny-llama-f32", 1e-4},        {"tiny-qwen2-f32", 1e-4},
    {"tiny-qwen3-256-f32", 1e-4},  {"tiny-qwen3-q8_0", 5e-3},       {"tiny-qwen3-q4_0", 5e-3},
    {"tiny-llama-q4_1", 5e-3},     {"tiny-qwen3-256-q4_k_m", 5e-3}, {"tiny-qwen3-256-q5_k_m", 5e-3},
    {"tiny-qwen3-256-q6_k", 5e-3},
};

fs::path fixtures_dir() { return RKCHAT_FIXTURES_DIR; }

std::vector<int32_t> read_ids(const fs::path& p) {
  std::ifstream in(p);
  std::vector<int32_t> ids;
  std::string item;
  while (std::getline(in, item, ',')) ids.push_back(std::stoi(item));
  return ids;
}

std::vector<float> read_f32(const fs::path& p) {
  std::ifstream in(p, std::ios::binary | std::ios::ate);
  std::vector<float> v(static_cast<size_t>(in.tellg()) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  return v;
}

double rel_l2(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double w = want[i], d = static_cast<double>(got[i]) - w;
    num += d * d;
    den += w * w;
  }
  return std::sqrt(num / den);
}

struct Case {
  Fixture fixture;
  std::string isa;
  int threads;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.fixture.model << " on " << c.isa << " with " << c.threads << " threads";
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const auto& f : kFixtures)
    for (const auto& isa : rkchat::kernels::available_isas())
      for (int t : {1, 2}) cases.push_back({f, isa, t});
  return cases;
}

class FixtureTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const fs::path file = fixtures_dir() / (std::string(GetParam().fixture.model) + ".gguf");
    if (!fs::exists(file)) GTEST_SKIP() << "fixture not found: " << file << " (../shared/fixtures is absent)";
    rkchat::kernels::select_isa(GetParam().isa);
    gguf_ = rkchat::gguf::File::open(file.string());
    // 24 < 32: the batch splits into 24 tokens (prefill kernels) and 8 (decode tiles).
    model_ = std::make_unique<Model>(*gguf_, 24);
    pool_ = std::make_unique<rkchat::kernels::ThreadPool>(GetParam().threads);
    model_->repack_weights(*pool_);  // as the CPU backend loads it: NEON reads Q8_0/Q4_0/Q4_1 repacked
    tokens_ = read_ids(fixtures_dir() / "tokens.txt");
  }

  std::unique_ptr<rkchat::gguf::File> gguf_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<rkchat::kernels::ThreadPool> pool_;
  std::vector<int32_t> tokens_;
};

TEST_P(FixtureTest, BatchLogitsMatchReference) {
  const int n_vocab = model_->hparams().n_vocab;
  KvCache cache(model_->hparams(), 64, 1, rkchat::kernels::KvType::f32);
  Batch batch;
  for (size_t i = 0; i < tokens_.size(); ++i) batch.add(tokens_[i], static_cast<int32_t>(i), 0, true);
  std::vector<float> logits(tokens_.size() * static_cast<size_t>(n_vocab));
  model_->forward(batch, cache, *pool_, logits.data());
  const auto want = read_f32(fixtures_dir() / (std::string(GetParam().fixture.model) + ".logits.f32"));
  ASSERT_EQ(logits.size(), want.size());
  const double err = rel_l2(logits, want);
  EXPECT_LT(err, GetParam().fixture.max_rel_err) << "relative L2 error of the logits";
  RecordProperty("rel_l2", ::testing::PrintToString(err));
}

TEST_P(FixtureTest, GreedyIdsMatchReference) {
  const int n_vocab = model_->hparams().n_vocab;
  const auto want = read_ids(fixtures_dir() / (std::string(GetParam().fixture.model) + ".greedy.txt"));
  KvCache cache(model_->hparams(), 64, 1, rkchat::kernels::KvType::f32);
  std::vector<float> logits(static_cast<size_t>(n_vocab));
  Batch batch;
  for (int i = 0; i < 8; ++i) batch.add(tokens_[static_cast<size_t>(i)], i, 0, i == 7);
  model_->forward(batch, cache, *pool_, logits.data());
  std::vector<int32_t> got;
  for (size_t step = 0; step < want.size(); ++step) {
    got.push_back(rkchat::sampling::argmax(logits));
    batch.clear();
    batch.add(got.back(), 8 + static_cast<int32_t>(step), 0, true);
    model_->forward(batch, cache, *pool_, logits.data());
  }
  EXPECT_EQ(got, want);
}

// The F16 and Q8_0 caches against the exact F32 one on the active ISA: the logits of the 32-token batch (whose
// attention reads its rows back from the cache), and the logits and greedy ids of each step of decoding the
// reference's greedy ids one at a time through the cache (fed the same ids, so that one flipped near-tie does not
// send the rest down another path). Bounds, from these random-weight models (measured on AVX-512): Q8_0 moves
// the batch logits of the F32 models by at most 1.3% and those of the quantized ones by at most 3.9% (their 8-bit
// activations amplify any change: the F16 cache moves them by 2.8% too); at most 3 of 33 ids flip. A cache that
// scaled every block of a head by its first block's scale moved them by 40% and flipped 18 or more.
class KvTypeTest : public ::testing::TestWithParam<std::tuple<Fixture, rkchat::kernels::KvType>> {
 protected:
  void SetUp() override {
    const fs::path file = fixtures_dir() / (std::string(std::get<0>(GetParam()).model) + ".gguf");
    if (!fs::exists(file)) GTEST_SKIP() << "fixture not found: " << file << " (../shared/fixtures is absent)";
    gguf_ = rkchat::gguf::File::open(file.string());
    model_ = std::make_unique<Model>(*gguf_, 24);
    pool_ = std::make_unique<rkchat::kernels::ThreadPool>(2);
    tokens_ = read_ids(fixtures_dir() / "tokens.txt");
  }

  std::vector<float> batch_logits(rkchat::kernels::KvType type) {
    KvCache cache(model_->hparams(), 64, 1, type);
    Batch batch;
    for (size_t i = 0; i < tokens_.size(); ++i) batch.add(tokens_[i], static_cast<int32_t>(i), 0, true);
    std::vector<float> logits(tokens_.size() * static_cast<size_t>(model_->hparams().n_vocab));
    model_->forward(batch, cache, *pool_, logits.data());
    return logits;
  }

  // The logits of each step of decoding `ids` one at a time through the cache after the 8-token prefix.
  std::vector<std::vector<float>> decode_steps(rkchat::kernels::KvType type, const std::vector<int32_t>& ids) {
    KvCache cache(model_->hparams(), 64, 1, type);
    std::vector<std::vector<float>> steps(ids.size() + 1,
                                          std::vector<float>(static_cast<size_t>(model_->hparams().n_vocab)));
    Batch batch;
    for (int i = 0; i < 8; ++i) batch.add(tokens_[static_cast<size_t>(i)], i, 0, i == 7);
    model_->forward(batch, cache, *pool_, steps[0].data());
    for (size_t step = 0; step < ids.size(); ++step) {
      batch.clear();
      batch.add(ids[step], 8 + static_cast<int32_t>(step), 0, true);
      model_->forward(batch, cache, *pool_, steps[step + 1].data());
    }
    return steps;
  }

  std::unique_ptr<rkchat::gguf::File> gguf_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<rkchat::kernels::ThreadPool> pool_;
  std::vector<int32_t> tokens_;
};

TEST_P(KvTypeTest, StaysCloseToTheF32Cache) {
  const auto [fixture, type] = GetParam();
  const bool quantized = fixture.max_rel_err > 1e-4;
  const double batch_bound = quantized ? 0.06 : 0.03, step_bound = quantized ? 0.08 : 0.04;
  EXPECT_LT(rel_l2(batch_logits(type), batch_logits(rkchat::kernels::KvType::f32)), batch_bound)
      << "relative L2 distance of the batch logits";
  const auto ids = read_ids(fixtures_dir() / (std::string(fixture.model) + ".greedy.txt"));
  const auto want = decode_steps(rkchat::kernels::KvType::f32, ids), got = decode_steps(type, ids);
  int same = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_LT(rel_l2(got[i], want[i]), step_bound) << "relative L2 distance of the logits of decode step " << i;
    same += rkchat::sampling::argmax(got[i]) == rkchat::sampling::argmax(want[i]);
  }
  EXPECT_GE(same, static_cast<int>(want.size()) - 4) << "greedy ids equal to the F32 cache's";
}

std::string kv_case_name(const ::testing::TestParamInfo<std::tuple<Fixture, rkchat::kernels::KvType>>& info) {
  std::string s =
      std::string(std::get<0>(info.param).model) + "_" + rkchat::kernels::kv_type_name(std::get<1>(info.param));
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(KvTypes, KvTypeTest,
                         ::testing::Combine(::testing::ValuesIn(kFixtures),
                                            ::testing::Values(rkchat::kernels::KvType::f16,
                                                              rkchat::kernels::KvType::q8_0)),
                         kv_case_name);

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string s =
      std::string(info.param.fixture.model) + "_" + info.param.isa + "_t" + std::to_string(info.param.threads);
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTest, ::testing::ValuesIn(all_cases()), case_name);

}  // namespace
