// rkchat doctor: what this machine offers for running models, with a verdict and a fix per line.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "cli/files.h"
#include "doctor/doctor.h"

namespace rkchat::cli {

void add_doctor(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("doctor", "Check this machine (CPU, NPU, clocks, RKLLM runtimes) and a model");
  auto opts = std::make_shared<doctor::Options>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("-m,--model", opts->model, "Also check this model (.gguf or .rkllm) against the machine")
      ->check(model_file());
  add_kv_type_option(cmd, opts->kv_type);
  cmd->add_option("--rkllm-lib-dir", opts->rkllm_lib_dir, "A folder of RKLLM runtimes to list (as for chat/run)")
      ->check(input_dir());
  cmd->add_option("--sysroot", opts->sysroot, "Read /proc and /sys under this folder instead of / (tests)")
      ->check(input_dir())
      ->capture_default_str();
  cmd->add_flag("--json", *json, "Print the report as JSON");
  cmd->callback([&run, opts, json] {
    run = [opts, json] {
      const auto report = doctor::diagnose(*opts);
      const std::string out = *json ? doctor::to_json(report).dump(2) + "\n" : doctor::to_text(report);
      std::fputs(out.c_str(), stdout);
      return report.worst() == doctor::Verdict::fail ? 1 : 0;
    };
  });
}

}  // namespace rkchat::cli
