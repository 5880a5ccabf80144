// Fuzzes the Jinja lexer, parser and evaluator: any template text must either render or fail with a
// TemplateError, never crash, hang or exhaust memory. Seeds: ../shared/fixtures/templates/*.jinja and the hostile
// templates of tests/fuzz/seeds.py (long chains, deep nesting, big work inside few steps).
#include <cstddef>
#include <cstdint>
#include <string>

#include "../chat/template_fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1024 * 1024) return 0;
  rkchat::chat::fuzz::render_untrusted(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
