#include "cli/remote_chat.h"

#include <fmt/format.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/console.h"
#include "cli/terminal_input.h"
#include "runtime/chat_commands.h"
#include "runtime/figures.h"

namespace rkchat::cli {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxErrorBody = 64 * 1024;  // an error body beyond this is not ours to show whole
constexpr size_t kMaxLine = 16 << 20;        // one SSE line; a server sending more is broken

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// "http://host:8080/prefix/" -> origin "http://host:8080", prefix "/prefix" (a trailing /v1 is dropped too, since
// users copy the base URL of OpenAI clients).
void split_url(const std::string& url, std::string& origin, std::string& prefix) {
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  origin = url.substr(0, slash);
  prefix = slash == std::string::npos ? "" : url.substr(slash);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (prefix.size() >= 3 && prefix.compare(prefix.size() - 3, 3, "/v1") == 0) prefix.resize(prefix.size() - 3);
}

// The message of an OpenAI-shaped error body, else the body itself (shortened).
std::string error_text(int status, const std::string& body) {
  std::string message;
  try {
    const auto j = json::parse(body);
    const auto& e = j.at("error");
    message = e.is_string() ? e.get<std::string>() : e.at("message").get<std::string>();
  } catch (const std::exception&) {
    message = body.substr(0, 300);
  }
  std::string hint;
  if (status == 401) hint = " (check --api-key or RKCHAT_API_KEY)";
  if (status == 503) hint = " (the server is busy; try again)";
  return fmt::format("the server answered {}: {}{}", status, message, hint);
}

class RemoteChat {
 public:
  explicit RemoteChat(const RemoteOptions& o) : url_(o.url), model_(o.model) {
    std::string origin;
    split_url(o.url, origin, prefix_);
    client_ = std::make_unique<httplib::Client>(origin);
    if (!client_->is_valid()) throw backends::Error("not a server address: " + o.url);
    client_->set_connection_timeout(10);
    client_->set_read_timeout(600);  // a long prompt on a slow board can take minutes before the first token
    if (!o.api_key.empty()) client_->set_bearer_token_auth(o.api_key);
    options_.system = o.prompt.system;
    options_.stop = o.prompt.stop;
    options_.enable_thinking = !o.prompt.no_think;
    options_.generate = o.generate;
  }

  // Checks that the server answers and takes our key, and picks the model. Throws with what went wrong.
  void connect() {
    auto res = client_->Get(prefix_ + "/v1/models");
    if (!res) throw backends::Error(unreachable(res.error()));
    if (res->status != 200) throw backends::Error(error_text(res->status, res->body));
    std::vector<std::string> names;
    try {
      const auto list = json::parse(res->body);
      for (const auto& m : list.at("data")) names.push_back(m.at("id").get<std::string>());
    } catch (const std::exception& e) {
      throw backends::Error(fmt::format("{}/v1/models: not an OpenAI model list ({})", url_, e.what()));
    }
    if (names.empty()) throw backends::Error(url_ + " serves no model");
    if (model_.empty()) model_ = names.front();
    if (std::find(names.begin(), names.end(), model_) == names.end()) {
      std::string all;
      for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
      throw backends::Error(fmt::format("{} has no model '{}' (it has: {})", url_, model_, all));
    }
    std::cerr << "connected to " << url_ << ", model " << model_ << "\n";
  }

  runtime::ChatControls controls() {
    return {options_, [this] { history_ = json::array(); },
            [this](std::ostream& out) {
              out << "server: " << url_ << "\nmodel: " << model_ << "\n";
              out << "messages in the conversation: " << history_.size() << "\n";
              runtime::print_totals(totals_, out);
            }};
  }

  void answer(const std::string& text, TerminalInput& input, const ChatStyle& st, bool interactive);

 private:
  struct Turn {
    std::string content;
    std::string error;
    std::string finish;  // finish_reason of the last choice chunk
    json usage, timings;
    double ttft_ms = 0;
    bool in_reasoning = false;
  };

  std::string unreachable(httplib::Error e) const {
    const char* why = e == httplib::Error::Connection          ? "no connection; is `rkchat serve` running there?"
                      : e == httplib::Error::ConnectionTimeout ? "the connection timed out"
                      : e == httplib::Error::Read              ? "the connection broke or the answer timed out"
                                                               : nullptr;
    return fmt::format("cannot reach {}: {}", url_, why ? why : httplib::to_string(e));
  }
  json request_body(const std::string& text) const;
  bool attempt(const std::string& text, TerminalInput& input, const ChatStyle& st, bool interactive);
  void on_event(const std::string& data, Turn& t, Clock::time_point t0, const ChatStyle& st, bool interactive);
  void report(const Turn& t, double total_ms, const ChatStyle& st);

