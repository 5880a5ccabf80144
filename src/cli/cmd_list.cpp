// `rkchat list` and `rkchat rm`: what the models folder holds, and removing one model from it.
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "cli/commands.h"
#include "runtime/figures.h"
#include "runtime/model_list.h"

namespace rkchat::cli {

namespace {

struct FolderOptions {
  std::string models_dir = runtime::default_models_dir();
  std::string name;
};

void add_folder_option(CLI::App* cmd, FolderOptions& o) {
  cmd->add_option("--models", o.models_dir, "Models folder (default: $RKCHAT_MODELS_DIR or ~/.cache/rkchat/models)")
      ->capture_default_str();
}

int run_list(const FolderOptions& o) {
  if (!std::filesystem::exists(o.models_dir)) {
    std::fprintf(stderr, "no models yet: %s does not exist (rkchat pull URL puts one there)\n", o.models_dir.c_str());
    return 0;
  }
  const auto models = runtime::list_models(o.models_dir);
  std::printf("%-48s %10s  %s\n", "NAME", "SIZE", "TYPE");
  for (const auto& m : models)
    std::printf("%-48s %10s  %s\n", m.name.c_str(), runtime::human_bytes(m.size_bytes).c_str(), m.type.c_str());
  if (models.empty()) std::fprintf(stderr, "%s holds no models\n", o.models_dir.c_str());
  return 0;
}

int run_rm(const FolderOptions& o) {
  // Only a model of the folder, named as `list` shows it: never a path elsewhere.
  for (const auto& m : runtime::list_models(o.models_dir)) {
    if (m.name != o.name) continue;
    std::filesystem::remove(m.path);
    std::printf("removed %s\n", m.path.c_str());
    return 0;
  }
  throw std::runtime_error("no model named '" + o.name + "' in " + o.models_dir + " (see rkchat list)");
}

}  // namespace

void add_list(CLI::App& app, Runner& run) {
  auto o = std::make_shared<FolderOptions>();
  auto* cmd = app.add_subcommand("list", "List the models in the models folder");
  add_folder_option(cmd, *o);
  cmd->callback([o, &run] { run = [o] { return run_list(*o); }; });
}

void add_rm(CLI::App& app, Runner& run) {
  auto o = std::make_shared<FolderOptions>();
  auto* cmd = app.add_subcommand("rm", "Remove a model from the models folder");
  cmd->add_option("name", o->name, "File name as `rkchat list` shows it")->required();
  add_folder_option(cmd, *o);
  cmd->callback([o, &run] { run = [o] { return run_rm(*o); }; });
}

}  // namespace rkchat::cli
