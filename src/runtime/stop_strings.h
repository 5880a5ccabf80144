// Stop strings over a stream of text pieces: a string may arrive split across pieces, so the tail that could
// still become the start of a stop string is held back until the next piece decides.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rkchat::runtime {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);
  // Returns the text that is now safe to show. After a match it returns the text before the stop string and
  // matched() turns true; later pushes return nothing.
  std::string push(std::string_view piece);
  // End of the stream: whatever was held back (nothing after a match).
  std::string flush();
  bool matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool matched_ = false;
};

}  // namespace rkchat::runtime
