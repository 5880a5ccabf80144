// Chat template render speed: a real template (Qwen3's, from the shared fixtures) over a 20-message
// conversation with a system prompt, tool calls and tool results, as the server renders it for each request.
//
//   build/ci/bench/rkchat_template_bench [--benchmark_filter=Qwen3] [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "chat/template.h"

namespace {

using nlohmann::ordered_json;

std::string read_template(const std::string& name) {
  std::ifstream in(std::filesystem::path(RKCHAT_FIXTURES_DIR) / "templates" / name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// 20 messages: system, then user/assistant turns of a few hundred characters; every fifth assistant turn calls
// a tool and gets its result.
ordered_json conversation() {
  auto messages = ordered_json::array();
  messages.push_back({{"role", "system"}, {"content", "You are a helpful assistant. Answer briefly and precisely."}});
  const std::string text(300, 'w');
  for (int i = 0; messages.size() < 20; ++i) {
    messages.push_back({{"role", "user"}, {"content", "Question " + std::to_string(i) + ": " + text}});
    if (i % 5 == 4) {
      ordered_json call = {{"type", "function"},
                           {"function", {{"name", "get_weather"}, {"arguments", {{"city", "Zurich"}}}}}};
      messages.push_back({{"role", "assistant"}, {"content", ""}, {"tool_calls", ordered_json::array({call})}});
      messages.push_back({{"role", "tool"}, {"content", "{\"temp\": 21}"}});
    }
    messages.push_back({{"role", "assistant"}, {"content", "<think>\nthinking\n</think>\n\nAnswer: " + text}});
  }
  messages.erase(messages.begin() + 20, messages.end());
  return messages;
}

ordered_json tools() {
  return ordered_json::parse(R"([{"type": "function", "function": {"name": "get_weather", "description": "Weather now",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])");
}

void BM_Render(benchmark::State& state, const std::string& file) {
  const std::string source = read_template(file);
  if (source.empty()) {
    state.SkipWithError(("no template " + file).c_str());
    return;
  }
  rkchat::chat::ChatTemplate tmpl(source);
  const ordered_json messages = conversation(), tool_list = tools();
  const ordered_json vars = {{"add_generation_prompt", true}, {"bos_token", "<s>"}, {"eos_token", "</s>"}};
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out = tmpl.render(messages, tool_list, vars);
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.counters["prompt_bytes"] = static_cast<double>(bytes);
  state.counters["us_per_message"] = benchmark::Counter(static_cast<double>(state.iterations()) * 20,
                                                        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK_CAPTURE(BM_Render, Qwen3, std::string("Qwen-Qwen3-0.6B.jinja"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Render, Llama31, std::string("meta-llama-Llama-3.1-8B-Instruct.jinja"))
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
