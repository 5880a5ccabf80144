// POST /rkllm_chat, the reference system's endpoint, as its console client (rknn-llm's chat_api_flask.py) reads it:
// the body {"messages", "stream", "enable_thinking", "tools"}; a whole answer in the OpenAI chat-completion shape; a
// stream of bare JSON objects, one per line pair (no SSE "data:" prefix, no [DONE]), each with a choice whose
// delta always holds "content" and whose finish_reason is "stop" only on the last.
#pragma once

#include <memory>
#include <string>

#include "server/request.h"
#include "server/respond.h"

namespace rkchat::server::rkllm_chat {

// The OpenAI chat fields, plus the reference's top-level enable_thinking, which is off unless asked for (the
// reference server's default). Throws ApiError 400.
ChatRequest parse(const ojson& body);

std::shared_ptr<StreamFormat> stream_format(const std::string& model);

}  // namespace rkchat::server::rkllm_chat
