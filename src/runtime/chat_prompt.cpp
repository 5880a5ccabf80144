#include "runtime/chat_prompt.h"

#include <algorithm>
#include <string_view>

#include "tokenizer/tokenizer.h"

namespace rkchat::runtime {
namespace {

// Marks a message's place in the rendered template: ASCII record separators around its index. The character is
// removed from message text beforehand, so the marks cannot be forged.
constexpr char kMark = '\x1e';

std::string without_marks(std::string s) {
  std::erase(s, kMark);
  return s;
}

void append(std::vector<int32_t>& ids, const std::vector<int32_t>& more) {
  ids.insert(ids.end(), more.begin(), more.end());
}

bool ends_inside_think(std::string_view prompt) {
  while (!prompt.empty() && (prompt.back() == '\n' || prompt.back() == ' ')) prompt.remove_suffix(1);
  return prompt.ends_with("<think>");
}

}  // namespace

chat::ChatTemplate template_for(const tok::Tokenizer& tok, std::string* warning) {
  const std::string source = tok.chat_template();
  std::string why = source.empty() ? "the model has no chat template; using ChatML" : "";
  if (!source.empty()) {
    try {
      chat::ChatTemplate t(source);
      if (warning) warning->clear();
      return t;
    } catch (const chat::TemplateError& e) {
      why = std::string("the model's chat template cannot be parsed (") + e.what() + "); using ChatML";
    }
  }
  if (warning) *warning = why;
  return chat::ChatTemplate(chat::chatml_template());
}

std::vector<int32_t> encode_chat(const tok::Tokenizer& tok, const chat::ChatTemplate& tmpl,
                                 const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                 bool enable_thinking, bool* opens_reasoning) {
  // Render with each content replaced by its mark, then encode the template's text with special tokens parsed
  // and each content as plain text.
  std::vector<std::string> contents;
  auto masked = messages;
  for (auto& m : masked) {
    if (!m.is_object() || !m.contains("content") || !m["content"].is_string()) continue;
    contents.push_back(without_marks(m["content"].get<std::string>()));
    std::string mark(1, kMark);
    mark.append(std::to_string(contents.size() - 1)).push_back(kMark);
    m["content"] = mark;
  }
  nlohmann::ordered_json vars = {{"add_generation_prompt", true}, {"enable_thinking", enable_thinking}};
  if (tok.bos() >= 0) vars["bos_token"] = tok.token_text(tok.bos());
  if (tok.eos() >= 0) vars["eos_token"] = tok.token_text(tok.eos());
  const std::string rendered = tmpl.render(masked, tools, vars);
  if (opens_reasoning) *opens_reasoning = ends_inside_think(rendered);

  std::vector<int32_t> ids;
  size_t pos = 0;
  for (size_t a; (a = rendered.find(kMark, pos)) != std::string::npos;) {
    const size_t b = rendered.find(kMark, a + 1);
    if (b == std::string::npos) break;  // cannot happen with our marks; keep the rest as template text
    append(ids, tok.encode(std::string_view(rendered).substr(pos, a - pos), true));
    append(ids, tok.encode(contents.at(std::stoul(rendered.substr(a + 1, b - a - 1))), false));
    pos = b + 1;
  }
  append(ids, tok.encode(std::string_view(rendered).substr(pos), true));
  if (!tok.add_bos() || tok.bos() < 0 || (!ids.empty() && ids.front() == tok.bos())) return ids;
  std::vector<int32_t> with_bos = {tok.bos()};  // the template did not write the BOS the model expects
  append(with_bos, ids);
  return with_bos;
}

}  // namespace rkchat::runtime
