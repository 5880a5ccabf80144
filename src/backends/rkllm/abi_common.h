// Declarations shared by both RKLLM ABI families (our own, from the field lists in ../shared/ABI/rkllm.md).
// Every struct the runtime reads or writes has its size and field offsets pinned by static_assert: these are
// the aarch64/x86-64 LP64 numbers, so a layout slip fails the build instead of corrupting the runtime's memory.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rkchat::backends::rkllm::abi {

using Handle = void*;

enum CallState : int { kRunNormal = 0, kRunWaiting = 1, kRunFinish = 2, kRunError = 3 };
enum InputType : int { kInputPrompt = 0, kInputToken = 1, kInputEmbed = 2, kInputMultimodal = 3 };
enum InferMode : int { kInferGenerate = 0, kInferLastHidden = 1, kInferLogits = 2 };

struct ExtendParam {
  int32_t base_domain_id;
  int8_t embed_flash;
  int8_t enabled_cpus_num;
  uint32_t enabled_cpus_mask;
  uint8_t n_batch;
  int8_t use_cross_attn;
  uint8_t reserved[104];
};
static_assert(sizeof(ExtendParam) == 120);
static_assert(offsetof(ExtendParam, enabled_cpus_mask) == 8);
static_assert(offsetof(ExtendParam, n_batch) == 12);
static_assert(offsetof(ExtendParam, reserved) == 14);

struct EmbedInput {
  float* embed;
  size_t n_tokens;
};
struct TokenInput {
  int32_t* input_ids;
  size_t n_tokens;
};
static_assert(sizeof(TokenInput) == 16);

struct LoraParam {
  const char* lora_adapter_name;
};
struct PromptCacheParam {
  int save_prompt_cache;
  const char* prompt_cache_path;
};

struct ResultLastHiddenLayer {
  const float* hidden_states;
  int embd_size;
  int num_tokens;
};
struct ResultLogits {
  const float* logits;
  int vocab_size;
  int num_tokens;
};
struct PerfStat {
  float prefill_time_ms;
  int prefill_tokens;
  float generate_time_ms;
  int generate_tokens;
  float memory_usage_mb;
};
static_assert(sizeof(PerfStat) == 20);

struct Result {
  const char* text;
  int32_t token_id;
  ResultLastHiddenLayer last_hidden_layer;
  ResultLogits logits;
  PerfStat perf;
};
static_assert(offsetof(Result, token_id) == 8);
static_assert(offsetof(Result, last_hidden_layer) == 16);
static_assert(offsetof(Result, logits) == 32);
static_assert(offsetof(Result, perf) == 48);
static_assert(sizeof(Result) == 72);

using ResultCallback = int (*)(Result* result, void* userdata, int state);

// The sampling block, a member of RKLLMParam (both families) and a per-run override in 1.3.
struct SamplingParam {
  int32_t top_k;
  float top_p;
  float temperature;
  float repeat_penalty;
  float frequency_penalty;
  float presence_penalty;
  int32_t mirostat;
  float mirostat_tau;
  float mirostat_eta;
};
static_assert(sizeof(SamplingParam) == 36);

}  // namespace rkchat::backends::rkllm::abi
