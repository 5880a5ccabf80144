// A few thousand mutated templates through the normal build (the libFuzzer target goes further): each must
// render or fail with a TemplateError; a crash, another exception type or a hang fails the test.
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "template_fuzz_input.h"

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> seed_templates() {
  std::vector<std::string> seeds = {rkchat::chat::chatml_template()};
  auto own = nlohmann::json::parse(read_file(fs::path(RKCHAT_TEST_DATA_DIR) / "chat" / "own_templates.json"));
  for (const auto& c : own) seeds.push_back(c["template_source"].get<std::string>());
  fs::path shared = fs::path(RKCHAT_FIXTURES_DIR) / "templates";
  if (fs::exists(shared)) {
    for (const auto& e : fs::directory_iterator(shared))
      if (e.path().extension() == ".jinja") seeds.push_back(read_file(e.path()));
  }
  return seeds;
}

const std::array<const char*, 24> kTokens = {
    "{{",        "}}",       "{%", "%}", "{%-",  "-%}",   "{#", "#}", "endfor", "endif", "(",
    ")",         "[",        "]",  "|",  " is ", " not ", "'",  "\"", "loop.",  "\\",    "{% for x in range(99999) %}",
    "ns.x = ns", "{{ m() }}"};

std::string mutate(std::string s, std::mt19937& rng) {
  auto pick = [&](size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  int edits = 1 + static_cast<int>(pick(4));
  for (int i = 0; i < edits; ++i) {
    size_t at = pick(s.size() + 1);
    size_t len = std::min(s.size() - at, 1 + pick(16));
    switch (pick(4)) {
      case 0:
        if (at < s.size()) s[at] = static_cast<char>(pick(256));
        break;
      case 1:
        s.erase(at, len);
        break;
      case 2:
        s.insert(at, s.substr(at, len));
        break;
      default:
        s.insert(at, kTokens[pick(kTokens.size())]);
    }
  }
  return s;
}

}  // namespace

TEST(TemplateFuzzSmoke, MutatedTemplatesRenderOrFailCleanly) {
  auto seeds = seed_templates();
  std::mt19937 rng(20240726);
  int rendered = 0, failed = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string mutant = mutate(seeds[static_cast<size_t>(i) % seeds.size()], rng);
    bool ok = false;
    ASSERT_NO_THROW(ok = rkchat::chat::fuzz::render_untrusted(mutant)) << "mutant " << i << ":\n" << mutant;
    (ok ? rendered : failed)++;
  }
  std::cout << "[ fuzz     ] " << rendered << " rendered, " << failed << " failed cleanly\n";
  EXPECT_GT(rendered, 0);
  EXPECT_GT(failed, 0);
}

TEST(TemplateFuzzSmoke, RunawayTemplatesAreStopped) {
  const char* runaway[] = {
      "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
      "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
      "{% macro m() %}{{ m() }}{{ m() }}{% endmacro %}{{ m() }}",
      "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
      "{{ 'x' * 100000000000 }}",
      "{% set ns = namespace() %}{% set ns.me = [ns] %}",
      "{{ range(100000000) | list | length }}",
  };
  for (const char* t : runaway) EXPECT_FALSE(rkchat::chat::fuzz::render_untrusted(t)) << t;
}
