// Turns a row of logits into the next token: penalties, then top-k / top-p / min-p filtering, temperature,
// and a draw from a seeded generator (same seed and options -> same tokens). temperature <= 0 is greedy.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace rkchat::sampling {

struct Params {
  float temperature = 0.8f;
  int top_k = 40;               // <= 0: off
  float top_p = 0.95f;          // >= 1: off
  float min_p = 0.05f;          // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off (applied over the last repeat_last_n tokens)
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int repeat_last_n = 64;
  uint64_t seed = 0xC0FFEE;
};

class Sampler {
 public:
  explicit Sampler(const Params& params);
  // history: tokens so far (prompt and answer) for the penalties.
  int32_t sample(std::span<const float> logits, std::span<const int32_t> history);
  const Params& params() const { return params_; }

 private:
  Params params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;  // reused to avoid allocation per token
};

int32_t argmax(std::span<const float> logits);

}  // namespace rkchat::sampling
