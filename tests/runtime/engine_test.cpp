// The serving engine on the fixture models: what a request gets back, the queue bound, cancellation, a prompt that
// does not fit, and (for stepping backends) batching and the prompt cache.
#include "runtime/engine.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tokenizer/tokenizer.h"

namespace rkchat::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kFixtures = RKCHAT_FIXTURES_DIR;

std::vector<int32_t> fixture_tokens() {
  std::ifstream f(kFixtures + "/tokens.txt");
  std::vector<int32_t> ids;
  for (std::string s; std::getline(f, s, ',');) ids.push_back(std::stoi(s));
  return ids;
}

std::vector<int32_t> greedy_ids(const std::string& model) {
  std::ifstream f(kFixtures + "/" + model + ".greedy.txt");
  std::vector<int32_t> ids;
  for (std::string s; std::getline(f, s, ',');) ids.push_back(std::stoi(s));
  return ids;
}

std::unique_ptr<Engine> make_engine(const std::string& model, EngineOptions eo, int n_ctx = 256) {
  backends::LoadOptions lo;
  lo.path = kFixtures + "/" + model;
  lo.threads = 2;
  lo.n_ctx = n_ctx;
  lo.kv_type = "f32";
  lo.max_sequences = eo.parallel;
  return std::make_unique<Engine>(backends::load(lo), eo);
}

RequestOptions greedy(std::vector<int32_t> prompt, int max_tokens) {
  RequestOptions r;
  r.prompt = std::move(prompt);
  r.generate.sampling.temperature = 0;
  r.generate.max_tokens = max_tokens;
  r.generate.ignore_eos = true;
  return r;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kFixtures + "/tiny-qwen3-f32.gguf")) GTEST_SKIP() << "fixtures not found at " << kFixtures;
  }
};

TEST_F(EngineTest, GreedyAnswerMatchesTheReference) {
  // greedy.txt: the 32 ids generated after the first 8 tokens of tokens.txt, argmax fed back.
  for (const std::string model : {"tiny-qwen3-f32", "tiny-llama-f32", "tiny-qwen3-q8_0"}) {
    auto engine = make_engine(model + ".gguf", {.parallel = 1});
    auto ids = fixture_tokens();
    const auto expected = greedy_ids(model);
    ids.resize(8);
    auto r = collect(*engine->submit(greedy(ids, 32)), nullptr);
    EXPECT_EQ(r.answer_ids, expected) << model;
    EXPECT_EQ(r.stats.gen_tokens, 32);
    EXPECT_EQ(r.stats.prompt_tokens, 8);
  }
}

TEST_F(EngineTest, PromptThatDoesNotFitIsRefusedWithItsLength) {
  auto engine = make_engine("tiny-qwen3-f32.gguf", {.parallel = 1}, 64);
  std::vector<int32_t> ids(64, 5);
  try {
    engine->submit(greedy(ids, 4));
    FAIL() << "a 64-token prompt in a 64-token context was accepted";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::bad_request);
    EXPECT_EQ(e.n_prompt_tokens(), 64);
    EXPECT_EQ(e.n_ctx(), 64);
  }
  ids.resize(63);
  EXPECT_EQ(collect(*engine->submit(greedy(ids, 4)), nullptr).answer_ids.size(), 1u);  // room for one token only
  EXPECT_THROW(engine->submit(greedy({}, 4)), EngineError);
  try {
    engine->submit(greedy({1, 2, 5000}, 4));
    FAIL() << "an id outside the vocabulary was accepted";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::bad_request);
  }
}

}  // namespace
}  // namespace rkchat::runtime
