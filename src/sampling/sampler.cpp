// The sampler works on one vector of (logit, id) candidates that shrinks step by step: penalties adjust the
// logits, top-k keeps the k best, min-p drops tokens far below the best, top-p keeps the smallest sorted prefix
// reaching the probability mass p. Probabilities for top-p and min-p are those of the
// untempered softmax over the top-k survivors, as in llama.cpp's default chain; temperature only shapes the draw.
#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace rkchat::sampling {
namespace {

using Candidate = std::pair<float, int32_t>;

// Best first; ties go to the lower id so that the order (and thus every draw) is fully determined.
bool better(const Candidate& a, const Candidate& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

void check(const Params& p) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("sampling: " + what); };
  if (std::isnan(p.temperature)) fail("temperature is NaN");
  if (!(p.top_p > 0.0f)) fail("top_p must be > 0 (1: off), got " + std::to_string(p.top_p));
  if (!(p.min_p < 1.0f) || std::isnan(p.min_p)) fail("min_p must be < 1 (0: off), got " + std::to_string(p.min_p));
  if (!(p.repeat_penalty > 0.0f)) fail("repeat_penalty must be > 0 (1: off), got " + std::to_string(p.repeat_penalty));
  if (p.repeat_last_n < 0) fail("repeat_last_n must be >= 0, got " + std::to_string(p.repeat_last_n));
  if (std::isnan(p.presence_penalty) || std::isnan(p.frequency_penalty)) fail("penalty is NaN");
}

// Repetition (divide positive logits, multiply negative ones), presence and frequency penalties over the last
// repeat_last_n tokens of history; ids outside the vocabulary are ignored.
void apply_penalties(const Params& p, std::span<const int32_t> history, std::vector<Candidate>& cands) {
  const bool off = p.repeat_penalty == 1.0f && p.presence_penalty == 0.0f && p.frequency_penalty == 0.0f;
  if (off || p.repeat_last_n == 0 || history.empty()) return;
  const size_t n = std::min(history.size(), static_cast<size_t>(p.repeat_last_n));
  std::vector<int32_t> recent(history.end() - static_cast<std::ptrdiff_t>(n), history.end());
  std::sort(recent.begin(), recent.end());
  for (size_t i = 0; i < recent.size();) {
    size_t j = i;
    while (j < recent.size() && recent[j] == recent[i]) ++j;
    const int32_t id = recent[i];
    if (id >= 0 && static_cast<size_t>(id) < cands.size()) {
      float& logit = cands[static_cast<size_t>(id)].first;  // candidates are still indexed by id here
      logit = logit > 0 ? logit / p.repeat_penalty : logit * p.repeat_penalty;
      logit -= static_cast<float>(j - i) * p.frequency_penalty + p.presence_penalty;
    }
    i = j;
  }
}

// 64 bits of the generator to a double in [0, 1) with a fixed recipe, so draws do not depend on the library.
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// NaN would break the ordering: it counts as impossible.
float finite_or_floor(float v) { return std::isnan(v) ? -std::numeric_limits<float>::infinity() : v; }

// The k best of logits into c, in one pass without copying the vocabulary: a heap of the k best so far, worst on
// top. Ids come in increasing order, so a tie never displaces a kept candidate (better() gives ties to the lower
// id) and the set is the one nth_element would keep. A vocabulary of 150k costs a copy and a selection per token
// otherwise, and the serving engine samples for every stream in turn between two passes over the weights.
void best_k(std::span<const float> logits, size_t k, std::vector<Candidate>& c) {
  c.clear();
  for (size_t i = 0; i < logits.size(); ++i) {
    const float v = finite_or_floor(logits[i]);
    if (c.size() < k) {
      c.emplace_back(v, static_cast<int32_t>(i));
      std::push_heap(c.begin(), c.end(), better);
    } else if (v > c.front().first) {
      std::pop_heap(c.begin(), c.end(), better);
      c.back() = {v, static_cast<int32_t>(i)};
      std::push_heap(c.begin(), c.end(), better);
    }
  }
}

