// Embeddings through the serving engine, checked against llama.cpp's reference logits of the fixture model: its
// LM head is tied to the token embedding (W, [n_vocab, n_embd]) and logits are linear in the final hidden state h,
// so W * embedding must be a positive multiple of the reference logits of the pooled rows (the last row, the
// first, or the mean of all rows). With 1024 rows of W against 64 columns this pins the vector down.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "../gguf/gguf_edit.h"
#include "gguf/gguf.h"
#include "runtime/engine.h"

namespace rkchat::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kFixtures = RKCHAT_FIXTURES_DIR;
const std::string kModel = kFixtures + "/tiny-qwen3-f32.gguf";

std::vector<int32_t> fixture_tokens() {
  std::ifstream f(kFixtures + "/tokens.txt");
  std::vector<int32_t> ids;
  for (std::string s; std::getline(f, s, ',');) ids.push_back(std::stoi(s));
  return ids;
}

// [32, n_vocab] logits llama.cpp computed for tokens.txt.
std::vector<float> reference_logits() {
  std::ifstream f(kFixtures + "/tiny-qwen3-f32.logits.f32", std::ios::binary);
  std::vector<float> v(32 * 1024);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  return v;
}

// The fixture model declaring a pooling type (1 mean, 2 cls, 3 last).
std::string model_with_pooling(uint32_t type) {
  return testing::rewrite_gguf(kModel, testing::GgufEdit().with("qwen3.pooling_type", testing::u32_value(type)),
                               testing::temp_gguf("embed-pooling-" + std::to_string(type)));
}

std::unique_ptr<Engine> make_engine(const std::string& path, EngineOptions eo = {.parallel = 2}, int n_ctx = 64) {
  backends::LoadOptions lo;
  lo.path = path;
  lo.threads = 2;
  lo.n_ctx = n_ctx;
  lo.kv_type = "f32";
  lo.max_sequences = eo.parallel;
  return std::make_unique<Engine>(backends::load(lo), eo);
}

// Relative L2 error of W * e against `want` after the best positive scale.
double tied_head_error(const std::string& path, const std::vector<float>& e, const std::vector<double>& want) {
  const auto f = gguf::File::open(path);
  const auto* w = f->find_tensor("token_embd.weight");
  const auto* rows = reinterpret_cast<const float*>(w->data);
  const size_t n_embd = e.size(), n_vocab = want.size();
  std::vector<double> p(n_vocab);
  double pw = 0, pp = 0, ww = 0;
  for (size_t v = 0; v < n_vocab; ++v) {
    for (size_t i = 0; i < n_embd; ++i) p[v] += static_cast<double>(rows[v * n_embd + i]) * static_cast<double>(e[i]);
    pw += p[v] * want[v];
    pp += p[v] * p[v];
    ww += want[v] * want[v];
  }
  EXPECT_GT(pw, 0) << "the vector points away from the hidden state";
  const double s = pw / pp;
  double err = 0;
  for (size_t v = 0; v < n_vocab; ++v) err += (s * p[v] - want[v]) * (s * p[v] - want[v]);
  return std::sqrt(err / ww);
}

// The reference logits of rows [first, end), averaged.
std::vector<double> mean_rows(const std::vector<float>& logits, int first, int end) {
  std::vector<double> m(1024, 0.0);
  for (int r = first; r < end; ++r)
    for (size_t v = 0; v < 1024; ++v) m[v] += static_cast<double>(logits[static_cast<size_t>(r) * 1024 + v]);
  for (double& x : m) x /= end - first;
  return m;
}

double norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * static_cast<double>(x);
  return std::sqrt(s);
}

class EmbedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kModel)) GTEST_SKIP() << "fixtures not found at " << kFixtures;
  }
};

TEST_F(EmbedTest, EachPoolingMatchesTheReferenceHiddenStates) {
  const auto tokens = fixture_tokens();
  const auto logits = reference_logits();
  const struct {
    uint32_t type;
    int first, end;
  } cases[] = {{3, 31, 32}, {2, 0, 1}, {1, 0, 32}};
  for (const auto& c : cases) {
    SCOPED_TRACE("pooling_type " + std::to_string(c.type));
    const auto path = model_with_pooling(c.type);
    auto engine = make_engine(path);
    const auto e = engine->embed({tokens});
    ASSERT_EQ(e.vectors.size(), 1u);
    ASSERT_EQ(e.vectors[0].size(), 64u);
    EXPECT_EQ(e.prompt_tokens, 32);
    EXPECT_NEAR(norm(e.vectors[0]), 1.0, 1e-6);
    // The fixture README's bound for F32 logits against llama.cpp.
    EXPECT_LT(tied_head_error(path, e.vectors[0], mean_rows(logits, c.first, c.end)), 1e-4);
    fs::remove(path);
  }
}

