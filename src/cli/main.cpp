// rkchat: run large language models locally, on the CPU (GGUF) or a Rockchip NPU (.rkllm).
#include <cstdio>
#include <exception>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"rkchat: run large language models locally (CPU engine for GGUF, Rockchip NPU for .rkllm)"};
  app.set_version_flag("--version", std::string("rkchat ") + RKCHAT_VERSION);
  app.require_subcommand(1);
  rkchat::cli::Runner run;
  rkchat::cli::add_logits(app, run);
  rkchat::cli::add_synth(app, run);
  rkchat::cli::add_tokenize(app, run);
  rkchat::cli::add_perplexity(app, run);
  rkchat::cli::add_chat(app, run);
  rkchat::cli::add_run(app, run);
  rkchat::cli::add_bench(app, run);
  rkchat::cli::add_template(app, run);
  rkchat::cli::add_doctor(app, run);
  rkchat::cli::add_pull(app, run);
  rkchat::cli::add_list(app, run);
  rkchat::cli::add_rm(app, run);
  rkchat::cli::add_serve(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and --version exit 0; any refused option or value is a usage error: 2, as in other tools.
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    return run ? run() : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rkchat: error: %s\n", e.what());
    return 1;
  }
}
