// Anthropic's Messages API: POST /v1/messages (streamed as message_start, content_block_start/delta/stop,
// message_delta, message_stop) and /v1/messages/count_tokens. Content blocks (text, thinking, tool_use,
// tool_result) are mapped onto the OpenAI-style messages the chat templates take.
#pragma once

#include <memory>
#include <string>

#include "server/api_error.h"
#include "server/generation.h"
#include "server/http.h"
#include "server/request.h"
#include "server/respond.h"

namespace rkchat::server::anthropic {

// Throws ApiError 400.
ChatRequest parse_messages(const ojson& body);

ojson response(const Generation& g);
std::shared_ptr<StreamFormat> stream_format(const Generation& g);

// {"type": "error", "error": {"type", "message"}} with Anthropic's type names.
std::string error_body(int status, const std::string& type, const std::string& message);
HttpResponse error_response(const ApiError& e);

}  // namespace rkchat::server::anthropic
