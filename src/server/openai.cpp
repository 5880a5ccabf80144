#include "server/openai.h"

#include "runtime/figures.h"
#include "server/models.h"

namespace rkchat::server::openai {
namespace {

void read_max_tokens(const ojson& body, ChatRequest& r) {
  for (const char* key : {"max_tokens", "max_completion_tokens", "n_predict"}) {
    int n = r.generate.max_tokens;
    read_int(body, key, n, -1, 1 << 24);
    if (n == 0) throw bad_request(std::string("'") + key + "' must be at least 1 (or -1: no limit)");
    r.generate.max_tokens = n;
  }
}

void read_common(const ojson& body, ChatRequest& r) {
  read_string(body, "model", r.model);
  read_bool(body, "stream", r.stream);
  read_sampling(body, r);
  read_max_tokens(body, r);
  read_int(body, "n", r.n, 1, 256);
  if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) throw bad_request("'stream_options' must be an object");
    read_bool(*it, "include_usage", r.include_usage);
  }
}

ojson tool_call_json(const chat::ToolCall& c) {
  return {{"id", random_id("call_")},
          {"type", "function"},
          {"function", {{"name", c.name}, {"arguments", c.arguments_text}}}};
}

// A streamed call: the first fragment has index, id, type and function.name (arguments ""), the others add to
// function.arguments.
ojson tool_call_fragment(const chat::ToolCallDelta& f) {
  if (f.name.empty()) return {{"index", f.index}, {"function", {{"arguments", f.arguments}}}};
  return {{"index", f.index},
          {"id", random_id("call_")},
          {"type", "function"},
          {"function", {{"name", f.name}, {"arguments", f.arguments}}}};
}

ojson message_json(const Outcome& o) {
  ojson m = {{"role", "assistant"}, {"content", o.content}};
  if (!o.reasoning.empty()) m["reasoning_content"] = o.reasoning;
  if (!o.tool_calls.empty()) {
    m["tool_calls"] = ojson::array();
    for (const auto& c : o.tool_calls) m["tool_calls"].push_back(tool_call_json(c));
    if (o.content.empty()) m["content"] = nullptr;
  }
  return m;
}

class Stream : public StreamFormat {
 public:
  Stream(bool chat, bool include_usage, std::string model)
      : chat_(chat),
        include_usage_(include_usage),
        model_(std::move(model)),
        id_(random_id(chat ? "chatcmpl-" : "cmpl-")),
        created_(unix_time()) {}

  std::string content_type() const override { return "text/event-stream"; }

  std::string begin() override {
    if (!chat_) return "";
    return event(choice_chunk(0, {{"role", "assistant"}, {"content", nullptr}}, nullptr));
  }

  std::string delta(int choice, const chat::OutputDelta& d) override {
    if (!chat_) return event(text_chunk(choice, d.content, nullptr));
    std::string out;
    ojson delta = ojson::object();
    if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
    if (!d.content.empty()) delta["content"] = d.content;
    if (!delta.empty()) out += event(choice_chunk(choice, delta, nullptr));
    for (const auto& f : d.tool_calls)
      out += event(choice_chunk(choice, {{"tool_calls", ojson::array({tool_call_fragment(f)})}}, nullptr));
    return out;
  }

  std::string end(const Generation& g) override {
    std::string out;
    const auto& outcomes = g.outcomes();
    for (size_t i = 0; i < outcomes.size(); ++i) {
      const int choice = static_cast<int>(i);
      const auto& o = outcomes[i];
      auto last =
          chat_ ? choice_chunk(choice, ojson::object(), finish_reason(o)) : text_chunk(choice, "", finish_reason(o));
      if (i + 1 == outcomes.size()) last["timings"] = timings(g);
      out += event(last);
    }
    if (include_usage_) {
      auto u = head();
      u["choices"] = ojson::array();
      u["usage"] = usage(g);
      u["timings"] = timings(g);
      out += event(u);
    }
    return out + "data: [DONE]\n\n";
  }

  std::string error(const std::string& message) override {
    return event({{"error", {{"code", 500}, {"message", message}, {"type", "server_error"}}}});
  }

 private:
  static std::string event(const ojson& j) { return "data: " + dump(j) + "\n\n"; }

  ojson head() const {
    return {{"id", id_},
            {"object", chat_ ? "chat.completion.chunk" : "text_completion"},
            {"created", created_},
            {"model", model_}};
  }
  ojson choice_chunk(int choice, ojson delta, ojson finish) const {
    auto j = head();
    j["choices"] =
        ojson::array({{{"index", choice}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}}});
    return j;
  }
  ojson text_chunk(int choice, const std::string& text, ojson finish) const {
    auto j = head();
    j["choices"] = ojson::array({{{"index", choice}, {"text", text}, {"finish_reason", std::move(finish)}}});
    return j;
  }

  bool chat_, include_usage_;
  std::string model_, id_;
  int64_t created_;
};

}  // namespace

