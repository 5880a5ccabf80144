#include "runtime/chat_commands.h"

#include <gtest/gtest.h>

#include <sstream>

#include "fake_backend.h"

namespace rkchat::runtime {
namespace {

class ChatCommands : public ::testing::Test {
 protected:
  testing::FakeBackend backend;
  ChatSession session{backend, SessionOptions{}};
  std::ostringstream out;
  CommandResult run(const std::string& line) { return handle_command(line, session, backend.info(), out); }
};

TEST_F(ChatCommands, PlainTextIsAMessage) {
  EXPECT_EQ(run("hello there"), CommandResult::message);
  EXPECT_EQ(run("quite"), CommandResult::message);
}

TEST_F(ChatCommands, QuitWords) {
  for (const char* w : {"/quit", "/exit", "quit", "exit", "q", "  /quit  ", "/bye"})
    EXPECT_EQ(run(w), CommandResult::quit) << w;
}

TEST_F(ChatCommands, SetChangesSamplingAndRejectsBadValues) {
  EXPECT_EQ(run("/set temp 0.25"), CommandResult::handled);
  EXPECT_FLOAT_EQ(session.options().generate.sampling.temperature, 0.25f);
  run("/set top-k 7");
  EXPECT_EQ(session.options().generate.sampling.top_k, 7);
  run("/set max-tokens 12");
  EXPECT_EQ(session.options().generate.max_tokens, 12);
  run("/set seed 42");
  EXPECT_EQ(session.options().generate.sampling.seed, 42u);
  out.str("");
  run("/set top-p 0");
  EXPECT_NE(out.str().find("cannot set top-p"), std::string::npos);
  EXPECT_FLOAT_EQ(session.options().generate.sampling.top_p, 0.95f);
  out.str("");
  run("/set temp hot");
  EXPECT_NE(out.str().find("cannot set temp"), std::string::npos);
  out.str("");
  run("/set colour blue");
  EXPECT_NE(out.str().find("usage: /set"), std::string::npos);
}

TEST_F(ChatCommands, ThinkSystemReset) {
  run("/think off");
  EXPECT_FALSE(session.options().enable_thinking);
  run("/think on");
  EXPECT_TRUE(session.options().enable_thinking);
  run("/system You are terse.");
  EXPECT_EQ(session.options().system, "You are terse.");
  out.str("");
  run("/system");
  EXPECT_NE(out.str().find("You are terse."), std::string::npos);
  EXPECT_EQ(run("/reset"), CommandResult::handled);
  EXPECT_TRUE(session.history().empty());
}

TEST_F(ChatCommands, HelpStatsAndUnknown) {
  run("/help");
  EXPECT_NE(out.str().find("/think on|off"), std::string::npos);
  out.str("");
  run("/stats");
  EXPECT_NE(out.str().find("model: fake"), std::string::npos);
  out.str("");
  run("/frobnicate");
  EXPECT_NE(out.str().find("unknown command /frobnicate"), std::string::npos);
}

// The same commands for a chat whose model is elsewhere (`rkchat chat --server`): they act on the options and
// call the client's reset and stats.
TEST(ChatControlsCommands, ActOnTheOptionsAndCallTheClient) {
  SessionOptions options;
  int resets = 0;
  ChatControls chat{options, [&resets] { ++resets; },
                    [](std::ostream& o) {
                      SessionTotals t;
                      t.turns = 3;
                      print_totals(t, o);
                    }};
  std::ostringstream out;
  EXPECT_EQ(handle_command("/set temp 0.5", chat, out), CommandResult::handled);
  EXPECT_FLOAT_EQ(options.generate.sampling.temperature, 0.5f);
  handle_command("/think off", chat, out);
  EXPECT_FALSE(options.enable_thinking);
  handle_command("/system Be brief.", chat, out);
  EXPECT_EQ(options.system, "Be brief.");
  EXPECT_EQ(resets, 1);
  handle_command("/reset", chat, out);
  EXPECT_EQ(resets, 2);
  out.str("");
  handle_command("/stats", chat, out);
  EXPECT_NE(out.str().find("turns: 3,"), std::string::npos);
  EXPECT_EQ(handle_command("hello", chat, out), CommandResult::message);
  EXPECT_EQ(handle_command("/quit", chat, out), CommandResult::quit);
}

}  // namespace
}  // namespace rkchat::runtime
