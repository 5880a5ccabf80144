// Fuzzes what a client controls in a chat request: the messages JSON, read as the CLI and the server read it
// (chat::parse_ordered_json_input) and rendered by a real template (Qwen3's, which walks tool calls, content
// parts and reasoning); the same bytes also go through the output parser as model output. Any input must give a
// JsonInputError, a TemplateError or a result, never a crash, hang or runaway memory.
// Seeds: tests/fuzz/seeds.py messages DIR.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "chat/json_input.h"
#include "chat/output_parser.h"
#include "chat/template.h"

namespace {

const rkchat::chat::ChatTemplate& qwen3() {
  static const rkchat::chat::ChatTemplate tmpl = [] {
    std::ifstream in(RKCHAT_FIXTURES_DIR "/templates/Qwen-Qwen3-0.6B.jinja", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    rkchat::chat::ChatTemplate t(ss.str().empty() ? rkchat::chat::chatml_template() : ss.str());
    t.set_max_work(16'000'000);  // as fuzz_template: hostile input stops sooner under the sanitizers
    return t;
  }();
  return tmpl;
}

void render(std::string_view text) {
  using nlohmann::ordered_json;
  try {
    ordered_json messages = rkchat::chat::parse_ordered_json_input(text);
    ordered_json tools;
    if (messages.is_object()) {  // {"messages": [...], "tools": [...]}, as `rkchat template` reads it
      if (messages.contains("tools")) tools = messages["tools"];
      messages = ordered_json(messages["messages"]);
    }
    if (!messages.is_array()) return;
    qwen3().render(messages, tools, ordered_json{{"add_generation_prompt", true}});
  } catch (const rkchat::chat::JsonInputError&) {
  } catch (const rkchat::chat::TemplateError&) {
  }
}

// The bytes as streamed model output, in two pushes split in the middle.
void parse_output(std::string_view text) {
  rkchat::chat::OutputParser parser(false);
  parser.push(text.substr(0, text.size() / 2));
  parser.push(text.substr(text.size() / 2));
  parser.finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1024 * 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  render(text);
  parse_output(text);
  return 0;
}