ChatRequest parse_chat(const ojson& body) {
  ChatRequest r;
  read_common(body, r);
  auto messages = body.find("messages");
  if (messages == body.end()) throw bad_request("'messages' is required");
  r.messages = normalize_messages(*messages);
  if (auto tools = body.find("tools"); tools != body.end() && !tools->is_null()) {
    if (!tools->is_array()) throw bad_request("'tools' must be an array");
    for (const auto& t : *tools)
      if (!t.is_object()) throw bad_request("'tools' entries must be objects");
    if (!tools->empty()) r.tools = *tools;
  }
  if (auto choice = body.find("tool_choice"); choice != body.end() && !choice->is_null()) {
    if (!choice->is_string() && !choice->is_object()) throw bad_request("'tool_choice' must be a string or an object");
    if (choice->is_string() && *choice == "none") r.tools = nullptr;  // the model is not told of any tool
  }
  if (auto kw = body.find("chat_template_kwargs"); kw != body.end() && !kw->is_null()) {
    if (!kw->is_object()) throw bad_request("'chat_template_kwargs' must be an object");
    read_bool(*kw, "enable_thinking", r.enable_thinking);
  }
  std::string effort;
  read_string(body, "reasoning_effort", effort);
  if (effort == "none") r.enable_thinking = false;
  if (auto rf = body.find("response_format"); rf != body.end() && !rf->is_null()) {
    if (!rf->is_object()) throw bad_request("'response_format' must be an object");
    std::string type = "text";
    read_string(*rf, "type", type);
    if (type != "text")
      throw bad_request("response_format '" + type +
                        "' is not supported: rkchat cannot constrain sampling to JSON (use 'text' and ask for JSON in "
                        "the prompt)");
  }
  return r;
}

ChatRequest parse_completion(const ojson& body) {
  ChatRequest r;
  read_common(body, r);
  auto p = body.find("prompt");
  if (p == body.end() || p->is_null()) throw bad_request("'prompt' is required");
  if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
    r.prompt = (*p)[0].get<std::string>();
  } else if (p->is_string()) {
    r.prompt = p->get<std::string>();
  } else {
    throw bad_request("'prompt' must be a string (or an array of one string)");
  }
  if (r.prompt->empty()) throw bad_request("'prompt' must not be empty");
  return r;
}

ojson usage(const Generation& g) {
  int completion = 0;
  for (const auto& o : g.outcomes()) completion += o.stats.gen_tokens;
  const auto& s = g.outcomes().front().stats;
  const int prompt = s.prompt_tokens > 0 ? s.prompt_tokens : g.prompt_tokens();
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion},
          {"prompt_tokens_details", {{"cached_tokens", s.cached_tokens}}}};
}

ojson timings(const Generation& g) {
  const auto& s = g.outcomes().front().stats;
  const int prompt_n = s.prompt_tokens - s.cached_tokens;
  return {{"cache_n", s.cached_tokens},
          {"prompt_n", prompt_n},
          {"prompt_ms", s.prefill_ms},
          {"prompt_per_token_ms", prompt_n > 0 ? s.prefill_ms / prompt_n : 0.0},
          {"prompt_per_second", runtime::prefill_tok_s(s)},
          {"predicted_n", s.gen_tokens},
          {"predicted_ms", s.decode_ms},
          {"predicted_per_token_ms", s.gen_tokens > 0 ? s.decode_ms / s.gen_tokens : 0.0},
          {"predicted_per_second", runtime::decode_tok_s(s)}};
}

ojson chat_response(const Generation& g, const std::string& id, int64_t created) {
  ojson choices = ojson::array();
  for (size_t i = 0; i < g.outcomes().size(); ++i) {
    const auto& o = g.outcomes()[i];
    choices.push_back({{"index", i}, {"message", message_json(o)}, {"finish_reason", finish_reason(o)}});
  }
  return {{"id", id},           {"object", "chat.completion"}, {"created", created},   {"model", g.model().name},
          {"choices", choices}, {"usage", usage(g)},           {"timings", timings(g)}};
}

ojson completion_response(const Generation& g, const std::string& id, int64_t created) {
  ojson choices = ojson::array();
  for (size_t i = 0; i < g.outcomes().size(); ++i) {
    const auto& o = g.outcomes()[i];
    choices.push_back({{"index", i}, {"text", o.content}, {"finish_reason", finish_reason(o)}});
  }
  return {{"id", id},           {"object", "text_completion"}, {"created", created},   {"model", g.model().name},
          {"choices", choices}, {"usage", usage(g)},           {"timings", timings(g)}};
}

std::shared_ptr<StreamFormat> stream_format(bool chat, bool include_usage, const std::string& model) {
  return std::make_shared<Stream>(chat, include_usage, model);
}

std::string error_body(int status, const std::string& type, const std::string& message) {
  return dump({{"error", {{"code", status}, {"message", message}, {"type", type}}}});
}

HttpResponse error_response(const ApiError& e) {
  HttpResponse res;
  res.status = e.status();
  ojson err = {{"code", e.status()}, {"message", e.what()}, {"type", e.type()}};
  if (e.type() == "exceed_context_size_error") {
    err["n_prompt_tokens"] = e.n_prompt_tokens;
    err["n_ctx"] = e.n_ctx;
  }
  res.body = dump({{"error", err}});
  if (e.retry_after_s > 0) res.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s));
  res.log->error = e.type();
  return res;
}

ojson models_list(const std::vector<runtime::ModelEntry>& models, int64_t created) {
  ojson data = ojson::array();
  for (const auto& m : models) {
    // Beyond OpenAI's fields, what a model picker shows: size, quantization ("qwen3 Q8_0" -> "Q8_0"), backend.
    const bool npu = m.path.ends_with(".rkllm");
    const auto space = m.type.starts_with("unreadable") ? std::string::npos : m.type.find(' ');
    data.push_back({{"id", ModelPool::name_of(m.path)},
                    {"object", "model"},
                    {"created", created},
                    {"owned_by", "rkchat"},
                    {"size", m.size_bytes},
                    {"quantization", npu || space == std::string::npos ? "" : m.type.substr(space + 1)},
                    {"backend", npu ? "npu" : "cpu"}});
  }
  return {{"object", "list"}, {"data", data}};
}

}  // namespace rkchat::server::openai
