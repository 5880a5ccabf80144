// Golden cases: every case renders byte for byte as Python's jinja2 renders it (set up as transformers does),
// or is refused with the template's own raise_exception message.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "chat/template.h"

namespace fs = std::filesystem;
using nlohmann::ordered_json;
using rkchat::chat::ChatTemplate;
using rkchat::chat::TemplateError;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path shared_templates() {
  const char* env = std::getenv("RKCHAT_FIXTURES_DIR");
  return fs::path(env ? env : RKCHAT_FIXTURES_DIR) / "templates";
}

// A case names a shared template file ("template") or carries its own source ("template_source").
std::string case_template(const ordered_json& c) {
  if (c.contains("template_source")) return c["template_source"].get<std::string>();
  return read_file(shared_templates() / c["template"].get<std::string>());
}

// Runs every case of a list; returns a description of each failure (empty when all pass).
std::vector<std::string> run_cases(const ordered_json& cases) {
  std::vector<std::string> failures;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    std::string label =
        "case " + std::to_string(i) + " (" + c.value("name", c.value("template", std::string("?"))) + ")";
    try {
      ChatTemplate tmpl(case_template(c));
      tmpl.set_strftime_now([](const std::string&) { return std::string("26 Jul 2024"); });
      ordered_json vars = c.value("variables", ordered_json::object());
      std::string out = tmpl.render(c["messages"], c.value("tools", ordered_json()), vars);
      if (c.value("error", false) || c.contains("failure")) {
        failures.push_back(label + ": rendered, expected it to fail");
      } else if (out != c["expected"].get<std::string>()) {
        failures.push_back(label + ": output differs\n--- got ---\n" + out + "\n--- expected ---\n" +
                           c["expected"].get<std::string>());
      }
    } catch (const TemplateError& e) {
      // "error": refused with exactly the template's message; "failure": jinja2 itself fails on this input.
      bool ok = c.value("error", false) ? e.refused() && e.message() == c.value("message", std::string())
                                        : c.contains("failure") && !e.refused();
      if (!ok) failures.push_back(label + ": " + (e.refused() ? "refused: " : "error: ") + e.what());
    }
  }
  return failures;
}

void expect_all_pass(const ordered_json& cases) {
  auto failures = run_cases(cases);
  for (const auto& f : failures) ADD_FAILURE() << f;
  std::cout << "[ golden   ] " << (cases.size() - failures.size()) << " / " << cases.size() << " cases passed\n";
}

}  // namespace

TEST(TemplateGolden, SharedFixtureCases) {
  fs::path cases = shared_templates() / "cases.json";
  if (!fs::exists(cases)) GTEST_SKIP() << "shared fixtures absent: " << cases;
  expect_all_pass(ordered_json::parse(read_file(cases)));
}

TEST(TemplateGolden, OwnCases) {
  fs::path dir = fs::path(RKCHAT_TEST_DATA_DIR) / "chat";
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    SCOPED_TRACE(entry.path().string());
    ordered_json cases = ordered_json::parse(read_file(entry.path()));
    bool needs_shared = false;
    for (const auto& c : cases) needs_shared |= c.contains("template");
    if (needs_shared && !fs::exists(shared_templates())) {
      std::cout << "[ skipped  ] " << entry.path().filename() << ": shared templates absent\n";
      continue;
    }
    expect_all_pass(cases);
  }
  EXPECT_GT(files, 0u) << "no golden files in " << dir;
}
