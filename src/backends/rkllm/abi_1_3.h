// The RKLLM ABI of runtime 1.3.0 ("1.3.x"). Differs from 1.2.x in rkllm_init (a callback struct),
// RKLLMParam (ignore_eos_token, no img_* pointers), RKLLMInput (bigger multimodal member) and RKLLMInferParam
// (per-run sampling and max_new_tokens). Our own declarations; see abi_common.h.
#pragma once

#include "backends/rkllm/abi_common.h"

namespace rkchat::backends::rkllm::abi_1_3 {

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
  bool ignore_eos_token;
  bool is_async;
  ExtendParam extend_param;
};
static_assert(offsetof(Param, skip_special_token) == 56);
static_assert(offsetof(Param, ignore_eos_token) == 57);
static_assert(offsetof(Param, is_async) == 58);
static_assert(offsetof(Param, extend_param) == 60);
static_assert(sizeof(Param) == 184);

struct ImageInput {
  float* image_embed;
  size_t n_image_tokens;
  size_t n_image;
  const char* image_start;
  const char* image_end;
  const char* image_content;
  size_t image_width;
  size_t image_height;
};
struct VideoInput {
  float* video_embed;
  size_t n_frame_tokens;
  size_t n_frame_per_video;
  size_t n_video;
  const char* video_start;
  const char* video_end;
  const char* video_content;
  size_t frame_width;
  size_t frame_height;
};
struct MultiModalInput {
  char* prompt;
  ImageInput image;
  VideoInput video;
};
static_assert(sizeof(MultiModalInput) == 144);

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
static_assert(offsetof(Input, input_type) == 12);
static_assert(offsetof(Input, prompt_input) == 16);
static_assert(sizeof(Input) == 160);

struct InferParam {
  int mode;
  LoraParam* lora_params;
  PromptCacheParam* prompt_cache_params;
  SamplingParam* sampling_params;
  int keep_history;
  int32_t max_new_tokens;  // <= 0: the value given at init
};
static_assert(offsetof(InferParam, sampling_params) == 24);
static_assert(offsetof(InferParam, keep_history) == 32);
static_assert(offsetof(InferParam, max_new_tokens) == 36);
static_assert(sizeof(InferParam) == 40);

using TokenizerCallback = void (*)();  // unused by rkchat: always null
struct Callbacks {
  ResultCallback result_callback;
  void* result_userdata;
  TokenizerCallback tokenizer_callback;
  void* tokenizer_userdata;
  void (*embed_callback)();
  void* embed_userdata;
};
static_assert(sizeof(Callbacks) == 48);

// rkllm_init's third argument in this family: a pointer to the callback struct.
using InitCallbackArg = Callbacks*;

// The family as one type, for code templated on it.
struct Family {
  static constexpr int kFamily = 13;
  using Param = abi_1_3::Param;
  using Input = abi_1_3::Input;
  using InferParam = abi_1_3::InferParam;
  using InitCallbackArg = abi_1_3::InitCallbackArg;
};

}  // namespace rkchat::backends::rkllm::abi_1_3
