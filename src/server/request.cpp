#include "server/request.h"

#include <cmath>
#include <limits>

#include "chat/json_input.h"
#include "server/api_error.h"

namespace rkchat::server {
namespace {

const ojson* field(const ojson& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

[[noreturn]] void wrong_type(const char* key, const char* want) {
  throw bad_request(std::string("'") + key + "' must be " + want);
}

// The text of a content: a string, or an array of {"type": "text", "text": ...} parts joined.
std::string content_text(const ojson& content, size_t index) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array())
    throw bad_request("messages[" + std::to_string(index) + "].content must be a string, null or an array of parts");
  std::string text;
  for (const auto& part : content) {
    if (!part.is_object()) throw bad_request("messages[" + std::to_string(index) + "].content parts must be objects");
    const auto type = part.value("type", std::string("text"));
    if (type != "text" && type != "input_text")
      throw bad_request("messages[" + std::to_string(index) + "]: content of type '" + type +
                        "' is not supported (only text)");
    auto t = part.find("text");
    if (t == part.end() || !t->is_string())
      throw bad_request("messages[" + std::to_string(index) + "]: a text part needs a string 'text'");
    text += t->get<std::string>();
  }
  return text;
}

// OpenAI sends tool-call arguments as a JSON string; templates want the object.
ojson normalize_tool_calls(const ojson& calls, size_t index) {
  if (!calls.is_array()) throw bad_request("messages[" + std::to_string(index) + "].tool_calls must be an array");
  ojson out = ojson::array();
  for (const auto& c : calls) {
    if (!c.is_object()) throw bad_request("messages[" + std::to_string(index) + "].tool_calls entries must be objects");
    ojson call = c;
    ojson& fn = call.contains("function") ? call["function"] : call;
    if (!fn.is_object() || !fn.contains("name") || !fn["name"].is_string())
      throw bad_request("messages[" + std::to_string(index) + "]: a tool call needs function.name");
    if (fn.contains("arguments") && fn["arguments"].is_string()) {
      try {
        fn["arguments"] = chat::parse_ordered_json_input(fn["arguments"].get<std::string>());
      } catch (const chat::JsonInputError&) {
        // not JSON: the template gets the string as sent
      }
    }
    out.push_back(std::move(call));
  }
  return out;
}

}  // namespace

void read_string(const ojson& obj, const char* key, std::string& out) {
  const auto* v = field(obj, key);
  if (!v) return;
  if (!v->is_string()) wrong_type(key, "a string");
  out = v->get<std::string>();
}

void read_bool(const ojson& obj, const char* key, bool& out) {
  const auto* v = field(obj, key);
  if (!v) return;
  if (!v->is_boolean()) wrong_type(key, "a boolean");
  out = v->get<bool>();
}

void read_int(const ojson& obj, const char* key, int& out, int lo, int hi) {
  const auto* v = field(obj, key);
  if (!v) return;
  if (!v->is_number_integer() && !(v->is_number_float() && std::floor(v->get<double>()) == v->get<double>()))
    wrong_type(key, "an integer");
  const double d = v->get<double>();
  if (d < lo || d > hi)
    throw bad_request(std::string("'") + key + "' must be between " + std::to_string(lo) + " and " +
                      std::to_string(hi));
  out = static_cast<int>(d);
}

void read_float(const ojson& obj, const char* key, float& out, double lo, double hi) {
  const auto* v = field(obj, key);
  if (!v) return;
  if (!v->is_number()) wrong_type(key, "a number");
  const double d = v->get<double>();
  if (!(d >= lo && d <= hi))
    throw bad_request(std::string("'") + key + "' must be between " + std::to_string(lo) + " and " +
                      std::to_string(hi));
  out = static_cast<float>(d);
}

void read_stop(const ojson& obj, const char* key, std::vector<std::string>& out) {
  const auto* v = field(obj, key);
  if (!v) return;
  if (v->is_string()) {
    out = {v->get<std::string>()};
    return;
  }
  if (!v->is_array() || v->size() > 16) wrong_type(key, "a string or an array of at most 16 strings");
  out.clear();
  for (const auto& s : *v) {
    if (!s.is_string()) wrong_type(key, "a string or an array of at most 16 strings");
    if (!s.get<std::string>().empty()) out.push_back(s.get<std::string>());
  }
}

void read_sampling(const ojson& obj, ChatRequest& r) {
  auto& s = r.generate.sampling;
  read_float(obj, "temperature", s.temperature, 0, 100);
  read_float(obj, "top_p", s.top_p, 0, 1);
  read_int(obj, "top_k", s.top_k, 0, 1 << 20);
  read_float(obj, "min_p", s.min_p, 0, 1);
  read_float(obj, "presence_penalty", s.presence_penalty, -2, 2);
  read_float(obj, "frequency_penalty", s.frequency_penalty, -2, 2);
  read_float(obj, "repeat_penalty", s.repeat_penalty, 0, 10);
  read_int(obj, "repeat_last_n", s.repeat_last_n, 0, 1 << 20);
  if (const auto* seed = field(obj, "seed")) {
    if (!seed->is_number_integer()) wrong_type("seed", "an integer");
    s.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : static_cast<uint64_t>(seed->get<int64_t>());
  }
  read_stop(obj, "stop", r.stop);
  read_bool(obj, "ignore_eos", r.generate.ignore_eos);  // llama-server's extension: run to the token limit
}

ojson parse_body(const std::string& body) {
  ojson j;
  try {
    j = chat::parse_ordered_json_input(body);
  } catch (const chat::JsonInputError& e) {
    throw bad_request(std::string("malformed JSON: ") + e.what());
  }
  if (!j.is_object()) throw bad_request("the request body must be a JSON object");
  return j;
}

ojson normalize_messages(const ojson& messages) {
  if (!messages.is_array()) throw bad_request("'messages' must be an array");
  if (messages.empty()) throw bad_request("'messages' must not be empty");
  ojson out = ojson::array();
  std::string previous;
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object() || m.empty()) throw bad_request(at + " must be a non-empty object");
    auto role_it = m.find("role");
    if (role_it == m.end() || !role_it->is_string()) throw bad_request(at + ".role must be a string");
    std::string role = role_it->get<std::string>();
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant" && role != "tool")
      throw bad_request(at + ".role must be system, user, assistant or tool, not '" + role + "'");
    if (role == "assistant" && previous == "assistant")
      throw bad_request(at + ": two assistant messages in a row with nothing between them");
    ojson n = {{"role", role}};
    auto c = m.find("content");
    const bool has_calls = m.contains("tool_calls") && !m["tool_calls"].is_null();
    if (c == m.end() || c->is_null()) {
      if (role != "assistant" || !has_calls) throw bad_request(at + " needs a content");
      n["content"] = "";
    } else {
      n["content"] = content_text(*c, i);
    }
    if (has_calls) {
      if (role != "assistant") throw bad_request(at + ": only assistant messages carry tool_calls");
      n["tool_calls"] = normalize_tool_calls(m["tool_calls"], i);
    }
    for (const char* key : {"name", "tool_call_id", "reasoning_content"}) {
      auto it = m.find(key);
      if (it == m.end() || it->is_null()) continue;
      if (!it->is_string()) throw bad_request(at + "." + key + " must be a string");
      n[key] = *it;
    }
    previous = role;
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace rkchat::server