// The best id (the lowest among equal logits), in one pass without a copy.
int32_t best_id(std::span<const float> logits) {
  size_t best = 0;
  float top = finite_or_floor(logits[0]);
  for (size_t i = 1; i < logits.size(); ++i) {
    const float v = finite_or_floor(logits[i]);
    if (v > top) {
      top = v;
      best = i;
    }
  }
  return static_cast<int32_t>(best);
}

bool penalties_on(const Params& p, std::span<const int32_t> history) {
  const bool off = p.repeat_penalty == 1.0f && p.presence_penalty == 0.0f && p.frequency_penalty == 0.0f;
  return !off && p.repeat_last_n > 0 && !history.empty();
}

}  // namespace

int32_t argmax(std::span<const float> logits) {
  if (logits.empty()) throw std::invalid_argument("argmax: empty logits");
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Sampler::Sampler(const Params& params) : params_(params), rng_(params.seed) { check(params_); }

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
  if (logits.empty()) throw std::invalid_argument("sampler: empty logits");
  auto& c = candidates_;
  const bool greedy = params_.temperature <= 0.0f;
  const size_t k = params_.top_k > 0 ? static_cast<size_t>(params_.top_k) : logits.size();
  const bool plain = !penalties_on(params_, history);
  if (greedy && plain) return best_id(logits);
  if (!greedy && k < logits.size() && plain) {
    best_k(logits, k, c);
  } else {
    c.resize(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) c[i] = {finite_or_floor(logits[i]), static_cast<int32_t>(i)};
    apply_penalties(params_, history, c);
    if (greedy) return std::min_element(c.begin(), c.end(), better)->second;
    if (k < c.size()) {
      std::nth_element(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(k), c.end(), better);
      c.resize(k);
    }
  }
  // The k survivors are sorted before anything is summed, so both ways of selecting them give the same sums to
  // the last bit. Without top-k, the sort waits until min-p has cut the vocabulary down.
  const bool sorted = k < logits.size();
  if (sorted) std::sort(c.begin(), c.end(), better);
  const auto best = *std::min_element(c.begin(), c.end(), better);
  const float max_logit = best.first;
  if (!std::isfinite(max_logit)) return best.second;  // nothing to weigh (all -inf, or +inf dominates)
  double z = 0;                                       // softmax normaliser over the top-k survivors
  for (const auto& [logit, id] : c) z += std::exp(static_cast<double>(logit - max_logit));

  if (params_.min_p > 0.0f) {  // p_i / p_max >= min_p  <=>  logit_i >= max + log(min_p)
    const float floor = max_logit + std::log(params_.min_p);
    std::erase_if(c, [floor](const Candidate& x) { return x.first < floor; });
  }
  if (!sorted) std::sort(c.begin(), c.end(), better);
  if (params_.top_p < 1.0f) {
    double mass = 0;
    size_t keep = 0;
    const double p = static_cast<double>(params_.top_p);
    while (keep < c.size() && mass < p) mass += std::exp(static_cast<double>(c[keep++].first - max_logit)) / z;
    c.resize(keep);
  }

  // Draw from softmax(logit / T) over what is left; the logits are replaced by their weights in place.
  const double inv_t = 1.0 / static_cast<double>(params_.temperature);
  double total = 0;
  for (auto& [value, id] : c) {
    value = static_cast<float>(std::exp(static_cast<double>(value - max_logit) * inv_t));
    total += static_cast<double>(value);
  }
  const double target = uniform01(rng_) * total;
  double acc = 0;
  for (const auto& [weight, id] : c) {
    acc += static_cast<double>(weight);
    if (target < acc) return id;
  }
  return c.back().second;  // rounding left target == total
}

}  // namespace rkchat::sampling
