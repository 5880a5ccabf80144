// `rkchat chat --server URL`: the console chat against a running `rkchat serve` (or any OpenAI-compatible
// server). It speaks HTTP only: the client keeps the conversation and sends it whole each turn (the server's
// prompt cache reuses the prefix), streams the answer over SSE and prints the same figures as the local chat.
#pragma once

#include <string>

#include "cli/common_options.h"

namespace rkchat::cli {

struct RemoteOptions {
  std::string url;      // http://host:port, optionally with a path prefix
  std::string api_key;  // sent as Authorization: Bearer; "" for none
  std::string model;    // "" for the first of /v1/models
  backends::GenerateOptions generate;
  PromptOptions prompt;
};

// Runs the console until /quit or end of input. 1 when the server cannot be reached or refuses us at the start.
int remote_chat(const RemoteOptions& options);

}  // namespace rkchat::cli
