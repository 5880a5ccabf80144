// Synthetic models: GGUF files with a real model's tensor names, shapes and metadata and random weights, for
// benchmarks and load tests at full size without downloading anything. The output loads in other GGUF tools.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "gguf/gguf.h"

namespace rkchat::model {

// The published hyperparameters of a Qwen3 size.
struct Qwen3Shape {
  std::string label;  // "0.6B"
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;
  int64_t n_ff = 0;
  int64_t n_vocab = 0;  // rows of token_embd (padded beyond the tokenizer's 151 669 tokens, as Qwen ships it)
  int64_t n_ctx = 0;
};

// "0.6b", "1.7b", "4b", or "tiny" (2 small layers, for tests). Throws std::invalid_argument otherwise.
Qwen3Shape qwen3_shape(const std::string& size);

struct SynthOptions {
  std::string arch = "qwen3";
  std::string size = "0.6b";
  gguf::TensorType type = gguf::TensorType::Q8_0;  // of the matrices: F32, F16, Q8_0 or Q4_0; norms are F32
  uint64_t seed = 1;
  int pooling_type = -1;   // written as <arch>.pooling_type (llama.cpp's enum: 1 mean, 2 cls, 3 last); -1: none
  std::string vocab_path;  // a GGUF whose tokenizer.* keys are copied into the model
  int threads = 0;         // 0: every core
  // Called on the calling thread as tensor data is produced.
  std::function<void(uint64_t bytes_done, uint64_t bytes_total)> progress;
};

// Writes the model to `path`. Throws std::invalid_argument for bad options, gguf::Error for file problems.
void write_synth_model(const SynthOptions& opt, const std::string& path);

}  // namespace rkchat::model
