#include "backends/rkllm/stream.h"

#include <algorithm>

namespace rkchat::backends::rkllm {

namespace {

// Length of the UTF-8 sequence a lead byte starts (1 for ASCII and for stray bytes, which pass through).
size_t sequence_length(unsigned char lead) {
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  if (lead >= 0xE0) return lead <= 0xEF ? 3 : 1;
  if (lead >= 0xC2) return 2;
  return 1;
}

// Bytes at the end of `s` that start a character whose continuation has not arrived yet.
size_t incomplete_tail(const std::string& s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= std::min<size_t>(3, n); ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back
    return sequence_length(c) > back ? back : 0;
  }
  return 0;
}

}  // namespace

std::string Utf8Joiner::push(std::string_view bytes) {
  pending_.append(bytes);
  const size_t keep = incomplete_tail(pending_);
  std::string out = pending_.substr(0, pending_.size() - keep);
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string Utf8Joiner::flush() {
  std::string out = pending_.empty() ? "" : "\xEF\xBF\xBD";
  pending_.clear();
  return out;
}

EndGuard::EndGuard(std::vector<int32_t> end_ids, std::vector<std::string> end_markers)
    : ids_(std::move(end_ids)), markers_(std::move(end_markers)) {
  std::erase_if(markers_, [](const std::string& m) { return m.empty(); });
}

std::pair<std::vector<int32_t>, std::vector<std::string>> EndGuard::default_ends() {
  return {{151645, 151643}, {"<|im_end|>", "<|endoftext|>", "<|eot_id|>", "</s>"}};
}

EndGuard EndGuard::defaults() {
  auto [ids, markers] = default_ends();
  return EndGuard(std::move(ids), std::move(markers));
}

EndGuard::Step EndGuard::push(std::string_view text, int32_t token) {
  Step step;
  if (token >= 0 && std::find(ids_.begin(), ids_.end(), token) != ids_.end()) {
    step.text = std::move(held_);
    held_.clear();
    step.ended = true;
    return step;
  }
  held_.append(text);
  size_t first = std::string::npos;
  for (const auto& m : markers_) first = std::min(first, held_.find(m));
  if (first != std::string::npos) {
    step.text = held_.substr(0, first);
    held_.clear();
    step.ended = true;
    return step;
  }
  // Hold back the longest tail that a marker could still grow from.
  size_t hold = 0;
  for (const auto& m : markers_) {
    for (size_t len = std::min(m.size() - 1, held_.size()); len > hold; --len) {
      if (held_.compare(held_.size() - len, len, m, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  step.text = held_.substr(0, held_.size() - hold);
  held_.erase(0, held_.size() - hold);
  return step;
}

std::string EndGuard::flush() {
  std::string out = std::move(held_);
  held_.clear();
  return out;
}

}  // namespace rkchat::backends::rkllm
