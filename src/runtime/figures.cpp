#include "runtime/figures.h"

#include <fmt/format.h>

namespace rkchat::runtime {

double prefill_tok_s(const backends::TurnStats& s) {
  const int fresh = s.prompt_tokens - s.cached_tokens;
  return fresh > 0 && s.prefill_ms > 0 ? fresh * 1000.0 / s.prefill_ms : 0.0;
}

double decode_tok_s(const backends::TurnStats& s) {
  return s.gen_tokens > 1 && s.decode_ms > 0 ? (s.gen_tokens - 1) * 1000.0 / s.decode_ms : 0.0;
}

std::string figures_line(const backends::TurnStats& s) {
  return fmt::format("[Tokens: {} | TTFT: {:.2f} s | Speed: {:.2f} tok/s | Time: {:.1f} s]", s.gen_tokens,
                     s.ttft_ms / 1000.0, decode_tok_s(s), s.total_ms / 1000.0);
}

std::string prompt_line(const backends::TurnStats& s) {
  return fmt::format("prompt: {} new / {} cached", s.prompt_tokens - s.cached_tokens, s.cached_tokens);
}

std::string human_bytes(uint64_t bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 1024.0 && u + 1 < std::size(units)) {
    v /= 1024.0;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

}  // namespace rkchat::runtime
