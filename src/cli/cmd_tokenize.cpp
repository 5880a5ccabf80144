// `rkchat tokenize`: the token ids of a text under a GGUF model's tokenizer, to check a prompt's length or compare
// with llama.cpp's llama-tokenize.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/files.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::cli {

namespace {

struct TokenizeOptions {
  std::string model;
  std::string prompt;
  std::string file;
  bool special = false;
  bool pieces = false;
  bool no_bos = false;
};

int run_tokenize(const TokenizeOptions& o) {
  const std::string text = o.file.empty() ? o.prompt : read_text_file(o.file, "text file");
  const auto tok = tok::Tokenizer::from_gguf(*gguf::File::open(o.model));
  const std::vector<int32_t> ids = tok->encode(text, o.special, !o.no_bos);
  if (o.pieces) {
    for (int32_t id : ids) std::printf("%d\t'%s'\n", id, tok->token_text(id).c_str());
    return 0;
  }
  std::string line;
  for (int32_t id : ids) line += (line.empty() ? "" : " ") + std::to_string(id);
  std::printf("%s\n", line.c_str());
  return 0;
}

}  // namespace

void add_tokenize(CLI::App& app, Runner& run) {
  auto o = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand("tokenize", "Print the token ids of a text under a GGUF model's tokenizer");
  cmd->add_option("-m,--model", o->model, "GGUF model (or vocab-only GGUF)")->required()->check(model_file());
  auto* input = cmd->add_option_group("input", "The text: exactly one of -p and -f");
  input->add_option("-p,--prompt", o->prompt, "Text to tokenize");
  input->add_option("-f,--file", o->file, "File whose contents to tokenize")->check(text_file());
  input->require_option(1);
  cmd->add_flag("--special", o->special, "Parse special tokens such as <|im_start|> (rendered chat prompts)");
  cmd->add_flag("--pieces", o->pieces, "One token a line: its id and its text in the vocabulary");
  cmd->add_flag("--no-bos", o->no_bos, "Do not add BOS even when the model asks for one");
  cmd->callback([o, &run] { run = [o] { return run_tokenize(*o); }; });
}

}  // namespace rkchat::cli
