#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

namespace rkchat::sampling {
namespace {

std::vector<float> random_logits(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

Params plain(float temperature) {
  Params p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  return p;
}

std::vector<int32_t> draw(Params p, const std::vector<float>& logits, int n) {
  Sampler s(p);
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) out.push_back(s.sample(logits, {}));
  return out;
}

TEST(Argmax, FindsFirstMaximum) {
  EXPECT_EQ(argmax(std::vector<float>{1, 5, 2, 5}), 1);
  EXPECT_THROW(argmax(std::span<const float>{}), std::invalid_argument);
}

TEST(Sampler, ZeroTemperatureIsArgmax) {
  for (uint32_t seed = 0; seed < 20; ++seed) {
    auto logits = random_logits(37 + seed * 13, seed);
    Sampler s(Params{.temperature = 0.0f});
    EXPECT_EQ(s.sample(logits, {}), argmax(logits));
  }
}

TEST(Sampler, TopKOneIsArgmaxAtAnyTemperature) {
  auto logits = random_logits(1000, 7);
  Params p = plain(5.0f);
  p.top_k = 1;
  for (int32_t id : draw(p, logits, 50)) EXPECT_EQ(id, argmax(logits));
}

TEST(Sampler, SameSeedSameTokensOtherSeedOtherTokens) {
  auto logits = random_logits(500, 3);
  Params p = plain(1.5f);
  EXPECT_EQ(draw(p, logits, 64), draw(p, logits, 64));
  Params q = p;
  q.seed = p.seed + 1;
  EXPECT_NE(draw(p, logits, 64), draw(q, logits, 64));
}

TEST(Sampler, FrequenciesFollowSoftmax) {
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f, -1.0f, 0.5f};
  for (float t : {0.5f, 1.0f, 2.0f}) {
    double z = 0;
    for (float l : logits) z += std::exp(static_cast<double>(l / t));
    const int n = 40000;
    std::map<int32_t, int> counts;
    for (int32_t id : draw(plain(t), logits, n)) ++counts[id];
    for (size_t i = 0; i < logits.size(); ++i) {
      const double expect = std::exp(static_cast<double>(logits[i] / t)) / z;
      const double sigma = std::sqrt(expect * (1 - expect) / n);
      EXPECT_NEAR(counts[static_cast<int32_t>(i)] / double(n), expect, 5 * sigma + 1e-9) << "T=" << t << " id=" << i;
    }
  }
}

TEST(Sampler, TopKKeepsOnlyTheKBest) {
  auto logits = random_logits(300, 11);
  Params p = plain(10.0f);  // flat: without the cut every token would show up
  p.top_k = 5;
  std::vector<float> sorted = logits;
  std::sort(sorted.rbegin(), sorted.rend());
  std::set<int32_t> seen;
  for (int32_t id : draw(p, logits, 2000)) {
    EXPECT_GE(logits[static_cast<size_t>(id)], sorted[4]);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 5u);
}

// Top-k and greedy without penalties select in one pass over the logits; with penalties, from a penalised copy. A
// penalty on an id outside the vocabulary changes nothing but the path, so both must draw the same tokens: ties
// (logits rounded to a few values) and NaNs included.
TEST(Sampler, OnePassDrawsAsTheCopyingPath) {
  for (uint32_t seed = 0; seed < 6; ++seed) {
    auto logits = random_logits(1001 + seed * 77, seed);
    for (float& v : logits) v = std::round(v * 2.0f) / 2.0f;
    logits[seed * 5] = std::numeric_limits<float>::quiet_NaN();
    logits[7 + seed] = logits[500 + seed] = 100.0f;  // a tie for the best
    for (int k : {0, 1, 3, 40, 999}) {
      Params p = plain(k == 0 ? 0.0f : 1.5f);  // 0: greedy
      p.top_k = k;
      p.top_p = 0.9f;
      p.seed = seed;
      Sampler fast(p), copying(Params{p.temperature, p.top_k, p.top_p, p.min_p, 1.3f, 0.0f, 0.0f, 64, p.seed});
      const std::vector<int32_t> outside{1 << 30};
      for (int i = 0; i < 100; ++i) ASSERT_EQ(fast.sample(logits, outside), copying.sample(logits, outside)) << k;
    }
  }
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingP) {
  // Probabilities about 0.6, 0.3, 0.1 (then negligible): p = 0.8 needs the first two.
  const std::vector<float> logits = {std::log(0.3f), std::log(0.6f), -30.0f, std::log(0.1f)};
  Params p = plain(1.0f);
  p.top_p = 0.8f;
  std::set<int32_t> seen;
  for (int32_t id : draw(p, logits, 2000)) seen.insert(id);
  EXPECT_EQ(seen, (std::set<int32_t>{0, 1}));
  p.top_p = 0.5f;  // the best alone already reaches it
  for (int32_t id : draw(p, logits, 200)) EXPECT_EQ(id, 1);
}

TEST(Sampler, MinPDropsTokensFarBelowTheBest) {
  const std::vector<float> logits = {std::log(0.5f), std::log(0.2f), std::log(0.04f), std::log(0.26f)};
  Params p = plain(1.0f);
  p.min_p = 0.1f;  // keeps p >= 0.05
  std::set<int32_t> seen;
  for (int32_t id : draw(p, logits, 3000)) seen.insert(id);
  EXPECT_EQ(seen, (std::set<int32_t>{0, 1, 3}));
}

TEST(Sampler, RepeatPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  // Token 0 leads by a little; repeating it makes token 1 win (2.0 / 1.5 < 1.9). A negative logit only sinks.
  const std::vector<float> logits = {2.0f, 1.9f, -1.0f};
  Params p = plain(0.0f);
  p.repeat_penalty = 1.5f;
  Sampler s(p);
  const std::vector<int32_t> hist = {0, 2};
  EXPECT_EQ(s.sample(logits, hist), 1);
  const std::vector<float> negative = {-1.0f, -1.2f};
  const std::vector<int32_t> hist0 = {0};
  EXPECT_EQ(s.sample(negative, hist0), 1);  // -1.5 < -1.2
}

TEST(Sampler, PenaltiesLookOnlyAtTheLastN) {
  const std::vector<float> logits = {2.0f, 1.9f};
  const std::vector<int32_t> hist = {0, 0, 1};
  Params p = plain(0.0f);
  p.frequency_penalty = 0.5f;
  p.repeat_last_n = 3;  // 2.0 - 1.0 < 1.9 - 0.5
  EXPECT_EQ(Sampler(p).sample(logits, hist), 1);
  p.repeat_last_n = 2;  // the first 0 falls outside: 2.0 - 0.5 > 1.9 - 0.5
  EXPECT_EQ(Sampler(p).sample(logits, hist), 0);
}

TEST(Sampler, PresenceAndFrequencyPenalties) {
  const std::vector<float> logits = {3.0f, 2.0f, 1.0f};
  Params p = plain(0.0f);
  p.frequency_penalty = 0.6f;  // token 0 seen twice: 3.0 - 1.2 = 1.8 < 2.0
  const std::vector<int32_t> hist = {0, 0};
  EXPECT_EQ(Sampler(p).sample(logits, hist), 1);
  p.frequency_penalty = 0.0f;
  p.presence_penalty = 0.6f;  // once only: 2.4 still wins
  EXPECT_EQ(Sampler(p).sample(logits, hist), 0);
}

TEST(Sampler, IgnoresHistoryIdsOutsideTheVocabulary) {
  const std::vector<float> logits = {1.0f, 0.0f};
  Params p = plain(0.0f);
  p.repeat_penalty = 2.0f;
  const std::vector<int32_t> hist = {-1, 5, 99999};
  EXPECT_EQ(Sampler(p).sample(logits, hist), 0);
}

TEST(Sampler, HandlesNaNAndInfinities) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> with_nan = {std::nanf(""), 1.0f, -inf};
  for (int32_t id : draw(plain(1.0f), with_nan, 20)) EXPECT_EQ(id, 1);
  const std::vector<float> all_masked = {-inf, -inf};
  EXPECT_EQ(draw(plain(1.0f), all_masked, 1)[0], 0);
}

TEST(Sampler, RejectsBadParamsAndInput) {
  EXPECT_THROW(Sampler(Params{.top_p = 0.0f}), std::invalid_argument);
  EXPECT_THROW(Sampler(Params{.min_p = 1.0f}), std::invalid_argument);
  EXPECT_THROW(Sampler(Params{.repeat_penalty = 0.0f}), std::invalid_argument);
  EXPECT_THROW(Sampler(Params{.repeat_last_n = -1}), std::invalid_argument);
  Sampler s(Params{});
  EXPECT_THROW(s.sample(std::span<const float>{}, {}), std::invalid_argument);
}

}  // namespace
}  // namespace rkchat::sampling
