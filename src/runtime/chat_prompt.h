// A conversation rendered with a model's chat template and turned into token ids: shared by the console's chat
// session and the server (which renders each request's messages, with its tools and thinking switch).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat/template.h"

namespace rkchat::tok {
class Tokenizer;
}

namespace rkchat::runtime {

// The model's own template, or ChatML when it has none or it cannot be parsed; *warning (when given) says why
// the model's template is not used ("" when it is).
chat::ChatTemplate template_for(const tok::Tokenizer& tok, std::string* warning = nullptr);

// The token ids of messages rendered with the template (generation prompt added). String contents are encoded
// as plain text, so a user who types "<|im_end|>" gets those characters, not the control token. tools: an array
// or null. *opens_reasoning: the rendered prompt ends inside a <think> block. Throws chat::TemplateError.
std::vector<int32_t> encode_chat(const tok::Tokenizer& tok, const chat::ChatTemplate& tmpl,
                                 const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                 bool enable_thinking, bool* opens_reasoning = nullptr);

}  // namespace rkchat::runtime
