#include "runtime/bench_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "runtime/figures.h"

namespace rkchat::runtime {
namespace {

using Row = std::vector<std::string>;

const Row kHeader = {"model",  "threads",      "depth",    "load s",  "prefill tok/s",
                     "TTFT s", "decode tok/s", "peak RSS", "BW GB/s", "roofline"};

// "12.3 ±0.4": the median and half the range of the repetitions.
std::string with_spread(const Spread& s, int decimals) {
  if (s.max == s.min) return fmt::format("{:.{}f}", s.median, decimals);
  return fmt::format("{:.{}f} ±{:.{}f}", s.median, decimals, (s.max - s.min) / 2, decimals);
}

// The file's name, not the model's: two quantizations of one model share general.name.
std::string file_name(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

Row row_of(const BenchResult& r) {
  return {file_name(r.file),
          std::to_string(r.threads),
          std::to_string(r.depth),
          fmt::format("{:.2f}", r.load_s),
          with_spread(r.prefill_tok_s, 1),
          with_spread(r.ttft_s, 3),
          with_spread(r.decode_tok_s, 2),
          human_bytes(r.peak_rss_bytes),
          fmt::format("{:.1f}", r.bandwidth_gb_s),
          fmt::format("{:.0f}%", r.roofline_pct)};
}

// Terminal columns of UTF-8 text: continuation bytes take none ("±" is two bytes, one column).
size_t columns(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string markdown_row(const Row& row) {
  std::string out = "|";
  for (const auto& cell : row) out += " " + cell + " |";
  return out + "\n";
}

std::string markdown_rule(size_t columns) {
  std::string out = "|";
  for (size_t i = 0; i < columns; ++i) out += "---|";
  return out + "\n";
}

double average(const std::vector<PromptRun>& runs, double PromptRun::*field) {
  double sum = 0;
  for (const auto& p : runs) sum += p.*field;
  return runs.empty() ? 0 : sum / static_cast<double>(runs.size());
}

std::string prompt_section(const BenchResult& r) {
  std::string out = fmt::format("### {} ({} threads)\n\n", file_name(r.file), r.threads);
  out += markdown_row({"Prompt", "Tokens", "Time (s)", "Speed (tok/s)"}) + markdown_rule(4);
  int tokens = 0;
  for (const auto& p : r.prompt_runs) {
    out += markdown_row(
        {p.prompt, std::to_string(p.tokens), fmt::format("{:.2f}", p.seconds), fmt::format("{:.2f}", p.tok_s)});
    tokens += p.tokens;
  }
  const double n = static_cast<double>(std::max<size_t>(1, r.prompt_runs.size()));
  out += markdown_row({"**Average**", fmt::format("{:.1f}", tokens / n),
                       fmt::format("{:.2f}", average(r.prompt_runs, &PromptRun::seconds)),
                       fmt::format("{:.2f}", average(r.prompt_runs, &PromptRun::tok_s))});
  return out + "\n";
}

std::string today() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

}  // namespace

std::string bench_table(const std::vector<BenchResult>& results) {
  std::vector<Row> rows = {kHeader};
  for (const auto& r : results) rows.push_back(row_of(r));
  std::vector<size_t> width(kHeader.size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], columns(row[c]));
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      // The model name is left-aligned, figures right-aligned.
      const size_t pad = width[c] - columns(row[c]);
      const bool left = c == 0;
      out += (c ? "  " : "") + std::string(left ? 0 : pad, ' ') + row[c] + std::string(left ? pad : 0, ' ');
    }
    out += "\n";
  }
  for (const auto& r : results) {
    if (r.prompt_runs.empty()) continue;
    out += fmt::format("\n{} ({} threads), realistic prompts:\n", file_name(r.file), r.threads);
    for (const auto& p : r.prompt_runs) {
      out += fmt::format("  {:>5} tokens  {:>7.2f} s  {:>7.2f} tok/s  {}\n", p.tokens, p.seconds, p.tok_s, p.prompt);
    }
    out += fmt::format("  average: {:.2f} tok/s\n", average(r.prompt_runs, &PromptRun::tok_s));
  }
  return out;
}

