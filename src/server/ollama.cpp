#include "server/ollama.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <ctime>
#include <filesystem>
#include <functional>

#include "tokenizer/tokenizer.h"

namespace rkchat::server::ollama {
namespace {

using Clock = std::chrono::steady_clock;

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count() % 1000000000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:09d}Z", fmt::gmtime(std::chrono::system_clock::to_time_t(t)), ns);
}

std::string now() { return rfc3339(std::chrono::system_clock::now()); }

int64_t ns(double ms) { return static_cast<int64_t>(ms * 1e6); }

// keep_alive: seconds as a number, or a duration string ("5m", "1h", "30s", "0"); negative: forever.
int parse_keep_alive(const ojson& v) {
  if (v.is_number()) return static_cast<int>(v.get<double>());
  if (!v.is_string()) throw bad_request("'keep_alive' must be a number or a duration such as \"5m\"");
  const std::string s = v.get<std::string>();
  size_t used = 0;
  double n = 0;
  try {
    n = std::stod(s, &used);
  } catch (const std::exception&) {
    throw bad_request("'keep_alive' must be a number or a duration such as \"5m\"");
  }
  const std::string unit = s.substr(used);
  if (unit.empty() || unit == "s") return static_cast<int>(n);
  if (unit == "m") return static_cast<int>(n * 60);
  if (unit == "h") return static_cast<int>(n * 3600);
  if (unit == "ms") return static_cast<int>(n / 1000);
  throw bad_request("'keep_alive' has an unknown unit '" + unit + "'");
}

// Fields both endpoints share: model, stream (on unless false), options, think, format, keep_alive.
Parsed parse_common(const ojson& body) {
  Parsed p;
  auto& r = p.request;
  r.stream = true;
  read_string(body, "model", r.model);
  read_bool(body, "stream", r.stream);
  if (auto o = body.find("options"); o != body.end() && !o->is_null()) {
    if (!o->is_object()) throw bad_request("'options' must be an object");
    read_sampling(*o, r);
    read_int(*o, "num_predict", r.generate.max_tokens, -2, 1 << 24);
    if (r.generate.max_tokens < 0) r.generate.max_tokens = -1;  // -2 (fill the context) too
    int num_ctx = 0;
    read_int(*o, "num_ctx", num_ctx, 0, 1 << 24);  // the context is the server's -c; accepted, not changed
  }
  if (auto t = body.find("think"); t != body.end() && !t->is_null()) {
    if (t->is_boolean()) {
      r.enable_thinking = t->get<bool>();
    } else if (!t->is_string()) {
      throw bad_request("'think' must be a boolean or \"low\", \"medium\", \"high\"");
    }
  }
  if (auto f = body.find("format");
      f != body.end() && !f->is_null() && !(f->is_string() && f->get<std::string>().empty()))
    throw bad_request("'format' is not supported: rkchat cannot constrain sampling to JSON");
  if (auto k = body.find("keep_alive"); k != body.end() && !k->is_null()) p.keep_alive_s = parse_keep_alive(*k);
  return p;
}

// Ollama's message fields onto the OpenAI ones that normalize_messages knows.
ojson openai_messages(const ojson& messages) {
  if (!messages.is_array()) throw bad_request("'messages' must be an array");
  ojson out = ojson::array();
  for (const auto& m : messages) {
    if (!m.is_object()) throw bad_request("'messages' entries must be objects");
    ojson n = m;
    if (auto im = n.find("images"); im != n.end()) {
      if (im->is_array() && !im->empty()) throw bad_request("images are not supported by this server's models");
      n.erase("images");
    }
    if (auto th = n.find("thinking"); th != n.end()) {
      n["reasoning_content"] = *th;
      n.erase("thinking");
    }
    if (auto tn = n.find("tool_name"); tn != n.end()) {
      n["name"] = *tn;
      n.erase("tool_name");
    }
    out.push_back(std::move(n));
  }
  return out;
}

ojson message(const Outcome& o) {
  ojson m = {{"role", "assistant"}, {"content", o.content}};
  if (!o.reasoning.empty()) m["thinking"] = o.reasoning;
  if (!o.tool_calls.empty()) {
    m["tool_calls"] = ojson::array();
    for (const auto& c : o.tool_calls)
      m["tool_calls"].push_back({{"function", {{"name", c.name}, {"arguments", ojson(c.arguments)}}}});
  }
  return m;
}

void add_figures(ojson& j, const Generation& g, Clock::time_point started) {
  const auto& o = g.outcomes().front();
  const auto& s = o.stats;
  const double total_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  const auto loaded_at = g.model().loaded_at;
  const auto waited = std::chrono::system_clock::now() - (Clock::now() - started);
  j["done_reason"] = finish_reason(o) == "length" ? "length" : "stop";
  j["total_duration"] = ns(total_ms);
  j["load_duration"] = loaded_at >= waited ? ns(g.model().load_ms) : 0;  // this request waited for the load
  j["prompt_eval_count"] = s.prompt_tokens - s.cached_tokens;
  j["prompt_eval_duration"] = ns(s.prefill_ms);
  j["eval_count"] = s.gen_tokens;
  j["eval_duration"] = ns(s.decode_ms);
}

