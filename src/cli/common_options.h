// Options shared by the commands that load a model or generate text, declared once here.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "runtime/option_limits.h"

namespace rkchat::cli {

// A CLI11 validator that refuses numbers outside `limit`, naming the accepted range.
CLI::Validator in_range(const runtime::Limit& limit);

// --kv-type (load options, and doctor's context fit).
void add_kv_type_option(CLI::App* cmd, std::string& kv_type);

// -m/--model, --backend, -t/--threads, -c/--ctx-size, --kv-type, --tokenizer and the RKLLM runtime options.
void add_load_options(CLI::App* cmd, backends::LoadOptions& opts, bool model_required = true);

// --temp, --top-k, --top-p, --min-p, --repeat-penalty, --presence-penalty, --frequency-penalty, --seed,
// -n/--max-tokens, --ignore-eos.
void add_generate_options(CLI::App* cmd, backends::GenerateOptions& opts);

// What shapes a chat turn beyond sampling: --system, --stop (repeatable), --no-think.
struct PromptOptions {
  std::string system;
  std::vector<std::string> stop;
  bool no_think = false;
};
void add_prompt_options(CLI::App* cmd, PromptOptions& opts);

}  // namespace rkchat::cli
