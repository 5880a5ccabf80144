// `rkchat serve`: the chat server (OpenAI, Ollama, Anthropic and the reference system's APIs) over the serving
// engine. -m FILE serves one model under any name; --models DIR serves every model of a folder, loaded on use.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "runtime/model_list.h"
#include "server/server.h"

namespace rkchat::cli {
namespace {

struct ServeOptions {
  server::ServerOptions server;
  std::string api_key_file;
  std::string log_format = "text";
  int shutdown_timeout_s = 30;
  int keep_alive_s = 300;
  int deadline_s = 0;
};

std::string read_key_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw backends::Error("cannot read the API key file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string key = ss.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.empty()) throw backends::Error("the API key file " + path + " is empty");
  return key;
}

int run_serve(ServeOptions& o) {
  auto& s = o.server;
  if (!s.pool.load.path.empty() && !s.pool.models_dir.empty())
    throw backends::Error("give one model with -m FILE or a folder of models with --models DIR, not both");
  if (s.pool.load.path.empty() && s.pool.models_dir.empty()) {  // as `rkchat chat`: the models folder
    s.pool.models_dir = runtime::default_models_dir();
    std::fprintf(stderr, "rkchat: serving the models in %s (-m FILE or --models DIR names others)\n",
                 s.pool.models_dir.c_str());
  }
  s.pool.model_file = s.pool.load.path;
  if (!o.api_key_file.empty()) s.http.api_key = read_key_file(o.api_key_file);
  s.http.log_json = o.log_format == "json";
  s.shutdown_timeout = std::chrono::seconds(o.shutdown_timeout_s);
  s.pool.keep_alive = std::chrono::seconds(o.keep_alive_s);
  s.request_deadline = std::chrono::seconds(o.deadline_s);
  return server::serve(s);
}

}  // namespace

void add_serve(CLI::App& app, Runner& run) {
  auto o = std::make_shared<ServeOptions>();
  auto& s = o->server;
  auto* cmd = app.add_subcommand("serve", "Serve models over HTTP (OpenAI, Ollama, Anthropic APIs)");
  add_load_options(cmd, s.pool.load, /*model_required=*/false);
  cmd->add_option("--models", s.pool.models_dir, "Serve every model in this folder (loaded on first use)");
  cmd->add_option("--host", s.http.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", s.http.port, "Port (0: any free port)")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd->add_option("--parallel", s.pool.engine.parallel, "Requests generating at once per model")->capture_default_str();
  cmd->add_option("--queue", s.pool.engine.queue, "Requests waiting beyond those; then 503")->capture_default_str();
  cmd->add_option("--batch-tokens", s.pool.engine.batch_tokens, "Most prompt tokens per step")->capture_default_str();
  cmd->add_option("--api-key", s.http.api_key, "Require this key (Authorization: Bearer or X-Api-Key)")
      ->envname("RKCHAT_API_KEY");
  cmd->add_option("--api-key-file", o->api_key_file, "Read the API key from this file");
  cmd->add_option("--cors-origin", s.http.cors_origin, "Allow browser pages from this origin (or *)");
  cmd->add_option("--max-body", s.http.max_body, "Largest request body in bytes (then 413)")->capture_default_str();
  cmd->add_option("--shutdown-timeout", o->shutdown_timeout_s, "Seconds running requests get to finish on SIGTERM")
      ->capture_default_str();
  cmd->add_option("--timeout", o->deadline_s, "Deadline of each request in seconds (0: none)")->capture_default_str();
  cmd->add_option("--keep-alive", o->keep_alive_s, "Seconds an idle --models model stays loaded (0: forever)")
      ->capture_default_str();
  cmd->add_option(
         "--max-loaded", s.pool.max_loaded,
         "Models held loaded at once (least recently used goes first, idle ones also when a new model would not "
         "fit in free memory)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--log-format", o->log_format, "One line per request: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->callback([o, &run] { run = [o] { return run_serve(*o); }; });
}

}  // namespace rkchat::cli