class Stream : public StreamFormat {
 public:
  Stream(bool chat, std::string model, Clock::time_point started)
      : chat_(chat), model_(std::move(model)), started_(started) {}
  std::string content_type() const override { return "application/x-ndjson"; }

  // A call goes out whole in one object once its block has ended, as Ollama sends them.
  std::string delta(int, const chat::OutputDelta& d) override {
    if (d.reasoning.empty() && d.content.empty() && d.calls_done.empty()) return "";
    ojson j = head();
    if (chat_) {
      Outcome o;
      o.content = d.content;
      o.reasoning = d.reasoning;
      o.tool_calls = d.calls_done;
      j["message"] = message(o);
    } else {
      j["response"] = d.content;
      if (!d.reasoning.empty()) j["thinking"] = d.reasoning;
    }
    j["done"] = false;
    return line(j);
  }

  std::string end(const Generation& g) override {
    ojson j = head();
    if (chat_) {
      j["message"] = {{"role", "assistant"}, {"content", ""}};
    } else {
      j["response"] = "";
    }
    j["done"] = true;
    add_figures(j, g, started_);
    return line(j);
  }

  std::string error(const std::string& message) override { return line({{"error", message}}); }

 private:
  static std::string line(const ojson& j) { return dump(j) + "\n"; }
  ojson head() const { return {{"model", model_}, {"created_at", now()}}; }

  bool chat_;
  std::string model_;
  Clock::time_point started_;
};

// "qwen3 Q8_0" (runtime::ModelEntry::type) -> family and quantization.
std::pair<std::string, std::string> family_and_quant(const runtime::ModelEntry& e) {
  const auto space = e.type.find(' ');
  if (e.type == "rkllm") return {"rkllm", ""};
  if (space == std::string::npos) return {e.type, ""};
  return {e.type.substr(0, space), e.type.substr(space + 1)};
}

// As Ollama writes it: "7.6B", "494.03M", "135.11K".
std::string parameter_size(uint64_t n) {
  const auto x = static_cast<double>(n);
  if (n == 0) return "";
  if (n >= 1000000000ull) return fmt::format("{:.1f}B", x / 1e9);
  if (n >= 1000000ull) return fmt::format("{:.2f}M", x / 1e6);
  if (n >= 1000ull) return fmt::format("{:.2f}K", x / 1e3);
  return std::to_string(n);
}

// Not the file's SHA-256 (hashing gigabytes for a listing is too slow): a stable digest of its path, size and
// modification time, in the same form, that changes when the file does.
std::string digest_of(const runtime::ModelEntry& e) {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(e.path, ec).time_since_epoch().count();
  const auto h1 = std::hash<std::string>{}(e.path);
  const auto h2 = std::hash<std::string>{}(std::to_string(e.size_bytes) + "/" + std::to_string(mtime));
  return fmt::format("{:016x}{:016x}{:016x}{:016x}", h1, h2, h1 ^ (h2 << 1), h2 ^ (h1 >> 1));
}

std::string modified_at(const std::string& path) {
  std::error_code ec;
  const auto t = std::filesystem::last_write_time(path, ec);
  if (ec) return now();
  return rfc3339(std::chrono::time_point_cast<std::chrono::system_clock::duration>(std::chrono::file_clock::to_sys(t)));
}

ojson entry_json(const runtime::ModelEntry& e, const LoadedModel* loaded) {
  auto [family, quant] = family_and_quant(e);
  if (loaded) {
    family = loaded->backend().info().arch;
    quant = loaded->backend().info().quantization;
  }
  const std::string name = ModelPool::name_of(e.path) + ":latest";
  return {{"name", name},
          {"model", name},
          {"modified_at", modified_at(e.path)},
          {"size", e.size_bytes},
          {"digest", digest_of(e)},
          {"details",
           {{"format", e.path.ends_with(".rkllm") ? "rkllm" : "gguf"},
            {"family", family},
            {"families", ojson::array({family})},
            {"parameter_size", parameter_size(loaded ? loaded->backend().info().n_params : e.n_params)},
            {"quantization_level", quant}}}};
}

}  // namespace

Parsed parse_chat(const ojson& body) {
  Parsed p = parse_common(body);
  auto m = body.find("messages");
  if (m == body.end() || m->is_null() || (m->is_array() && m->empty())) {
    p.empty = true;  // Ollama loads (or, with keep_alive 0, unloads) the model for an empty chat
    return p;
  }
  p.request.messages = normalize_messages(openai_messages(*m));
  if (auto tools = body.find("tools"); tools != body.end() && !tools->is_null()) {
    if (!tools->is_array()) throw bad_request("'tools' must be an array");
    if (!tools->empty()) p.request.tools = *tools;
  }
  return p;
}

