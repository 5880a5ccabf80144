// JSON that a user or a client sends (a messages file, a request body). nlohmann's parser is iterative, but
// copying, comparing, dumping and converting the parsed value all recurse: a document nested 10^6 deep parses
// and then overflows the stack at its first copy. These readers refuse such nesting before parsing, and turn
// every parse failure (out-of-range numbers included) into one error type.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>

namespace rkchat::chat {

class JsonInputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The deepest nesting of arrays and objects accepted: what a chat template can take (jinja::kMaxJsonDepth).
int max_json_input_depth();

// Throws JsonInputError("JSON nested deeper than N levels (at byte B)") when `text` nests deeper than
// `max_depth`; a single scan that does not validate anything else.
void check_json_depth(std::string_view text, int max_depth);

// Parse after check_json_depth(text, max_json_input_depth()); throws JsonInputError with nlohmann's message.
nlohmann::json parse_json_input(std::string_view text);
nlohmann::ordered_json parse_ordered_json_input(std::string_view text);

}  // namespace rkchat::chat
