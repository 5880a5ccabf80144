#include "chat/json_input.h"

#include <string>

#include "chat/jinja_value.h"

namespace rkchat::chat {

namespace {

template <class Json>
Json parse_limited(std::string_view text) {
  check_json_depth(text, max_json_input_depth());
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for numbers such as 1e999
    throw JsonInputError(e.what());
  }
}

}  // namespace

int max_json_input_depth() { return jinja::kMaxJsonDepth; }

void check_json_depth(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        throw JsonInputError("JSON nested deeper than " + std::to_string(max_depth) + " levels (at byte " +
                             std::to_string(i) + ")");
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

nlohmann::json parse_json_input(std::string_view text) { return parse_limited<nlohmann::json>(text); }

nlohmann::ordered_json parse_ordered_json_input(std::string_view text) {
  return parse_limited<nlohmann::ordered_json>(text);
}

}  // namespace rkchat::chat