Parsed parse_generate(const ojson& body) {
  Parsed p = parse_common(body);
  std::string prompt, system;
  bool raw = false;
  read_string(body, "prompt", prompt);
  read_string(body, "system", system);
  read_bool(body, "raw", raw);
  if (auto im = body.find("images"); im != body.end() && im->is_array() && !im->empty())
    throw bad_request("images are not supported by this server's models");
  if (prompt.empty()) {
    p.empty = true;
    return p;
  }
  if (raw) {
    p.request.prompt = prompt;
    return p;
  }
  if (!system.empty()) p.request.messages.push_back({{"role", "system"}, {"content", system}});
  p.request.messages.push_back({{"role", "user"}, {"content", prompt}});
  return p;
}

ojson response(const Generation& g, bool chat, Clock::time_point started) {
  ojson j = {{"model", g.model().name}, {"created_at", now()}};
  const auto& o = g.outcomes().front();
  if (chat) {
    j["message"] = message(o);
  } else {
    j["response"] = o.content;
    if (!o.reasoning.empty()) j["thinking"] = o.reasoning;
  }
  j["done"] = true;
  add_figures(j, g, started);
  return j;
}

std::shared_ptr<StreamFormat> stream_format(bool chat, const std::string& model, Clock::time_point started) {
  return std::make_shared<Stream>(chat, model, started);
}

ojson empty_response(const std::string& model, bool chat, const std::string& reason) {
  ojson j = {{"model", model}, {"created_at", now()}};
  if (chat) {
    j["message"] = {{"role", "assistant"}, {"content", ""}};
  } else {
    j["response"] = "";
  }
  j["done"] = true;
  j["done_reason"] = reason;
  return j;
}

HttpResponse error_response(const ApiError& e) {
  HttpResponse res;
  res.status = e.status();
  res.body = dump({{"error", e.what()}});
  if (e.retry_after_s > 0) res.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s));
  res.log->error = e.type();
  return res;
}

ojson tags(const ModelPool& pool) {
  const auto loaded = pool.loaded();
  ojson models = ojson::array();
  for (const auto& e : pool.available()) {
    const LoadedModel* l = nullptr;
    for (const auto& m : loaded)
      if (m->path == e.path) l = m.get();
    models.push_back(entry_json(e, l));
  }
  return {{"models", models}};
}

ojson show(const LoadedModel& model) {
  const auto& info = model.backend().info();
  const auto* tok = model.backend().tokenizer();
  const std::string tmpl = tok ? tok->chat_template() : "";
  ojson caps = ojson::array({"completion"});
  if (tmpl.find("tools") != std::string::npos) caps.push_back("tools");
  if (tmpl.find("<think>") != std::string::npos || tmpl.find("enable_thinking") != std::string::npos)
    caps.push_back("thinking");
  if (model.backend().capabilities().embeddings) caps.push_back("embedding");
  ojson model_info = {{"general.architecture", info.arch},
                      {"general.name", info.name},
                      {"general.parameter_count", info.n_params},
                      {info.arch + ".context_length", info.n_ctx_train}};
  runtime::ModelEntry e;
  e.path = model.path;
  e.size_bytes = info.file_bytes;
  auto entry = entry_json(e, &model);
  return {{"license", ""},
          {"modelfile", ""},
          {"parameters", ""},
          {"template", tmpl},
          {"details", entry["details"]},
          {"model_info", model_info},
          {"capabilities", caps},
          {"modified_at", entry["modified_at"]}};
}

ojson ps(const ModelPool& pool) {
  ojson models = ojson::array();
  const auto keep = pool.options().model_file.empty() ? pool.options().keep_alive : std::chrono::seconds(0);
  for (const auto& m : pool.loaded()) {
    runtime::ModelEntry e;
    e.path = m->path;
    e.size_bytes = m->backend().info().file_bytes;
    auto j = entry_json(e, m.get());
    // A -m model never expires: a date far ahead, as Ollama shows for keep_alive -1.
    const auto expires = keep.count() > 0 ? std::chrono::system_clock::now() + keep
                                          : std::chrono::system_clock::now() + std::chrono::hours(24 * 365 * 100);
    j.erase("modified_at");
    j["expires_at"] = rfc3339(expires);
    j["size_vram"] = 0;
    j["context_length"] = m->backend().info().n_ctx;
    models.push_back(std::move(j));
  }
  return {{"models", models}};
}

ojson version() { return {{"version", RKCHAT_VERSION}}; }

}  // namespace rkchat::server::ollama
