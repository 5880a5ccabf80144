#include "server/anthropic.h"

namespace rkchat::server::anthropic {
namespace {

std::string text_of(const ojson& content, const std::string& at) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) throw bad_request(at + " must be a string or an array of blocks");
  std::string text;
  for (const auto& b : content) {
    if (!b.is_object()) throw bad_request(at + " blocks must be objects");
    if (b.value("type", "") != "text") continue;
    if (!b.contains("text") || !b["text"].is_string()) throw bad_request(at + ": a text block needs a string 'text'");
    text += b["text"].get<std::string>();
  }
  return text;
}

// One Anthropic message -> OpenAI-style messages: tool_result blocks become tool messages (before the user's text),
// tool_use blocks the assistant's tool_calls, thinking blocks its reasoning_content.
void append_message(const ojson& m, size_t i, ojson& out) {
  const std::string at = "messages[" + std::to_string(i) + "]";
  if (!m.is_object() || m.empty()) throw bad_request(at + " must be a non-empty object");
  if (!m.contains("role") || !m["role"].is_string()) throw bad_request(at + ".role must be a string");
  const std::string role = m["role"].get<std::string>();
  if (role != "user" && role != "assistant") throw bad_request(at + ".role must be user or assistant");
  if (!m.contains("content")) throw bad_request(at + " needs a content");
  const auto& content = m["content"];
  if (content.is_string()) {
    out.push_back({{"role", role}, {"content", content}});
    return;
  }
  if (!content.is_array()) throw bad_request(at + ".content must be a string or an array of blocks");
  ojson msg = {{"role", role}, {"content", ""}};
  std::string text, thinking;
  ojson calls = ojson::array();
  for (const auto& b : content) {
    if (!b.is_object() || !b.contains("type") || !b["type"].is_string())
      throw bad_request(at + ": each block needs a string 'type'");
    const std::string type = b["type"].get<std::string>();
    if (type == "text") {
      text += text_of(ojson::array({b}), at);
    } else if (type == "thinking") {
      thinking += b.value("thinking", "");
    } else if (type == "redacted_thinking") {
      continue;
    } else if (type == "tool_use" && role == "assistant") {
      if (!b.contains("name") || !b["name"].is_string()) throw bad_request(at + ": tool_use needs a name");
      calls.push_back({{"id", b.value("id", "")},
                       {"type", "function"},
                       {"function", {{"name", b["name"]}, {"arguments", b.value("input", ojson::object())}}}});
    } else if (type == "tool_result" && role == "user") {
      const auto c = b.contains("content") ? b["content"] : ojson("");
      out.push_back({{"role", "tool"}, {"tool_call_id", b.value("tool_use_id", "")}, {"content", text_of(c, at)}});
    } else {
      throw bad_request(at + ": blocks of type '" + type + "' are not supported here");
    }
  }
  if (text.empty() && thinking.empty() && calls.empty()) return;  // only tool results
  msg["content"] = text;
  if (!thinking.empty()) msg["reasoning_content"] = thinking;
  if (!calls.empty()) msg["tool_calls"] = calls;
  out.push_back(std::move(msg));
}

std::string stop_reason(const Outcome& o) {
  const std::string why = finish_reason(o);
  if (why == "length") return "max_tokens";
  if (why == "tool_calls") return "tool_use";
  return o.stop_string ? "stop_sequence" : "end_turn";
}

std::string anthropic_type(const std::string& type) {
  if (type == "unavailable_error") return "overloaded_error";
  if (type == "exceed_context_size_error") return "invalid_request_error";
  if (type == "server_error") return "api_error";
  return type;
}

ojson usage(const Generation& g, int output_tokens) {
  const auto& s = g.outcomes().front().stats;
  const int prompt = s.prompt_tokens > 0 ? s.prompt_tokens : g.prompt_tokens();
  return {{"input_tokens", prompt - s.cached_tokens},
          {"cache_read_input_tokens", s.cached_tokens},
          {"output_tokens", output_tokens}};
}

ojson tool_use(const chat::ToolCall& c) {
  return {{"type", "tool_use"}, {"id", random_id("toolu_")}, {"name", c.name}, {"input", ojson(c.arguments)}};
}

class Stream : public StreamFormat {
 public:
  Stream(std::string model, int input_tokens) : model_(std::move(model)), input_tokens_(input_tokens) {}
  std::string content_type() const override { return "text/event-stream"; }

  std::string begin() override {
    return event("message_start", {{"type", "message_start"},
                                   {"message",
                                    {{"id", random_id("msg_")},
                                     {"type", "message"},
                                     {"role", "assistant"},
                                     {"model", model_},
                                     {"content", ojson::array()},
                                     {"stop_reason", nullptr},
                                     {"stop_sequence", nullptr},
                                     {"usage", {{"input_tokens", input_tokens_}, {"output_tokens", 0}}}}}});
  }

