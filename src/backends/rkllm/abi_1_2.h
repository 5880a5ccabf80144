// The RKLLM ABI of runtimes 1.2.1, 1.2.2 and 1.2.3 ("1.2.x"). Our own declarations; see abi_common.h.
#pragma once

#include "backends/rkllm/abi_common.h"

namespace rkchat::backends::rkllm::abi_1_2 {

using namespace abi;  // NOLINT: the common types are part of this family's vocabulary

struct Param {
  const char* model_path;
  int32_t max_context_len;
  int32_t max_new_tokens;
  int32_t top_k;
  int32_t n_keep;
  float top_p;
  float temperature;
  float repeat_penalty;
  float frequency_penalty;
  float presence_penalty;
  int32_t mirostat;
  float mirostat_tau;
  float mirostat_eta;
  bool skip_special_token;
  bool is_async;
  const char* img_start;
  const char* img_end;
  const char* img_content;
  ExtendParam extend_param;
};
static_assert(offsetof(Param, max_context_len) == 8);
static_assert(offsetof(Param, top_p) == 24);
static_assert(offsetof(Param, mirostat_eta) == 52);
static_assert(offsetof(Param, skip_special_token) == 56);
static_assert(offsetof(Param, is_async) == 57);
static_assert(offsetof(Param, img_start) == 64);
static_assert(offsetof(Param, extend_param) == 88);
static_assert(sizeof(Param) == 208);

struct MultiModalInput {
  char* prompt;
  float* image_embed;
  size_t n_image_tokens;
  size_t n_image;
  size_t image_width;
  size_t image_height;
};
static_assert(sizeof(MultiModalInput) == 48);

struct Input {
  const char* role;
  bool enable_thinking;
  int input_type;
  union {
    const char* prompt_input;
    EmbedInput embed_input;
    TokenInput token_input;
    MultiModalInput multimodal_input;
  };
};
static_assert(offsetof(Input, enable_thinking) == 8);
static_assert(offsetof(Input, input_type) == 12);
static_assert(offsetof(Input, prompt_input) == 16);
static_assert(sizeof(Input) == 64);

struct InferParam {
  int mode;
  LoraParam* lora_params;
  PromptCacheParam* prompt_cache_params;
  int keep_history;
};
static_assert(offsetof(InferParam, lora_params) == 8);
static_assert(offsetof(InferParam, keep_history) == 24);
static_assert(sizeof(InferParam) == 32);

// rkllm_init's third argument in this family: the result callback itself.
using InitCallbackArg = ResultCallback;

// The family as one type, for code templated on it.
struct Family {
  static constexpr int kFamily = 12;
  using Param = abi_1_2::Param;
  using Input = abi_1_2::Input;
  using InferParam = abi_1_2::InferParam;
  using InitCallbackArg = abi_1_2::InitCallbackArg;
};

}  // namespace rkchat::backends::rkllm::abi_1_2
