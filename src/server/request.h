// One internal form of a generation request, shared by every API (OpenAI, Ollama, Anthropic, /rkllm_chat): each
// API's parser fills it, the generation runs it, each API's formatter answers from the outcome.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace rkchat::server {

using ojson = nlohmann::ordered_json;

struct ChatRequest {
  std::string model;
  ojson messages = ojson::array();    // normalized: {"role", "content": string, ...} (see normalize_messages)
  ojson tools;                        // null or an array of tool schemas
  std::optional<std::string> prompt;  // a raw completion prompt: no template (the completion APIs)
  bool enable_thinking = true;
  bool stream = false;
  bool include_usage = false;  // OpenAI stream_options.include_usage
  int n = 1;                   // answers wanted (OpenAI n)
  backends::GenerateOptions generate;
  std::vector<std::string> stop;
  std::chrono::milliseconds deadline{0};  // 0: none
};

// Typed readers of request fields: each throws ApiError 400 naming the field when the type is wrong, and leaves
// `out` unchanged when the field is absent or null.
void read_string(const ojson& obj, const char* key, std::string& out);
void read_bool(const ojson& obj, const char* key, bool& out);
void read_int(const ojson& obj, const char* key, int& out, int lo, int hi);
void read_float(const ojson& obj, const char* key, float& out, double lo, double hi);
// "stop" as a string or an array of strings.
void read_stop(const ojson& obj, const char* key, std::vector<std::string>& out);
// temperature, top_p, top_k, min_p, presence/frequency/repeat_penalty, seed, stop: the names OpenAI, llama.cpp
// and Ollama's options share.
void read_sampling(const ojson& obj, ChatRequest& r);

// The body as JSON (an object); ApiError 400 for malformed JSON, nesting too deep or another type.
ojson parse_body(const std::string& body);

// Checks and normalizes OpenAI-style messages for a chat template: role a string among system (developer),
// user, assistant and tool; content a string, null or an array of text parts (joined); assistant tool_calls with
// their arguments as objects; no empty message; no two assistant turns in a row. Throws ApiError 400.
ojson normalize_messages(const ojson& messages);

}  // namespace rkchat::server
