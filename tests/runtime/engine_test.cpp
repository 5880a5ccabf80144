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

// Prompts of several lengths (some under and some over the prefill kernels' minimum batch), from tokens.txt.
std::vector<std::vector<int32_t>> four_prompts() {
  const auto t = fixture_tokens();
  std::vector<std::vector<int32_t>> out;
  for (int n : {5, 13, 27, 32}) out.emplace_back(t.begin() + (32 - n), t.end());
  return out;
}

RequestOptions seeded(std::vector<int32_t> prompt, int max_tokens, uint64_t seed) {
  RequestOptions r = greedy(std::move(prompt), max_tokens);
  r.generate.sampling.temperature = 0.9f;
  r.generate.sampling.top_k = 0;
  r.generate.sampling.min_p = 0;
  r.generate.sampling.seed = seed;
  return r;
}

TEST_F(EngineTest, SameIdsAloneAndBesideThreeOthers) {
  for (const std::string model : {"tiny-qwen3-f32", "tiny-qwen3-q8_0", "tiny-qwen3-256-q4_k_m", "tiny-llama-q4_1"}) {
    const auto prompts = four_prompts();
    for (bool sampled : {false, true}) {
      auto opts = [&](size_t i) {
        const int n = 20 + 7 * static_cast<int>(i);  // they leave at different steps
        return sampled ? seeded(prompts[i], n, 100 + i) : greedy(prompts[i], n);
      };
      // Small prompt chunks (9): prompts are computed in pieces beside the others' decode rows; 256: the longer
      // prompts in one chunk of 27 or 32 rows, which the prefill kernels take (from 24 rows on AVX-512 VNNI).
      const int chunk = model == "tiny-qwen3-q8_0" ? 256 : 9;
      std::vector<std::vector<int32_t>> alone;
      {
        auto engine = make_engine(model + ".gguf", {.parallel = 1, .batch_tokens = chunk});
        for (size_t i = 0; i < prompts.size(); ++i)
          alone.push_back(collect(*engine->submit(opts(i)), nullptr).answer_ids);
      }
      auto engine = make_engine(model + ".gguf", {.parallel = 4, .queue = 4, .batch_tokens = chunk});
      std::vector<std::shared_ptr<Request>> reqs;
      for (size_t i = 0; i < prompts.size(); ++i) reqs.push_back(engine->submit(opts(i)));
      for (size_t i = 0; i < prompts.size(); ++i) {
        EXPECT_EQ(collect(*reqs[i], nullptr).answer_ids, alone[i])
            << model << " request " << i << " sampled " << sampled;
      }
    }
  }
}

TEST_F(EngineTest, JoinsAndLeavesWhileOthersGenerate) {
  const auto prompts = four_prompts();
  std::vector<int32_t> long_alone, short_alone;
  {
    auto e1 = make_engine("tiny-qwen3-f32.gguf", {.parallel = 1}, 4096);
    long_alone = collect(*e1->submit(greedy(prompts[3], 1500)), nullptr).answer_ids;
    short_alone = collect(*e1->submit(greedy(prompts[1], 3)), nullptr).answer_ids;
  }
  auto engine = make_engine("tiny-qwen3-f32.gguf", {.parallel = 2}, 4096);
  auto a = engine->submit(greedy(prompts[3], 1500));
  std::vector<int32_t> got;
  for (auto& u : a->wait(5s)) got.insert(got.end(), u.tokens.begin(), u.tokens.end());
  ASSERT_FALSE(got.empty());
  // Short requests join and leave one after the other while A generates.
  for (int i = 0; i < 4; ++i) {
    EXPECT_FALSE(a->finished()) << "A ended before request " << i << " joined: make it longer";
    EXPECT_EQ(collect(*engine->submit(greedy(prompts[1], 3)), nullptr).answer_ids, short_alone) << i;
  }
  const auto rest = collect(*a, nullptr).answer_ids;
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(got, long_alone);
}

TEST_F(EngineTest, CancelFreesTheSlotWithinAStep) {
  auto engine = make_engine("tiny-qwen3-f32.gguf", {.parallel = 1, .queue = 2}, 4096);
  auto opts = greedy(four_prompts()[0], -1);  // until the context is full: it would run for a long time
  auto a = engine->submit(opts);
  auto queued = engine->submit(opts);  // waits for the slot
  ASSERT_FALSE(a->wait(5s).empty());
  queued->cancel();
  a->cancel();
  for (auto* r : {a.get(), queued.get()}) {
    std::optional<Update> last;
    const auto t0 = std::chrono::steady_clock::now();
    while (!last && std::chrono::steady_clock::now() - t0 < 5s)
      for (auto& u : r->wait(100ms))
        if (u.done) last = u;
    ASSERT_TRUE(last);
    EXPECT_EQ(last->stats.stop, backends::StopReason::aborted);
    EXPECT_FALSE(last->error);
  }
  EXPECT_EQ(engine->stats().active, 0);
  EXPECT_EQ(engine->stats().queued, 0);
}

