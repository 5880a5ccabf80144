// Subcommands of the rkchat binary. Each add_<name> declares its options on `app` and, when chosen, stores the
// function that does the work in `run` (called after parsing, so that errors are reported in one place).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace rkchat::cli {

using Runner = std::function<int()>;

void add_logits(CLI::App& app, Runner& run);
void add_synth(CLI::App& app, Runner& run);
void add_tokenize(CLI::App& app, Runner& run);
void add_perplexity(CLI::App& app, Runner& run);
void add_chat(CLI::App& app, Runner& run);
void add_run(CLI::App& app, Runner& run);
void add_bench(CLI::App& app, Runner& run);
void add_template(CLI::App& app, Runner& run);
void add_doctor(CLI::App& app, Runner& run);
void add_pull(CLI::App& app, Runner& run);
void add_list(CLI::App& app, Runner& run);
void add_rm(CLI::App& app, Runner& run);
void add_serve(CLI::App& app, Runner& run);

}  // namespace rkchat::cli
