// libFuzzer entry for the GGUF reader: any input must parse or throw gguf::Error; an accepted file must hand out
// tensors that lie inside the input (every byte is read, so ASan sees any overrun) and getters that never crash.
#include <cstddef>
#include <cstdint>

#include "gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rkchat::gguf;
  try {
    auto f = File::parse({data, size}, "<fuzz>");
    volatile uint8_t sink = 0;
    for (const auto& t : f->tensors()) {
      for (uint64_t i = 0; i < t.nbytes; ++i) sink = sink ^ t.data[i];
      try {
        (void)f->tensor(t.name, t.ne);
      } catch (const Error&) {  // unsupported type: fine
      }
    }
    for (const auto& kv : f->metadata()) {
      try {
        (void)f->get_int_opt(kv.first);
      } catch (const Error&) {
      }
      try {
        (void)f->get_string_array(kv.first);
      } catch (const Error&) {
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