  std::string url_, prefix_, model_;
  std::unique_ptr<httplib::Client> client_;
  runtime::SessionOptions options_;
  json history_ = json::array();  // user and assistant messages, oldest first
  runtime::SessionTotals totals_;
  std::atomic<bool> stopping_{false};
  int dropped_ = 0;  // turns dropped to fit this one
};

json RemoteChat::request_body(const std::string& text) const {
  json messages = json::array();
  if (!options_.system.empty()) messages.push_back({{"role", "system"}, {"content", options_.system}});
  for (const auto& m : history_) messages.push_back(m);
  messages.push_back({{"role", "user"}, {"content", text}});
  const auto& g = options_.generate;
  const auto& s = g.sampling;
  json body = {{"model", model_},
               {"messages", messages},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}},
               {"chat_template_kwargs", {{"enable_thinking", options_.enable_thinking}}},
               {"temperature", s.temperature},
               {"top_k", s.top_k},
               {"top_p", s.top_p},
               {"min_p", s.min_p},
               {"repeat_penalty", s.repeat_penalty},
               {"repeat_last_n", s.repeat_last_n},
               {"presence_penalty", s.presence_penalty},
               {"frequency_penalty", s.frequency_penalty},
               {"seed", s.seed}};
  if (g.max_tokens > 0) body["max_tokens"] = g.max_tokens;
  if (!options_.stop.empty()) body["stop"] = options_.stop;
  return body;
}

// One SSE data payload: text deltas are printed as they come, like the local chat prints its pieces.
void RemoteChat::on_event(const std::string& data, Turn& t, Clock::time_point t0, const ChatStyle& st,
                          bool interactive) {
  if (data == "[DONE]") return;
  json j;
  try {
    j = json::parse(data);
  } catch (const std::exception&) {
    t.error = "the server sent a malformed event: " + data.substr(0, 200);
    return;
  }
  if (j.contains("error")) {
    t.error = error_text(j["error"].value("code", 500), data);
    return;
  }
  if (j.contains("usage") && j["usage"].is_object()) t.usage = j["usage"];
  if (j.contains("timings") && j["timings"].is_object()) t.timings = j["timings"];
  if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return;
  const auto& c = j["choices"][0];
  if (c.contains("finish_reason") && c["finish_reason"].is_string()) t.finish = c["finish_reason"];
  if (!c.contains("delta") || !c["delta"].is_object()) return;
  const auto& d = c["delta"];
  const auto piece = [&d](const char* key) {
    return d.contains(key) && d[key].is_string() ? d[key].get<std::string>() : std::string();
  };
  const std::string reasoning = piece("reasoning_content"), content = piece("content");
  if ((!reasoning.empty() || !content.empty()) && t.ttft_ms == 0) t.ttft_ms = ms_since(t0);
  if (!reasoning.empty()) {
    // As in the local chat: dimmed on a terminal; on a pipe on stderr so that stdout holds the answers only.
    (interactive ? std::cout : std::cerr) << st.dim << reasoning << st.reset << std::flush;
    t.in_reasoning = true;
  }
  if (!content.empty()) {
    if (t.in_reasoning) std::cout << "\n";
    t.in_reasoning = false;
    std::cout << content << std::flush;
    t.content += content;
  }
}

