#include "runtime/stop_strings.h"

#include <gtest/gtest.h>

namespace rkchat::runtime {
namespace {

std::string feed(StopMatcher& m, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += m.push(p);
  return out + m.flush();
}

TEST(StopMatcher, PassesTextThroughWithoutStops) {
  StopMatcher m({});
  EXPECT_EQ(m.push("abc"), "abc");
  EXPECT_FALSE(m.matched());
}

TEST(StopMatcher, FindsAStopSplitAcrossPieces) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.push("Hello ST"), "Hello ");  // "ST" could start STOP: held back
  EXPECT_EQ(m.push("O"), "");
  EXPECT_EQ(m.push("P and more"), "");
  EXPECT_TRUE(m.matched());
  EXPECT_EQ(m.push("later"), "");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, ReleasesAFalseStartOnceItCannotMatch) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.push("a ST"), "a ");
  EXPECT_EQ(m.push("ART"), "START");
  EXPECT_FALSE(m.matched());
}

TEST(StopMatcher, FlushReleasesAHeldTail) {
  StopMatcher m({"</s>"});
  EXPECT_EQ(feed(m, {"end </"}), "end </");
  EXPECT_FALSE(m.matched());
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
  StopMatcher m({"world", "lo"});
  EXPECT_EQ(feed(m, {"hel", "lo world"}), "hel");
  EXPECT_TRUE(m.matched());
}

TEST(StopMatcher, EmptyStopStringsAreIgnored) {
  StopMatcher m({"", "x"});
  EXPECT_EQ(feed(m, {"abc"}), "abc");
}

}  // namespace
}  // namespace rkchat::runtime
