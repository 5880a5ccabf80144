// `rkchat synth`: write a GGUF with a real Qwen3 model's shapes, names and metadata and random weights, for
// benchmarks at full size (see src/model/synth.h).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "cli/files.h"
#include "gguf/gguf.h"
#include "model/synth.h"

namespace rkchat::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kVocabFile = "qwen3-vocab.gguf";

// The tokenizer shipped in the repository's data/ folder: $RKCHAT_DATA_DIR, then the data/ of any parent of the
// executable's folder (a build tree inside the checkout), then the installed share/rkchat.
std::string find_default_vocab() {
  if (const char* dir = std::getenv("RKCHAT_DATA_DIR")) return (fs::path(dir) / kVocabFile).string();
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  for (fs::path dir = exe.parent_path(); !ec && !dir.empty(); dir = dir.parent_path()) {
    for (const fs::path& candidate : {dir / "data" / kVocabFile, dir / "share" / "rkchat" / kVocabFile}) {
      if (fs::exists(candidate)) return candidate.string();
    }
    if (dir == dir.root_path()) break;
  }
  throw gguf::Error(std::string("cannot find ") + kVocabFile + " (give --vocab FILE or set RKCHAT_DATA_DIR)");
}

gguf::TensorType parse_type(const std::string& t) {
  if (t == "q8_0") return gguf::TensorType::Q8_0;
  if (t == "q4_0") return gguf::TensorType::Q4_0;
  if (t == "f32") return gguf::TensorType::F32;  // exact reference runs of small shapes
  return gguf::TensorType::F16;                  // the option's validator admits only these four
}

// A bound on the file's size from the shape (every weight of the matrices in the chosen type, plus the vocab
// file), to check the disk before writing gigabytes.
uint64_t size_bound(const model::SynthOptions& opt) {
  const auto s = model::qwen3_shape(opt.size);
  const int64_t q = s.n_head * s.head_dim, kv = s.n_head_kv * s.head_dim;
  const int64_t per_layer = s.n_embd * (2 * q + 2 * kv) + 3 * s.n_embd * s.n_ff + 4 * s.n_embd;
  const double params = static_cast<double>(s.n_layer * per_layer + s.n_vocab * s.n_embd);
  const double bytes_per_weight = opt.type == gguf::TensorType::Q8_0   ? 34.0 / 32
                                  : opt.type == gguf::TensorType::Q4_0 ? 18.0 / 32
                                  : opt.type == gguf::TensorType::F32  ? 4.0
                                                                       : 2.0;
  std::error_code ec;
  const auto vocab = fs::file_size(opt.vocab_path, ec);
  return static_cast<uint64_t>(params * bytes_per_weight) + (ec ? 0 : vocab);
}

// A progress line on stderr, redrawn at most a few times a second when stderr is a terminal.
class Progress {
 public:
  void operator()(uint64_t done, uint64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_ < std::chrono::milliseconds(isatty(2) ? 200 : 5000)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "%ssynth: %llu / %llu MB (%.0f%%), %.1f s%s", isatty(2) ? "\r" : "",
                 static_cast<unsigned long long>(done >> 20), static_cast<unsigned long long>(total >> 20),
                 total ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0, secs,
                 isatty(2) ? "" : "\n");
  }
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

struct SynthArgs {
  model::SynthOptions opt;
  std::string type = "q8_0";
  std::string pooling;
  std::string output;
};

int run_synth(SynthArgs& a) {
  a.opt.type = parse_type(a.type);
  // llama.cpp's LLAMA_POOLING_TYPE_* values, which GGUF files store.
  if (!a.pooling.empty()) a.opt.pooling_type = a.pooling == "mean" ? 1 : a.pooling == "cls" ? 2 : 3;
  if (a.opt.vocab_path.empty()) a.opt.vocab_path = find_default_vocab();
  check_input_file(a.opt.vocab_path, "vocab file");
  // The model is written next to the output and renamed over it: only a regular file may be replaced.
  check_output_file(a.output, "output file", /*in_place=*/false, size_bound(a.opt));
  auto progress = std::make_shared<Progress>();
  a.opt.progress = [progress](uint64_t done, uint64_t total) { (*progress)(done, total); };
  model::write_synth_model(a.opt, a.output);
  if (isatty(2)) std::fputc('\n', stderr);
  std::fprintf(stderr, "synth: wrote %s (%.2f GB) in %.1f s\n", a.output.c_str(),
               static_cast<double>(fs::file_size(a.output)) / 1e9, progress->seconds());
  return 0;
}

}  // namespace

void add_synth(CLI::App& app, Runner& run) {
  auto a = std::make_shared<SynthArgs>();
  auto* cmd = app.add_subcommand("synth", "Write a GGUF with a real model's shapes and metadata and random weights");
  cmd->add_option("--arch", a->opt.arch, "Architecture")->check(CLI::IsMember({"qwen3"}))->capture_default_str();
  // "tiny" (2 small layers) is accepted for tests but not advertised.
  cmd->add_option("--size", a->opt.size, "Model size: 0.6b, 1.7b or 4b")
      ->required()
      ->check(CLI::Validator(
          [](std::string& s) {
            return s == "0.6b" || s == "1.7b" || s == "4b" || s == "tiny" ? "" : "must be 0.6b, 1.7b or 4b";
          },
          "0.6b|1.7b|4b"));
  cmd->add_option("--type", a->type, "Type of the weight matrices (norms stay f32)")
      ->check(CLI::IsMember({"q8_0", "q4_0", "f16", "f32"}))
      ->capture_default_str();
  cmd->add_option("--pooling", a->pooling,
                  "Declare an embedding model: how its hidden states are pooled (qwen3.pooling_type; Qwen3-Embedding "
                  "uses last)")
      ->check(CLI::IsMember({"mean", "cls", "last"}));
  cmd->add_option("-o,--output", a->output, "Output GGUF file")->required();
  cmd->add_option("--seed", a->opt.seed, "Random seed")->check(in_range(runtime::limits::seed))->capture_default_str();
  cmd->add_option("-t,--threads", a->opt.threads, "Threads (0: every core)")
      ->check(in_range(runtime::limits::threads))
      ->capture_default_str();
  cmd->add_option("--vocab", a->opt.vocab_path, "GGUF to copy the tokenizer from (default: data/qwen3-vocab.gguf)")
      ->check(model_file());
  cmd->callback([a, &run] { run = [a] { return run_synth(*a); }; });
}

}  // namespace rkchat::cli
