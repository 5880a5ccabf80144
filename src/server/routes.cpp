// Every route of the server, registered here in one place; the handlers of each API follow.
#include <fmt/format.h>

#include "server/anthropic.h"
#include "server/embeddings.h"
#include "server/ollama.h"
#include "server/openai.h"
#include "server/respond.h"
#include "server/rkllm_chat.h"
#include "server/server.h"
#include "web/web.h"

namespace rkchat::server {
namespace {

// Both "/v1/x" and "/x": many clients are configured with a base URL that has no /v1.
template <typename F>
void both(HttpServer& http, const std::string& method, const std::string& v1_path, F handler) {
  http.route(method, v1_path, handler);
  http.route(method, v1_path.substr(3), handler);
}

// What an OpenAI-shaped route answers: completions, chat completions, or /rkllm_chat (the chat form with the
// reference system's body and stream; see rkllm_chat.h).
enum class OpenAiRoute { completion, chat, rkllm };

std::shared_ptr<StreamFormat> openai_stream(OpenAiRoute route, const ChatRequest& r, const std::string& model) {
  if (route == OpenAiRoute::rkllm) return rkllm_chat::stream_format(model);
  return openai::stream_format(route == OpenAiRoute::chat, r.include_usage, model);
}

HttpResponse openai_generate(Server& server, const HttpRequest& req, OpenAiRoute route) {
  const bool chat = route != OpenAiRoute::completion;
  try {
    const auto body = parse_body(req.body);
    ChatRequest r = route == OpenAiRoute::rkllm ? rkllm_chat::parse(body)
                    : chat                      ? openai::parse_chat(body)
                                                : openai::parse_completion(body);
    auto gen = server.generate(server.pool().get(r.model), r);
    if (r.stream) return stream_response(gen, openai_stream(route, r, gen->model().name));
    gen->finish();
    HttpResponse res;
    fill_log(*res.log, *gen);
    for (const auto& o : gen->outcomes())
      if (o.failed) return openai::error_response(ApiError(500, "server_error", "generation failed: " + o.error));
    const auto id = random_id(chat ? "chatcmpl-" : "cmpl-");
    res.body =
        dump(chat ? openai::chat_response(*gen, id, unix_time()) : openai::completion_response(*gen, id, unix_time()));
    return res;
  } catch (const ApiError& e) {
    return openai::error_response(e);
  }
}

HttpResponse openai_models(Server& server) {
  HttpResponse res;
  res.body = dump(openai::models_list(server.pool().available(), unix_time()));
  return res;
}

// Ollama /api/chat and /api/generate.
HttpResponse ollama_generate(Server& server, const HttpRequest& req, bool chat) {
  const auto started = std::chrono::steady_clock::now();
  try {
    const auto body = parse_body(req.body);
    auto p = chat ? ollama::parse_chat(body) : ollama::parse_generate(body);
    const bool unload = p.keep_alive_s && *p.keep_alive_s == 0;
    HttpResponse res;
    if (p.empty && unload) {
      server.pool().unload(p.request.model);
      res.body = dump(ollama::empty_response(p.request.model, chat, "unload"));
      return res;
    }
    auto model = server.pool().get(p.request.model);
    if (p.empty) {
      res.body = dump(ollama::empty_response(model->name, chat, "load"));
      return res;
    }
    auto gen = server.generate(model, p.request);
    if (p.request.stream) return stream_response(gen, ollama::stream_format(chat, model->name, started));
    gen->finish();
    fill_log(*res.log, *gen);
    for (const auto& o : gen->outcomes())
      if (o.failed) return ollama::error_response(ApiError(500, "server_error", "generation failed: " + o.error));
    res.body = dump(ollama::response(*gen, chat, started));
    gen.reset();
    if (unload) server.pool().unload(p.request.model);
    return res;
  } catch (const ApiError& e) {
    return ollama::error_response(e);
  }
}

HttpResponse ollama_show(Server& server, const HttpRequest& req) {
  try {
    const auto body = parse_body(req.body);
    std::string name;
    read_string(body, "model", name);
    read_string(body, "name", name);  // older clients
    HttpResponse res;
    res.body = dump(ollama::show(*server.pool().get(name)));
    return res;
  } catch (const ApiError& e) {
    return ollama::error_response(e);
  }
}

// Anthropic /v1/messages and /v1/messages/count_tokens.
HttpResponse anthropic_messages(Server& server, const HttpRequest& req, bool count_only) {
  try {
    const auto body = parse_body(req.body);
    ChatRequest r = anthropic::parse_messages(body);
    auto model = server.pool().get(r.model);
    HttpResponse res;
    if (count_only) {
      res.body = dump({{"input_tokens", encode_request(*model, r, nullptr).size()}});
      return res;
    }
    auto gen = server.generate(model, r);
    if (r.stream) return stream_response(gen, anthropic::stream_format(*gen));
    gen->finish();
    fill_log(*res.log, *gen);
    for (const auto& o : gen->outcomes())
      if (o.failed) return anthropic::error_response(ApiError(500, "server_error", "generation failed: " + o.error));
    res.body = dump(anthropic::response(*gen));
    return res;
  } catch (const ApiError& e) {
    return anthropic::error_response(e);
  }
}

// Embeddings: OpenAI's shape, or Ollama's (/api/embed; legacy: /api/embeddings).
HttpResponse embeddings_route(Server& server, const HttpRequest& req, bool ollama_shape, bool legacy) {
  const auto started = std::chrono::steady_clock::now();
  try {
    const auto body = parse_body(req.body);
    const auto r = ollama_shape ? embeddings::parse_ollama(body, legacy) : embeddings::parse_openai(body);
    const auto model = server.pool().get(r.model);
    const auto e = embeddings::compute(*model, r);
    HttpResponse res;
    res.body = dump(
        ollama_shape ? embeddings::ollama_response(e, model->name, legacy, std::chrono::steady_clock::now() - started)
                     : embeddings::openai_response(e, model->name, r.base64));
    return res;
  } catch (const ApiError& e) {
    return ollama_shape ? ollama::error_response(e) : openai::error_response(e);
  }
}

HttpResponse json_response(const ojson& j) {
  HttpResponse res;
  res.body = dump(j);
  return res;
}

// A file of the chat page (src/web). The browser asks again each time (no-cache); the ETag spares it the download
// when the binary has not changed.
HttpResponse web_asset(const web::Asset& asset, const HttpRequest& req) {
  HttpResponse res;
  res.headers = {{"Cache-Control", "no-cache"}, {"ETag", std::string(asset.etag)}};
  if (req.header("If-None-Match") == asset.etag) {
    res.status = 304;
    return res;
  }
  res.content_type = std::string(asset.content_type);
  res.body = std::string(asset.bytes);
  return res;
}

}  // namespace

void Server::add_routes() {
  auto& h = *http_;
  h.route("GET", "/health", [this](const HttpRequest&) { return health(); });
  h.route("GET", "/metrics", [this](const HttpRequest&) { return metrics(); });
  // OpenAI
  both(h, "POST", "/v1/chat/completions",
       [this](const HttpRequest& r) { return openai_generate(*this, r, OpenAiRoute::chat); });
  both(h, "POST", "/v1/completions",
       [this](const HttpRequest& r) { return openai_generate(*this, r, OpenAiRoute::completion); });
  both(h, "GET", "/v1/models", [this](const HttpRequest&) { return openai_models(*this); });
  both(h, "POST", "/v1/embeddings", [this](const HttpRequest& r) { return embeddings_route(*this, r, false, false); });
  // Anthropic
  both(h, "POST", "/v1/messages", [this](const HttpRequest& r) { return anthropic_messages(*this, r, false); });
  both(h, "POST", "/v1/messages/count_tokens",
       [this](const HttpRequest& r) { return anthropic_messages(*this, r, true); });
  // The reference system's console_chat.py
  h.route("POST", "/rkllm_chat",
          [this](const HttpRequest& r) { return openai_generate(*this, r, OpenAiRoute::rkllm); });
  // Ollama
  h.route("POST", "/api/chat", [this](const HttpRequest& r) { return ollama_generate(*this, r, true); });
  h.route("POST", "/api/generate", [this](const HttpRequest& r) { return ollama_generate(*this, r, false); });
  h.route("POST", "/api/show", [this](const HttpRequest& r) { return ollama_show(*this, r); });
  h.route("GET", "/api/tags", [this](const HttpRequest&) { return json_response(ollama::tags(*pool_)); });
  h.route("GET", "/api/ps", [this](const HttpRequest&) { return json_response(ollama::ps(*pool_)); });
  h.route("POST", "/api/embed", [this](const HttpRequest& r) { return embeddings_route(*this, r, true, false); });
  h.route("POST", "/api/embeddings", [this](const HttpRequest& r) { return embeddings_route(*this, r, true, true); });
  h.route("GET", "/api/version", [](const HttpRequest&) { return json_response(ollama::version()); });
  // The chat page at / and /assets/... (open without the API key: see http.cpp)
  for (const auto& a : web::assets())
    h.route("GET", std::string(a.path), [&a](const HttpRequest& r) { return web_asset(a, r); });
}

}  // namespace rkchat::server