  std::string delta(int, const chat::OutputDelta& d) override {
    std::string out;
    if (!d.reasoning.empty()) {
      out += open("thinking", {{"type", "thinking"}, {"thinking", ""}});
      out += event("content_block_delta", {{"type", "content_block_delta"},
                                           {"index", index_},
                                           {"delta", {{"type", "thinking_delta"}, {"thinking", d.reasoning}}}});
    }
    if (!d.content.empty()) {
      out += open("text", {{"type", "text"}, {"text", ""}});
      out += event("content_block_delta", {{"type", "content_block_delta"},
                                           {"index", index_},
                                           {"delta", {{"type", "text_delta"}, {"text", d.content}}}});
    }
    // A call opens its tool_use block (input {}); its arguments follow as input_json_delta fragments.
    for (const auto& f : d.tool_calls) {
      if (!f.name.empty())
        out += open("tool_use",
                    {{"type", "tool_use"}, {"id", random_id("toolu_")}, {"name", f.name}, {"input", ojson::object()}});
      if (!f.arguments.empty())
        out += event("content_block_delta", {{"type", "content_block_delta"},
                                             {"index", index_},
                                             {"delta", {{"type", "input_json_delta"}, {"partial_json", f.arguments}}}});
    }
    return out;
  }

  std::string end(const Generation& g) override {
    const auto& o = g.outcomes().front();
    std::string out = close();
    out += event("message_delta", {{"type", "message_delta"},
                                   {"delta", {{"stop_reason", stop_reason(o)}, {"stop_sequence", nullptr}}},
                                   {"usage", usage(g, o.stats.gen_tokens)}});
    return out + event("message_stop", {{"type", "message_stop"}});
  }

  std::string error(const std::string& message) override {
    return close() + event("error", {{"type", "error"}, {"error", {{"type", "api_error"}, {"message", message}}}});
  }

 private:
  static std::string event(const char* name, const ojson& j) {
    return std::string("event: ") + name + "\ndata: " + dump(j) + "\n\n";
  }
  // Opens a block of this kind unless one is open (closing another kind first).
  std::string open(const std::string& kind, const ojson& block) {
    if (open_ == kind && kind != "tool_use") return "";
    std::string out = close();
    index_ = next_index_++;
    open_ = kind;
    return out +
           event("content_block_start", {{"type", "content_block_start"}, {"index", index_}, {"content_block", block}});
  }
  std::string close() {
    if (open_.empty()) return "";
    open_.clear();
    return event("content_block_stop", {{"type", "content_block_stop"}, {"index", index_}});
  }

  std::string model_;
  int input_tokens_;
  std::string open_;  // the kind of the open block, "" when none
  int index_ = 0, next_index_ = 0;
};

}  // namespace

ChatRequest parse_messages(const ojson& body) {
  ChatRequest r;
  r.enable_thinking = false;  // Anthropic's default: no thinking unless asked for
  read_string(body, "model", r.model);
  read_bool(body, "stream", r.stream);
  read_int(body, "max_tokens", r.generate.max_tokens, 1, 1 << 24);
  read_sampling(body, r);
  read_stop(body, "stop_sequences", r.stop);
  ojson messages = ojson::array();
  if (auto s = body.find("system"); s != body.end() && !s->is_null()) {
    const std::string system = text_of(*s, "system");
    if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
  }
  auto m = body.find("messages");
  if (m == body.end() || !m->is_array() || m->empty()) throw bad_request("'messages' must be a non-empty array");
  for (size_t i = 0; i < m->size(); ++i) append_message((*m)[i], i, messages);
  r.messages = normalize_messages(messages);
  if (auto t = body.find("thinking"); t != body.end() && !t->is_null()) {
    if (!t->is_object()) throw bad_request("'thinking' must be an object");
    r.enable_thinking = t->value("type", "") == "enabled";
  }
  if (auto tools = body.find("tools"); tools != body.end() && !tools->is_null()) {
    if (!tools->is_array()) throw bad_request("'tools' must be an array");
    ojson converted = ojson::array();
    for (const auto& t : *tools) {
      if (!t.is_object() || !t.contains("name") || !t["name"].is_string())
        throw bad_request("each tool needs a string 'name'");
      converted.push_back({{"type", "function"},
                           {"function",
                            {{"name", t["name"]},
                             {"description", t.value("description", "")},
                             {"parameters", t.value("input_schema", ojson::object())}}}});
    }
    if (!converted.empty()) r.tools = converted;
  }
  if (auto c = body.find("tool_choice"); c != body.end() && c->is_object() && c->value("type", "") == "none")
    r.tools = nullptr;
  return r;
}

ojson response(const Generation& g) {
  const auto& o = g.outcomes().front();
  ojson content = ojson::array();
  if (!o.reasoning.empty()) content.push_back({{"type", "thinking"}, {"thinking", o.reasoning}, {"signature", ""}});
  if (!o.content.empty() || o.tool_calls.empty()) content.push_back({{"type", "text"}, {"text", o.content}});
  for (const auto& c : o.tool_calls) content.push_back(tool_use(c));
  return {{"id", random_id("msg_")},  {"type", "message"},
          {"role", "assistant"},      {"model", g.model().name},
          {"content", content},       {"stop_reason", stop_reason(o)},
          {"stop_sequence", nullptr}, {"usage", usage(g, o.stats.gen_tokens)}};
}

std::shared_ptr<StreamFormat> stream_format(const Generation& g) {
  return std::make_shared<Stream>(g.model().name, g.prompt_tokens());
}

std::string error_body(int, const std::string& type, const std::string& message) {
  return dump({{"type", "error"}, {"error", {{"type", anthropic_type(type)}, {"message", message}}}});
}

HttpResponse error_response(const ApiError& e) {
  HttpResponse res;
  res.status = e.status();
  res.body = error_body(e.status(), e.type(), e.what());
  if (e.retry_after_s > 0) res.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s));
  res.log->error = e.type();
  return res;
}

}  // namespace rkchat::server::anthropic