TEST_F(EmbedTest, SameTextAloneInAListAndBesideAChatGivesTheSameVector) {
  const auto path = model_with_pooling(1);
  auto engine = make_engine(path, {.parallel = 2}, 4096);  // room for a chat answer that outlasts the embeddings
  const auto t = fixture_tokens();
  const std::vector<int32_t> a(t.begin(), t.begin() + 20), b(t.begin() + 5, t.end()), one = {t[3]};
  const auto alone = engine->embed({a}).vectors[0];
  const auto listed = engine->embed({b, a, one});
  ASSERT_EQ(listed.vectors.size(), 3u);
  EXPECT_EQ(listed.vectors[1], alone);
  EXPECT_EQ(listed.prompt_tokens, 27 + 20 + 1);
  EXPECT_EQ(engine->embed({one}).vectors[0], listed.vectors[2]);
  // While a chat request generates in the other slot.
  RequestOptions chat;
  chat.prompt = b;
  chat.generate.sampling.temperature = 0;
  chat.generate.ignore_eos = true;
  auto running = engine->submit(chat);
  ASSERT_FALSE(running->wait(5s).empty());
  EXPECT_EQ(engine->embed({a}).vectors[0], alone);
  EXPECT_FALSE(running->finished()) << "the chat request should still be generating";
  running->cancel();
  fs::remove(path);
}

TEST_F(EmbedTest, EmbeddingsLeaveTheChatPromptCacheInPlace) {
  const auto path = model_with_pooling(3);
  auto engine = make_engine(path);
  const auto t = fixture_tokens();
  RequestOptions chat;
  chat.prompt = t;
  chat.generate.sampling.temperature = 0;
  chat.generate.max_tokens = 2;
  chat.generate.ignore_eos = true;
  const auto first = collect(*engine->submit(chat), nullptr);
  // Two embeddings take the slot the chat did not use, both times.
  engine->embed({{1, 2, 3}});
  engine->embed({{4, 5, 6, 7}, {8, 9}});
  auto next = chat;
  next.prompt.push_back(first.answer_ids.at(0));
  next.prompt.insert(next.prompt.end(), {10, 11});
  // The prompt and the first answer token (the second was never fed back).
  EXPECT_EQ(collect(*engine->submit(next), nullptr).stats.cached_tokens, 33);
  fs::remove(path);
}

TEST_F(EmbedTest, RefusalsAreBadRequests) {
  auto expect_refused = [](auto&& call, const std::string& says, int n_ctx = 0) {
    try {
      call();
      FAIL() << "accepted; expected a refusal saying: " << says;
    } catch (const EngineError& e) {
      EXPECT_EQ(e.kind(), ErrorKind::bad_request);
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
      EXPECT_EQ(e.n_ctx(), n_ctx);
    }
  };
  auto chat_model = make_engine(kModel);
  EXPECT_FALSE(chat_model->backend().capabilities().embeddings);
  expect_refused([&] { chat_model->embed({{1, 2}}); }, "does not support embeddings");
  const auto path = model_with_pooling(3);
  auto engine = make_engine(path);
  EXPECT_TRUE(engine->backend().capabilities().embeddings);
  EXPECT_EQ(engine->backend().info().pooling, backends::Pooling::last);
  expect_refused([&] { engine->embed({}); }, "no input");
  expect_refused([&] { engine->embed({{1}, {}}); }, "empty");
  expect_refused([&] { engine->embed({{1, 5000}}); }, "outside the vocabulary");
  expect_refused([&] { engine->embed({std::vector<int32_t>(65, 1)}); }, "65 tokens", 64);
  EXPECT_EQ(engine->embed({std::vector<int32_t>(64, 1)}).prompt_tokens, 64);  // a full context fits
  fs::remove(path);
}

}  // namespace
}  // namespace rkchat::runtime
