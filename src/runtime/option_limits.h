// The accepted range of every numeric option, in one table shared by the command line (CLI11 validators) and the
// console's /set, so that both refuse the same nonsense with the same words.
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <string>

namespace rkchat::runtime {

struct Limit {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false;  // min itself is refused
  bool max_open = false;
  const char* note = "";  // what special values mean, e.g. "0: off"
};

namespace limits {
inline constexpr double kInf = std::numeric_limits<double>::infinity();
inline constexpr Limit temperature{0, 100, false, false, "0: greedy"};
inline constexpr Limit top_k{0, kInf, false, false, "0: off"};
inline constexpr Limit top_p{0, 1, true, false, "1: off"};
inline constexpr Limit min_p{0, 1, false, true, "0: off"};
inline constexpr Limit repeat_penalty{0, 100, true, false, "1: off"};
inline constexpr Limit repeat_last_n{0, kInf};
inline constexpr Limit penalty{-2, 2, false, false, "0: off"};  // presence and frequency, as OpenAI's API
inline constexpr Limit seed{0, kInf};
inline constexpr Limit max_tokens{-1, kInf, false, false, "-1: until the context is full"};
inline constexpr Limit threads{0, kInf, false, false, "0: one per core"};
inline constexpr Limit ctx_size{0, kInf, false, false, "0: the model's"};
inline constexpr Limit at_least_one{1, kInf};
inline constexpr Limit non_negative{0, kInf};
}  // namespace limits

// "" when v is in range, else what is accepted, e.g. "must be in (0, 1] (1: off), got 2".
inline std::string check_limit(const Limit& l, double v) {
  const bool below = l.min_open ? !(v > l.min) : !(v >= l.min);
  const bool above = l.max_open ? !(v < l.max) : !(v <= l.max);
  if (!below && !above && std::isfinite(v)) return {};
  std::string range;
  if (std::isinf(l.max)) {
    range = fmt::format("{} {}", l.min_open ? ">" : ">=", l.min);
  } else {
    range = fmt::format("in {}{}, {}{}", l.min_open ? "(" : "[", l.min, l.max, l.max_open ? ")" : "]");
  }
  return fmt::format("must be {}{}, got {}", range, *l.note ? fmt::format(" ({})", l.note) : "", v);
}

}  // namespace rkchat::runtime
