// A fuzzer's smoke run inside the normal build: the catalogue plus thousands of random mutations of valid
// files go through File::parse, which must either accept (and then give in-bounds tensors) or throw
// gguf::Error. Under the ASan+UBSan build this catches out-of-bounds reads the catalogue does not reach.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "gguf/gguf.h"

namespace rkchat::gguf {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Parses `bytes`; on success reads every tensor byte and every key through the getters.
bool parse_and_touch(const std::vector<uint8_t>& bytes) {
  std::unique_ptr<File> f;
  try {
    f = File::parse(bytes, "<mutant>");
  } catch (const Error&) {
    return false;
  }
  unsigned sum = 0;
  for (const auto& t : f->tensors()) {
    for (uint64_t i = 0; i < t.nbytes; ++i) sum += t.data[i];
    EXPECT_LE(t.data + t.nbytes, bytes.data() + bytes.size());
  }
  for (const auto& [key, v] : f->metadata()) {
    try {
      (void)f->get_int_opt(key);
    } catch (const Error&) {
    }
    try {
      (void)f->get_float_array(key);
    } catch (const Error&) {
    }
  }
  return sum != 0xffffffffu;  // keeps the byte loop from being optimized away
}

void mutate(std::vector<uint8_t>& b, std::mt19937& rng) {
  static constexpr uint64_t kInteresting[] = {
      0, 1, 0x7f, 0xff, 0xffff, 0xffffffffu, uint64_t{1} << 32, uint64_t{1} << 62, ~uint64_t{0}, 0x8000000000000000u};
  const int kind = static_cast<int>(rng() % 5);
  const size_t at = b.empty() ? 0 : rng() % b.size();
  switch (kind) {
    case 0:  // flip bits
      if (!b.empty()) b[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
      break;
    case 1:  // overwrite a word with an interesting value
      if (b.size() >= 8) {
        const uint64_t v = kInteresting[rng() % std::size(kInteresting)];
        std::memcpy(&b[std::min(at, b.size() - 8)], &v, rng() % 2 ? 8 : 4);
      }
      break;
    case 2:  // truncate
      b.resize(at);
      break;
    case 3:  // delete a range
      b.erase(b.begin() + static_cast<ptrdiff_t>(at),
              b.begin() + static_cast<ptrdiff_t>(std::min(b.size(), at + rng() % 16)));
      break;
    default:  // insert random bytes
      for (uint32_t i = rng() % 16; i > 0; --i)
        b.insert(b.begin() + static_cast<ptrdiff_t>(at), static_cast<uint8_t>(rng()));
      break;
  }
}

TEST(GgufFuzzSmoke, CatalogueAndMutationsNeverCrash) {
  const fs::path dir = fs::path(RKCHAT_TEST_DATA_DIR) / "gguf";
  std::vector<std::vector<uint8_t>> seeds;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".gguf") continue;
    auto bytes = read_all(e.path());
    parse_and_touch(bytes);
    if (e.path().filename().string().starts_with("valid_")) seeds.push_back(std::move(bytes));
  }
  ASSERT_GE(seeds.size(), 3u);
  std::mt19937 rng(12345);
  int accepted = 0;
  constexpr int kMutants = 5000;
  for (int i = 0; i < kMutants; ++i) {
    auto b = seeds[static_cast<size_t>(i) % seeds.size()];
    for (uint32_t n = 1 + rng() % 3; n > 0; --n) mutate(b, rng);
    accepted += parse_and_touch(b) ? 1 : 0;
  }
  // Both outcomes must occur, or the mutations are not exercising the parser.
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, kMutants);
}

}  // namespace
}  // namespace rkchat::gguf
