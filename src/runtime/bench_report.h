// The three outputs of `rkchat bench`: an aligned table for the terminal, a Markdown report with the machine,
// and JSON with fixed field names for scripts.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/bench.h"

namespace rkchat::runtime {

std::string bench_table(const std::vector<BenchResult>& results);
std::string bench_markdown(const MachineInfo& machine, const BenchOptions& options,
                           const std::vector<BenchResult>& results);
nlohmann::json bench_json(const MachineInfo& machine, const std::vector<BenchResult>& results);

}  // namespace rkchat::runtime
