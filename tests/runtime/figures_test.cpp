#include "runtime/figures.h"

#include <gtest/gtest.h>

namespace rkchat::runtime {
namespace {

TEST(Figures, LineHasTheAgreedShape) {
  backends::TurnStats s;
  s.gen_tokens = 150;
  s.ttft_ms = 210;
  s.decode_ms = 149 * 1000.0 / 4.75;
  s.total_ms = 31600;
  EXPECT_EQ(figures_line(s), "[Tokens: 150 | TTFT: 0.21 s | Speed: 4.75 tok/s | Time: 31.6 s]");
}

TEST(Figures, PromptLineSplitsNewAndCached) {
  backends::TurnStats s;
  s.prompt_tokens = 352;
  s.cached_tokens = 340;
  EXPECT_EQ(prompt_line(s), "prompt: 12 new / 340 cached");
}

TEST(Figures, RatesAreZeroWithoutWork) {
  backends::TurnStats s;
  s.gen_tokens = 1;
  EXPECT_EQ(decode_tok_s(s), 0.0);
  EXPECT_EQ(prefill_tok_s(s), 0.0);
  s.prompt_tokens = 100;
  s.cached_tokens = 50;
  s.prefill_ms = 500;
  EXPECT_DOUBLE_EQ(prefill_tok_s(s), 100.0);
}

TEST(Figures, HumanBytes) {
  EXPECT_EQ(human_bytes(12), "12 B");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(3ull << 30), "3.0 GiB");
}

}  // namespace
}  // namespace rkchat::runtime
