#include "cli/common_options.h"

#include <cstdlib>

#include "cli/files.h"

namespace rkchat::cli {

CLI::Validator in_range(const runtime::Limit& limit) {
  return {[limit](std::string& text) -> std::string {
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            if (end == text.c_str() || *end != '\0') return "'" + text + "' is not a number";
            return runtime::check_limit(limit, v);
          },
          "NUMBER"};
}

void add_kv_type_option(CLI::App* cmd, std::string& kv_type) {
  cmd->add_option("--kv-type", kv_type, "KV cache type: f16, f32 (exact) or q8_0 (about half of f16)")
      ->check(CLI::IsMember({"f16", "f32", "q8_0"}))
      ->capture_default_str();
}

void add_load_options(CLI::App* cmd, backends::LoadOptions& o, bool model_required) {
  auto* m = cmd->add_option("-m,--model", o.path, "Model file (.gguf for the CPU engine, .rkllm for the NPU)")
                ->check(model_file());
  if (model_required) m->required();
  cmd->add_option("--backend", o.backend, "auto (by file type), cpu or rkllm")
      ->check(CLI::IsMember({"auto", "cpu", "rkllm"}))
      ->capture_default_str();
  cmd->add_option("-t,--threads", o.threads,
                  "Threads (0: one per physical core of the fastest kind; rkchat doctor says which)")
      ->check(in_range(runtime::limits::threads))
      ->capture_default_str();
  cmd->add_option("-c,--ctx-size", o.n_ctx, "Context length in tokens (0: the model's, at most 4096)")
      ->check(in_range(runtime::limits::ctx_size))
      ->capture_default_str();
  add_kv_type_option(cmd, o.kv_type);
  cmd->add_option("--tokenizer", o.tokenizer_path, "Vocab GGUF for a model that carries no tokenizer (.rkllm)")
      ->check(model_file());
  cmd->add_option("--rkllm-lib", o.rkllm_lib, "Path of librkllmrt.so (else $RKCHAT_RKLLM_LIB, then the usual places)");
  cmd->add_option("--rkllm-lib-dir", o.rkllm_lib_dir,
                  "Folder of runtimes (librkllmrt-X.Y.Z.so or X.Y.Z/librkllmrt.so), matched to the model's toolkit")
      ->check(input_dir());
  cmd->add_option("--rkllm-abi", o.rkllm_abi, "RKLLM ABI family: 1.2 or 1.3 (default: from the runtime's version)")
      ->check(CLI::IsMember({"", "1.2", "1.3"}));
  cmd->add_option("--npu-domain", o.npu_domain, "NPU memory domain (base_domain_id), to load a second model")
      ->check(in_range(runtime::limits::non_negative));
  cmd->add_option("--cpus", o.cpus, "CPU cores for the NPU runtime, e.g. 4-7 (RK3588 big cores)");
  cmd->add_flag("--force", o.force, "Load despite a toolkit/runtime version mismatch");
}

void add_generate_options(CLI::App* cmd, backends::GenerateOptions& o) {
  auto& s = o.sampling;
  using namespace runtime::limits;
  cmd->add_option("--temp", s.temperature, "Temperature (0: greedy)")
      ->check(in_range(temperature))
      ->capture_default_str();
  cmd->add_option("--top-k", s.top_k, "Top-k (0: off)")->check(in_range(top_k))->capture_default_str();
  cmd->add_option("--top-p", s.top_p, "Top-p (1: off)")->check(in_range(top_p))->capture_default_str();
  cmd->add_option("--min-p", s.min_p, "Min-p (0: off)")->check(in_range(min_p))->capture_default_str();
  cmd->add_option("--repeat-penalty", s.repeat_penalty, "Repeat penalty (1: off)")
      ->check(in_range(repeat_penalty))
      ->capture_default_str();
  cmd->add_option("--repeat-last-n", s.repeat_last_n, "Tokens the penalties look back over")
      ->check(in_range(repeat_last_n))
      ->capture_default_str();
  cmd->add_option("--presence-penalty", s.presence_penalty, "Presence penalty")
      ->check(in_range(penalty))
      ->capture_default_str();
  cmd->add_option("--frequency-penalty", s.frequency_penalty, "Frequency penalty")
      ->check(in_range(penalty))
      ->capture_default_str();
  cmd->add_option("--seed", s.seed, "Random seed (same seed and options: same output)")
      ->check(in_range(seed))
      ->capture_default_str();
  cmd->add_option("-n,--max-tokens", o.max_tokens, "Most tokens to generate (-1: until the context is full)")
      ->check(in_range(max_tokens))
      ->capture_default_str();
  cmd->add_flag("--ignore-eos", o.ignore_eos, "Keep generating past the end-of-turn token (measurements)");
}

void add_prompt_options(CLI::App* cmd, PromptOptions& o) {
  cmd->add_option("--system", o.system, "System prompt");
  cmd->add_option("--stop", o.stop, "Stop the answer at this text (repeatable)")->allow_extra_args(false);
  cmd->add_flag("--no-think", o.no_think, "Qwen3: answer without thinking first");
}

}  // namespace rkchat::cli
