// OpenAI's API (and llama-server's extensions of it): request JSON -> ChatRequest, outcomes -> response JSON and
// SSE chunks. /rkllm_chat (the reference system's endpoint) takes the same messages and answers in this shape.
#pragma once

#include <memory>
#include <string>

#include "runtime/model_list.h"
#include "server/api_error.h"
#include "server/generation.h"
#include "server/request.h"
#include "server/respond.h"

namespace rkchat::server::openai {

// POST /v1/chat/completions. Throws ApiError 400.
ChatRequest parse_chat(const ojson& body);
// POST /v1/completions: a raw prompt, no template.
ChatRequest parse_completion(const ojson& body);

ojson chat_response(const Generation& g, const std::string& id, int64_t created);
ojson completion_response(const Generation& g, const std::string& id, int64_t created);
// usage with prompt_tokens_details.cached_tokens, and llama.cpp's timings.
ojson usage(const Generation& g);
ojson timings(const Generation& g);

// SSE chunks (chat.completion.chunk or text_completion), ending in data: [DONE].
std::shared_ptr<StreamFormat> stream_format(bool chat, bool include_usage, const std::string& model);

// {"error": {"code", "message", "type"}} (+ n_prompt_tokens, n_ctx for exceed_context_size_error).
std::string error_body(int status, const std::string& type, const std::string& message);
HttpResponse error_response(const ApiError& e);

// GET /v1/models.
ojson models_list(const std::vector<runtime::ModelEntry>& models, int64_t created);

}  // namespace rkchat::server::openai
