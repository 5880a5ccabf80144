// `rkchat template`: the prompt a chat template renders for a conversation, to check a model's template or
// compare with what transformers' apply_chat_template gives. Exit code 2 when the template refuses the input.
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "chat/json_input.h"
#include "chat/template.h"
#include "cli/commands.h"
#include "cli/files.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::cli {

namespace {

using nlohmann::ordered_json;

struct TemplateOptions {
  std::string model;
  std::string template_file;
  std::string messages_file;
  std::string tools_file;
  std::vector<std::string> vars;
};

ordered_json read_json(const std::string& path, const char* what) {
  const std::string text = read_text_file(path, std::string(what) + " file");
  try {
    return chat::parse_ordered_json_input(text);
  } catch (const chat::JsonInputError& e) {
    throw std::runtime_error(path + ": bad JSON in the " + what + " file: " + e.what());
  } catch (const ordered_json::exception& e) {  // numbers out of range
    throw std::runtime_error(path + ": bad JSON in the " + what + " file: " + e.what());
  }
}

// The template and, from the vocabulary, bos_token/eos_token of a GGUF model; ChatML when it has no template.
std::string model_template(const std::string& path, ordered_json& vars) {
  auto file = gguf::File::open(path);
  auto tok = tok::Tokenizer::from_gguf(*file);
  if (tok->bos() >= 0) vars["bos_token"] = tok->token_text(tok->bos());
  if (tok->eos() >= 0) vars["eos_token"] = tok->token_text(tok->eos());
  if (auto tmpl = file->get_string_opt("tokenizer.chat_template")) return *tmpl;
  std::fprintf(stderr, "rkchat: %s has no tokenizer.chat_template, using ChatML\n", path.c_str());
  return chat::chatml_template();
}

// NAME=JSON, e.g. enable_thinking=false or bos_token="<s>".
void parse_var(const std::string& spec, ordered_json& vars) {
  size_t eq = spec.find('=');
  if (eq == 0 || eq == std::string::npos) throw std::runtime_error("--var " + spec + ": expected NAME=JSON");
  try {
    vars[spec.substr(0, eq)] = ordered_json::parse(spec.substr(eq + 1));
  } catch (const ordered_json::parse_error&) {
    throw std::runtime_error("--var " + spec + ": the value is not JSON (quote strings: NAME='\"text\"')");
  }
}

int run_template(const TemplateOptions& o) {
  ordered_json vars = {{"add_generation_prompt", true}};
  const std::string source =
      o.model.empty() ? read_text_file(o.template_file, "template file") : model_template(o.model, vars);
  ordered_json messages = read_json(o.messages_file, "messages");
  ordered_json tools;
  if (messages.is_object() && messages.contains("messages")) {  // {"messages": [...], "tools": [...]} also reads
    if (messages.contains("tools")) tools = messages["tools"];
    messages = ordered_json(messages["messages"]);
  }
  if (!messages.is_array()) throw std::runtime_error(o.messages_file + ": messages must be a JSON array");
  if (!o.tools_file.empty()) tools = read_json(o.tools_file, "tools");
  for (const auto& v : o.vars) parse_var(v, vars);
  try {
    chat::ChatTemplate tmpl(source);
    std::string prompt = tmpl.render(messages, tools, vars);
    std::fwrite(prompt.data(), 1, prompt.size(), stdout);
    return 0;
  } catch (const chat::TemplateError& e) {
    if (!e.refused()) throw std::runtime_error(e.what());
    std::fprintf(stderr, "rkchat: the chat template refused the conversation: %s\n", e.message().c_str());
    return 2;
  }
}

}  // namespace

void add_template(CLI::App& app, Runner& run) {
  auto o = std::make_shared<TemplateOptions>();
  auto* cmd = app.add_subcommand("template", "Print the prompt a chat template renders for a conversation");
  auto* source = cmd->add_option_group("source", "The template: exactly one of -m and --template");
  source->add_option("-m,--model", o->model, "GGUF model: its tokenizer.chat_template, bos_token and eos_token")
      ->check(model_file());
  source->add_option("--template", o->template_file, "Jinja template file")->check(text_file());
  source->require_option(1);
  cmd->add_option("--messages", o->messages_file, "JSON file: [{\"role\": ..., \"content\": ...}, ...]")
      ->required()
      ->check(text_file());
  cmd->add_option("--tools", o->tools_file, "JSON file: the tools array (OpenAI function schemas)")->check(text_file());
  cmd->add_option("--var", o->vars,
                  "Template variable NAME=JSON (repeatable), e.g. enable_thinking=false, "
                  "add_generation_prompt=false");
  cmd->callback([&run, o] { run = [o] { return run_template(*o); }; });
}

}  // namespace rkchat::cli
