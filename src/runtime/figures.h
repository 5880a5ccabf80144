// The figures printed after an answer and in benchmark reports, computed and formatted in one place.
#pragma once

#include <cstdint>
#include <string>

#include "backends/backend.h"

namespace rkchat::runtime {

// Prompt tokens per second over the new (not cached) tokens; 0 when nothing was processed.
double prefill_tok_s(const backends::TurnStats& s);
// Decode tokens per second: the tokens after the first over the time from the first to the last.
double decode_tok_s(const backends::TurnStats& s);

// "[Tokens: 150 | TTFT: 0.21 s | Speed: 4.75 tok/s | Time: 31.6 s]"
std::string figures_line(const backends::TurnStats& s);
// "prompt: 12 new / 340 cached"
std::string prompt_line(const backends::TurnStats& s);
// "1.5 GiB", "640 KiB", "12 B"
std::string human_bytes(uint64_t bytes);

}  // namespace rkchat::runtime
