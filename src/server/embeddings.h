// The embeddings APIs: OpenAI POST /v1/embeddings, Ollama POST /api/embed and its older POST /api/embeddings.
// Each API's body becomes one EmbedRequest, the engine computes the vectors (runtime::Engine::embed: pooled as the
// model's metadata says, L2-normalized), and each API's formatter answers.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "server/models.h"
#include "server/request.h"

namespace rkchat::server::embeddings {

// Inputs per request: each costs a pass over its tokens, so a bounded list bounds the work of one request
// (OpenAI's own limit is 2048; clients that batch more split their lists).
constexpr size_t kMaxInputs = 256;

struct EmbedRequest {
  std::string model;
  std::vector<std::string> texts;            // tokenized by the model's tokenizer
  std::vector<std::vector<int32_t>> tokens;  // inputs sent as token ids (OpenAI), used as they are
  bool base64 = false;                       // OpenAI encoding_format "base64"
  bool truncate = false;                     // Ollama's truncate (its default): cut inputs to the context
};

// OpenAI: "input" a string, an array of strings, an array of ids or an array of arrays of ids. Throws ApiError 400
// for another shape, an empty input, or more than kMaxInputs.
EmbedRequest parse_openai(const ojson& body);
// Ollama /api/embed: "input" a string or an array of strings, "truncate"; /api/embeddings (legacy): "prompt".
EmbedRequest parse_ollama(const ojson& body, bool legacy);

// Tokenizes the texts (special tokens parsed, BOS and EOS added when the model asks for them, as llama.cpp's
// llama-embedding and server do), cuts inputs to the context when the request asks, and runs the engine. Throws
// ApiError: 400 when the model does not embed or an input does not fit (exceed_context_size_error), 503 when the
// queue is full.
runtime::Embeddings compute(LoadedModel& model, const EmbedRequest& request);

ojson openai_response(const runtime::Embeddings& e, const std::string& model, bool base64);
// /api/embed ({"embeddings": [...]}, with Ollama's durations in ns) or /api/embeddings ({"embedding": [...]}).
ojson ollama_response(const runtime::Embeddings& e, const std::string& model, bool legacy,
                      std::chrono::steady_clock::duration total);

}  // namespace rkchat::server::embeddings
