#include "doctor/doctor.h"

#include <algorithm>

namespace rkchat::doctor {

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::ok:
      return "ok";
    case Verdict::info:
      return "info";
    case Verdict::warn:
      return "warn";
    case Verdict::fail:
      return "fail";
  }
  return "?";
}

Verdict Report::worst() const {
  Verdict w = Verdict::ok;
  for (const auto& c : checks) {
    if (c.verdict != Verdict::info) w = std::max(w, c.verdict);
  }
  return w;
}

Report diagnose(const Options& o) {
  const Sysroot root(o.sysroot);
  Report r;
  r.sysroot = o.sysroot;
  check_cpu(root, r.checks);
  check_memory(root, r.checks);
  const bool rockchip = !check_soc(root, r.checks).empty();
  if (rockchip) check_npu(root, r.checks);
  check_governors(root, rockchip, r.checks);
  check_runtimes_and_model(root, o, rockchip, r.checks);
  return r;
}

std::string to_text(const Report& r) {
  std::string out = "rkchat doctor" + (r.sysroot == "/" ? std::string() : " (sysroot " + r.sysroot + ")") + "\n";
  for (const auto& c : r.checks) {
    std::string tag = verdict_name(c.verdict);
    tag.resize(4, ' ');
    std::string name = c.name;
    if (name.size() < 12) name.resize(12, ' ');
    out += "[" + tag + "] " + name + " " + c.value + "\n";
    if (!c.fix.empty() && (c.verdict == Verdict::warn || c.verdict == Verdict::fail)) {
      out += "       fix: " + c.fix + "\n";
    }
  }
  out += std::string("verdict: ") + verdict_name(r.worst()) + "\n";
  return out;
}

nlohmann::json to_json(const Report& r) {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : r.checks) {
    checks.push_back({{"name", c.name}, {"value", c.value}, {"verdict", verdict_name(c.verdict)}, {"fix", c.fix}});
  }
  return {{"sysroot", r.sysroot}, {"verdict", verdict_name(r.worst())}, {"checks", checks}};
}

}  // namespace rkchat::doctor