// The figures line of the local chat, from the server's usage and timings and the times seen here.
void RemoteChat::report(const Turn& t, double total_ms, const ChatStyle& st) {
  backends::TurnStats s;
  const auto num = [](const json& j, const char* key) { return j.is_object() ? j.value(key, 0.0) : 0.0; };
  s.prompt_tokens = static_cast<int>(num(t.usage, "prompt_tokens"));
  s.cached_tokens = t.usage.is_object() && t.usage.contains("prompt_tokens_details")
                        ? static_cast<int>(num(t.usage["prompt_tokens_details"], "cached_tokens"))
                        : static_cast<int>(num(t.timings, "cache_n"));
  s.gen_tokens = static_cast<int>(num(t.usage, "completion_tokens"));
  s.prefill_ms = num(t.timings, "prompt_ms");
  s.decode_ms = num(t.timings, "predicted_ms");
  s.ttft_ms = t.ttft_ms;
  s.total_ms = total_ms;
  totals_.turns++;
  totals_.prompt_new += s.prompt_tokens - s.cached_tokens;
  totals_.prompt_cached += s.cached_tokens;
  totals_.generated += s.gen_tokens;
  totals_.prefill_ms += s.prefill_ms;
  totals_.decode_ms += s.decode_ms;
  totals_.dropped_turns += dropped_;
  if (dropped_ > 0) {
    std::cerr << st.dim << "(context full: dropped the " << dropped_ << " oldest turn(s) to make room)" << st.reset
              << "\n";
  }
  if (t.finish == "length") std::cerr << st.dim << "(max tokens reached)" << st.reset << "\n";
  std::cerr << st.dim << runtime::figures_line(s) << "  " << runtime::prompt_line(s) << st.reset << "\n";
}

// Like the local chat, a conversation that outgrew the context loses its oldest turns (the message alone that
// does not fit is refused).
void RemoteChat::answer(const std::string& text, TerminalInput& input, const ChatStyle& st, bool interactive) {
  dropped_ = 0;
  while (!attempt(text, input, st, interactive)) {
    history_.erase(history_.begin(), history_.begin() + 2);
    ++dropped_;
  }
}

// One request; false when the server found the conversation too long for its context and older turns can go.
bool RemoteChat::attempt(const std::string& text, TerminalInput& input, const ChatStyle& st, bool interactive) {
  httplib::Request req;
  req.method = "POST";
  req.path = prefix_ + "/v1/chat/completions";
  req.body = request_body(text).dump();
  req.set_header("Content-Type", "application/json");
  req.set_header("Accept", "text/event-stream");
  Turn t;
  int status = 0;
  std::string error_body, pending;
  const auto t0 = Clock::now();
  req.response_handler = [&status](const httplib::Response& r) {
    status = r.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (status != 200) {
      error_body.append(data, std::min(n, kMaxErrorBody - std::min(kMaxErrorBody, error_body.size())));
      return true;
    }
    pending.append(data, n);
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.rfind("data:", 0) == 0)
        on_event(line.substr(line.size() > 5 && line[5] == ' ' ? 6 : 5), t, t0, st, interactive);
    }
    if (pending.size() > kMaxLine) t.error = "the server sent an endless line";
    return !stopping_ && t.error.empty();
  };
  // Ctrl-C: closing the connection is how an HTTP client stops an answer (the server frees the slot).
  stopping_ = false;
  input.set_generating([this] {
    stopping_ = true;
    client_->stop();
  });
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  const bool ok = client_->send(req, res, err);
  input.clear_generating();
  if (t.in_reasoning || !t.content.empty()) std::cout << "\n";
  if (stopping_) {
    std::cerr << "[stopped]\n";
  } else if (!t.error.empty()) {
    std::cerr << "error: " << t.error << "\n";
    return true;
  } else if (status != 0 && status != 200) {
    if (status == 400 && history_.size() >= 2 && error_body.find("exceed_context_size_error") != std::string::npos)
      return false;
    std::cerr << "error: " << error_text(status, error_body) << "\n";
    return true;
  } else if (!ok) {
    std::cerr << "error: " << unreachable(err) << "\n";
    return true;
  }
  // An answer cut by Ctrl-C stays in the conversation, as in the local chat: the user saw it. Its figures never
  // came (the server sends them at the end).
  history_.push_back({{"role", "user"}, {"content", text}});
  history_.push_back({{"role", "assistant"}, {"content", t.content}});
  if (!stopping_) report(t, ms_since(t0), st);
  return true;
}

}  // namespace

int remote_chat(const RemoteOptions& o) {
  const bool interactive = isatty(STDIN_FILENO) != 0;
  const bool colour = interactive && use_colour(STDOUT_FILENO);
  const ChatStyle st = chat_style(colour);
  RemoteChat chat(o);
  chat.connect();
  TerminalInput input(interactive);
  const auto controls = chat.controls();
  chat_loop(
      input, interactive, st,
      [&](const std::string& line) { return runtime::handle_command(line, controls, std::cout); },
      [&](const std::string& line) { chat.answer(line, input, st, interactive); });
  return 0;
}

}  // namespace rkchat::cli
