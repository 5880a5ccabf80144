// Ollama's API: /api/chat and /api/generate (NDJSON streams, or one object with stream:false), /api/tags,
// /api/show, /api/ps and /api/version. Durations are in nanoseconds; tool-call arguments are JSON objects; errors
// are {"error": "..."}.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "server/api_error.h"
#include "server/generation.h"
#include "server/http.h"
#include "server/models.h"
#include "server/request.h"
#include "server/respond.h"

namespace rkchat::server::ollama {

struct Parsed {
  ChatRequest request;
  std::optional<int> keep_alive_s;  // keep_alive given: 0 unloads after the answer
  bool empty = false;               // nothing to generate (load or unload the model only)
};

// Throws ApiError 400.
Parsed parse_chat(const ojson& body);
Parsed parse_generate(const ojson& body);

// The whole answer; started: when the request arrived (for total_duration and load_duration).
ojson response(const Generation& g, bool chat, std::chrono::steady_clock::time_point started);
std::shared_ptr<StreamFormat> stream_format(bool chat, const std::string& model,
                                            std::chrono::steady_clock::time_point started);
// The answer to a request with nothing to generate: done_reason "load" or "unload".
ojson empty_response(const std::string& model, bool chat, const std::string& reason);

HttpResponse error_response(const ApiError& e);

ojson tags(const ModelPool& pool);
ojson show(const LoadedModel& model);
ojson ps(const ModelPool& pool);
ojson version();

}  // namespace rkchat::server::ollama
