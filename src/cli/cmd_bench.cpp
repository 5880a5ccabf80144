// `rkchat bench`: speed and memory of one or more models; a table on stdout, progress on stderr, and optionally a
// Markdown report and JSON for scripts.
#include <iostream>

#include "cli/commands.h"
#include "cli/console.h"
#include "cli/files.h"
#include "runtime/bench.h"
#include "runtime/bench_parallel.h"
#include "runtime/bench_report.h"
#include "runtime/machine.h"
#include "runtime/model_list.h"

namespace rkchat::cli {
namespace {

struct BenchCliOptions {
  runtime::BenchOptions bench;
  std::vector<std::string> models;
  std::string models_dir;
  std::vector<int> thread_counts;
  std::string markdown;
  std::string json;
  std::string prompts_file;
  std::vector<int> parallel;  // serving-engine mode: stream counts
  int long_prompt_tokens = 2048;
  int batch_tokens = 256;
};

void write_file(const std::string& path, const std::string& text) {
  write_output_file(path, text, "report");
  std::cerr << "wrote " << path << "\n";
}

int bench(BenchCliOptions& o) {
  auto& b = o.bench;
  b.models = o.models;
  if (!o.models_dir.empty()) {
    for (const auto& m : runtime::list_models(o.models_dir)) b.models.push_back(m.path);
    if (b.models.empty()) throw backends::Error("no model files (.gguf, .rkllm) in " + o.models_dir);
  }
  for (const auto& m : b.models) check_input_file(m, "model file");  // a FIFO named x.gguf would block
  if (b.models.empty()) throw backends::Error("give the models to measure: -m MODEL (repeatable) or --models DIR");
  // Explicit thread counts, so that the report says what ran.
  const int fallback = runtime::default_threads();
  b.threads =
      o.thread_counts.empty() ? std::vector<int>{b.load.threads > 0 ? b.load.threads : fallback} : o.thread_counts;
  if (!o.prompts_file.empty()) b.prompts = runtime::read_prompts(o.prompts_file);
  b.progress = [](const std::string& line) { std::cerr << line << std::endl; };

  if (!o.parallel.empty()) {
    const auto results = runtime::run_parallel_bench(b, o.parallel, o.long_prompt_tokens, o.batch_tokens);
    std::cout << runtime::parallel_table(results) << std::flush;
    if (!o.json.empty()) {
      const nlohmann::json j = {
          {"model", b.models.front()}, {"threads", b.threads.front()}, {"parallel", runtime::parallel_json(results)}};
      write_file(o.json, j.dump(2) + "\n");
    }
    return 0;
  }
  const auto results = runtime::run_bench(b);
  const auto machine = runtime::machine_info();
  std::cout << runtime::bench_table(results) << std::flush;
  if (!o.markdown.empty()) write_file(o.markdown, runtime::bench_markdown(machine, b, results));
  if (!o.json.empty()) write_file(o.json, runtime::bench_json(machine, results).dump(2) + "\n");
  return 0;
}

}  // namespace

void add_bench(CLI::App& app, Runner& run) {
  auto o = std::make_shared<BenchCliOptions>();
  auto* cmd = app.add_subcommand("bench", "Measure load time, prefill and decode speed, TTFT and memory");
  add_load_options(cmd, o->bench.load, /*model_required=*/false);
  // -m takes several models here: replace the single-model option of add_load_options.
  cmd->remove_option(cmd->get_option("--model"));
  const auto one = in_range(runtime::limits::at_least_one);
  cmd->add_option("-m,--model", o->models, "Model file (repeatable)")->check(model_file());
  cmd->add_option("--models", o->models_dir, "Measure every model file in this folder")->check(input_dir());
  cmd->add_option("--prompt-tokens", o->bench.prompt_tokens, "Prompt length for the prefill figure")
      ->check(one)
      ->capture_default_str();
  cmd->add_option("--gen-tokens", o->bench.gen_tokens, "Tokens generated for the decode figure")
      ->check(one)
      ->capture_default_str();
  cmd->add_option("-d,--depth", o->bench.depths,
                  "Tokens already in the cache before the prompt, e.g. 0,4096 (as llama-bench -d); one row each")
      ->check(in_range(runtime::limits::non_negative))
      ->delimiter(',');
  cmd->add_option("-r,--repetitions", o->bench.repetitions, "Runs per figure (the median is reported)")
      ->check(one)
      ->capture_default_str();
  cmd->add_option("--thread-counts", o->thread_counts, "Measure with each of these thread counts, e.g. 1,4")
      ->check(one)
      ->delimiter(',');
  cmd->add_option("--markdown", o->markdown, "Write a Markdown report to FILE")->check(output_file());
  cmd->add_option("--json", o->json, "Write the results as JSON to FILE")->check(output_file());
  cmd->add_option("--prompts", o->prompts_file,
                  "Realistic mode: also answer each line of FILE as a chat prompt (until EOS or -n)")
      ->check(text_file());
  cmd->add_option("--parallel", o->parallel,
                  "Serving engine under load: for each N (e.g. 1,2,4,8) N streams at once (-r times, the median "
                  "run reported), then a long prompt arriving beside them")
      ->delimiter(',');
  cmd->add_option("--long-prompt-tokens", o->long_prompt_tokens, "--parallel: the prompt that arrives under load")
      ->capture_default_str();
  cmd->add_option("--batch-tokens", o->batch_tokens, "--parallel: most prompt tokens per engine step")
      ->capture_default_str();
  o->bench.generate.max_tokens = 256;  // realistic mode: a bound on answers that never end
  add_generate_options(cmd, o->bench.generate);
  cmd->callback([o, &run] { run = [o] { return bench(*o); }; });
}

}  // namespace rkchat::cli