std::string bench_markdown(const MachineInfo& m, const BenchOptions& opt, const std::vector<BenchResult>& results) {
  std::string out = "# rkchat benchmark report\n\n";
  out += fmt::format("Generated {} by rkchat {}.\n\n## Machine\n\n", today(), RKCHAT_VERSION);
  out += markdown_row({"", ""}) + markdown_rule(2);
  out += markdown_row({"CPU", m.cpu_model.empty() ? "unknown" : m.cpu_model});
  if (!m.board.empty()) out += markdown_row({"Board", m.board});
  out += markdown_row({"Features", m.features});
  out += markdown_row({"Cores", std::to_string(m.cores)});
  out += markdown_row({"Memory", human_bytes(m.memory_bytes)});
  out += markdown_row({"OS", m.os + " (" + m.arch + ")"});
  out += fmt::format(
      "\n## Method\n\nEach model: the time to load it, then {} repetition(s) of a {}-token prompt processed after "
      "`depth` tokens already in the cache (filled before each repetition, not counted) followed by {} generated "
      "tokens (greedy, end-of-turn ignored), after one uncounted warm-up. "
      "Figures are medians; ± is half the range over the repetitions. Decode speed counts the tokens after the "
      "first over the time from the first to the last. Roofline: the measured read bandwidth divided by the bytes "
      "read per generated token (the model file's size plus the KV cache up to the token's position) is the fastest "
      "decode the memory allows; the share is "
      "the measured decode speed over it. Peak RSS is the process's resident high-water mark while the model "
      "ran.\n\n## Results\n\n",
      opt.repetitions, opt.prompt_tokens, opt.gen_tokens);
  out += markdown_row(kHeader) + markdown_rule(kHeader.size());
  for (const auto& r : results) out += markdown_row(row_of(r));
  bool any_prompts = false;
  for (const auto& r : results) {
    if (r.prompt_runs.empty()) continue;
    if (!any_prompts)
      out += "\n## Realistic prompts\n\nChat template applied, generation until end of turn or the limit.\n\n";
    any_prompts = true;
    out += prompt_section(r);
  }
  return out;
}

nlohmann::json bench_json(const MachineInfo& m, const std::vector<BenchResult>& results) {
  nlohmann::json j;
  j["rkchat_version"] = RKCHAT_VERSION;
  j["machine"] = {{"cpu_model", m.cpu_model},       {"board", m.board}, {"features", m.features}, {"cores", m.cores},
                  {"memory_bytes", m.memory_bytes}, {"os", m.os},       {"arch", m.arch}};
  j["results"] = nlohmann::json::array();
  for (const auto& r : results) {
    nlohmann::json e = {{"model", r.model},
                        {"file", r.file},
                        {"size_bytes", r.size_bytes},
                        {"backend", r.backend},
                        {"threads", r.threads},
                        {"depth", r.depth},
                        {"kv_bytes_read", r.kv_bytes_read},
                        {"load_s", r.load_s},
                        {"prompt_tokens", r.prompt_tokens},
                        {"prefill_tok_s", r.prefill_tok_s.median},
                        {"ttft_s", r.ttft_s.median},
                        {"gen_tokens", r.gen_tokens},
                        {"decode_tok_s", r.decode_tok_s.median},
                        {"peak_rss_bytes", r.peak_rss_bytes},
                        {"bandwidth_gb_s", r.bandwidth_gb_s},
                        {"roofline_pct", r.roofline_pct},
                        {"repetitions", r.repetitions}};
    if (!r.prompt_runs.empty()) {
      auto runs = nlohmann::json::array();
      for (const auto& p : r.prompt_runs) {
        runs.push_back({{"prompt", p.prompt}, {"tokens", p.tokens}, {"seconds", p.seconds}, {"tok_s", p.tok_s}});
      }
      e["prompt_runs"] = std::move(runs);
    }
    j["results"].push_back(std::move(e));
  }
  return j;
}

}  // namespace rkchat::runtime