// A consumer that reads late still learns when each update was queued (bench --parallel times tokens by it, so a
// reader thread starved of CPU cannot squeeze its tokens into one instant).
TEST_F(EngineTest, UpdatesCarryWhenTheyWereQueued) {
  auto engine = make_engine("tiny-qwen3-f32.gguf", {.parallel = 1});
  const auto submitted = std::chrono::steady_clock::now();
  auto r = engine->submit(greedy(four_prompts()[0], 6));
  for (const auto t0 = std::chrono::steady_clock::now(); !r->finished() && std::chrono::steady_clock::now() - t0 < 30s;)
    std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(r->finished());
  std::this_thread::sleep_for(50ms);  // read well after the engine is done
  const auto read_at = std::chrono::steady_clock::now();
  const auto updates = r->wait(1s);
  ASSERT_FALSE(updates.empty());
  for (size_t i = 0; i < updates.size(); ++i) {
    EXPECT_GE(updates[i].queued_at, submitted);
    EXPECT_LE(updates[i].queued_at + 50ms, read_at) << "update " << i << " stamped when read, not when queued";
    if (i > 0) {
      EXPECT_GE(updates[i].queued_at, updates[i - 1].queued_at);
    }
  }
}

TEST_F(EngineTest, FullQueueRefusesAsOverloaded) {
  auto engine = make_engine("tiny-qwen3-f32.gguf", {.parallel = 1, .queue = 1}, 4096);
  auto opts = greedy(four_prompts()[0], -1);
  auto a = engine->submit(opts);
  auto b = engine->submit(opts);
  try {
    engine->submit(opts);
    FAIL() << "a third request was queued behind one slot and a queue of one";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::overloaded);
  }
  EXPECT_EQ(engine->stats().refused, 1u);
  a->cancel();
  b->cancel();
}

TEST_F(EngineTest, NextTurnReusesTheSlotHoldingItsPrefix) {
  auto engine = make_engine("tiny-qwen3-f32.gguf", {.parallel = 2});
  const auto prompts = four_prompts();
  auto first = collect(*engine->submit(greedy(prompts[3], 6)), nullptr);
  collect(*engine->submit(greedy(prompts[1], 6)), nullptr);  // takes the other slot: it shares nothing
  // The next turn: the whole conversation so far plus new tokens.
  auto next = prompts[3];
  next.insert(next.end(), first.answer_ids.begin(), first.answer_ids.end());
  next.insert(next.end(), {7, 8, 9});
  auto second = collect(*engine->submit(greedy(next, 4)), nullptr);
  // The slot holds the prompt and the answer but its last token (never fed back).
  EXPECT_EQ(second.stats.cached_tokens, 32 + 5);
  EXPECT_EQ(second.stats.prompt_tokens, 32 + 6 + 3);
  EXPECT_EQ(engine->stats().prompt_cache_hits, 1u);
  EXPECT_EQ(engine->stats().cached_tokens, 37u);
  auto fresh = make_engine("tiny-qwen3-f32.gguf", {.parallel = 1});
  EXPECT_EQ(second.answer_ids, collect(*fresh->submit(greedy(next, 4)), nullptr).answer_ids);
}

TEST_F(EngineTest, NewConversationSharingOnlyAHeaderLeavesAnotherConversationsSlot) {
  auto engine = make_engine("tiny-qwen3-f32.gguf", {.parallel = 3});
  const auto prompts = four_prompts();
  auto first = collect(*engine->submit(greedy(prompts[3], 6)), nullptr);
  // Another conversation with the same first tokens (as a chat template's header): it must take an empty slot,
  // not the one holding the first conversation, although that one shares the longest prefix.
  auto other = std::vector<int32_t>(prompts[3].begin(), prompts[3].begin() + 4);
  other.insert(other.end(), prompts[1].begin(), prompts[1].end());
  collect(*engine->submit(greedy(other, 6)), nullptr);
  auto next = prompts[3];
  next.insert(next.end(), first.answer_ids.begin(), first.answer_ids.end());
  next.insert(next.end(), {7, 8, 9});
  EXPECT_EQ(collect(*engine->submit(greedy(next, 4)), nullptr).stats.cached_tokens, 32 + 5);
}

TEST_F(EngineTest, SamePromptTwiceIsComputedOnceAndCopied) {
  auto engine = make_engine("tiny-qwen3-f32.gguf", {.parallel = 3, .batch_tokens = 8});
  const auto p = fixture_tokens();
  auto a = engine->submit(greedy(p, 10));
  auto b = engine->submit(greedy(p, 10));
  auto ra = collect(*a, nullptr), rb = collect(*b, nullptr);
  EXPECT_EQ(ra.stats.cached_tokens + rb.stats.cached_tokens, 31);  // one computed it, the other copied all but one
  EXPECT_EQ(ra.answer_ids, rb.answer_ids);
  // A prompt that continues one a busy slot holds copies that prefix into its own slot.
  auto busy = engine->submit(greedy(p, 200));
  ASSERT_FALSE(busy->wait(5s).empty());
  auto q = p;
  q.insert(q.end(), {3, 4, 5});
  auto c = collect(*engine->submit(greedy(q, 10)), nullptr);
  EXPECT_EQ(c.stats.cached_tokens, 32);
  busy->cancel();
  auto fresh = make_engine("tiny-qwen3-f32.gguf", {.parallel = 1});
  EXPECT_EQ(c.answer_ids, collect(*fresh->submit(greedy(q, 10)), nullptr).answer_ids);
}

}  // namespace
}  // namespace rkchat::runtime
