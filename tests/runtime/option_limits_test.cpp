// The ranges of the numeric options (shared by the command line and /set) and /set's refusal of values outside
// them or of extra words.
#include "runtime/option_limits.h"

#include <gtest/gtest.h>

#include <sstream>

#include "fake_backend.h"
#include "runtime/chat_commands.h"

namespace rkchat::runtime {
namespace {

TEST(OptionLimits, NamesTheAcceptedRange) {
  EXPECT_EQ(check_limit(limits::top_p, 0.5), "");
  EXPECT_EQ(check_limit(limits::top_p, 1.0), "");
  EXPECT_EQ(check_limit(limits::top_p, 2.0), "must be in (0, 1] (1: off), got 2");
  EXPECT_EQ(check_limit(limits::top_p, 0.0), "must be in (0, 1] (1: off), got 0");
  EXPECT_EQ(check_limit(limits::min_p, 1.0), "must be in [0, 1) (0: off), got 1");
  EXPECT_EQ(check_limit(limits::max_tokens, -5), "must be >= -1 (-1: until the context is full), got -5");
  EXPECT_EQ(check_limit(limits::max_tokens, -1), "");
  EXPECT_EQ(check_limit(limits::at_least_one, 0), "must be >= 1, got 0");
  EXPECT_NE(check_limit(limits::temperature, std::nan("")), "");
  EXPECT_NE(check_limit(limits::threads, std::numeric_limits<double>::infinity()), "");
}

class SetCommand : public ::testing::Test {
 protected:
  testing::FakeEngine fe;
  testing::FakeBackend& backend = *fe.backend;
  ChatSession session{*fe.engine, SessionOptions{}};
  std::ostringstream out;
  std::string run(const std::string& line) {
    out.str("");
    handle_command(line, session, backend.info(), out);
    return out.str();
  }
};

TEST_F(SetCommand, RefusesValuesOutsideTheRange) {
  const auto before = session.options().generate;
  EXPECT_NE(run("/set max-tokens -5").find("cannot set max-tokens: must be >= -1"), std::string::npos);
  EXPECT_NE(run("/set temp -1").find("cannot set temp: must be in [0, 100]"), std::string::npos);
  EXPECT_NE(run("/set top-k -5").find("cannot set top-k"), std::string::npos);
  EXPECT_NE(run("/set min-p -1").find("cannot set min-p"), std::string::npos);
  EXPECT_NE(run("/set top-p 2").find("cannot set top-p"), std::string::npos);
  EXPECT_NE(run("/set temp nan").find("cannot set temp"), std::string::npos);
  EXPECT_EQ(session.options().generate.max_tokens, before.max_tokens);
  EXPECT_EQ(session.options().generate.sampling.temperature, before.sampling.temperature);
  EXPECT_EQ(session.options().generate.sampling.top_k, before.sampling.top_k);
}

TEST_F(SetCommand, RefusesExtraWords) {
  const float before = session.options().generate.sampling.temperature;
  EXPECT_NE(run("/set temp 1 2 3").find("usage: /set NAME VALUE"), std::string::npos);
  EXPECT_EQ(session.options().generate.sampling.temperature, before);
  EXPECT_EQ(run("/set temp 0.5"), "temp = 0.5\n");
}

}  // namespace
}  // namespace rkchat::runtime
