#include "chat/output_parser.h"

#include <gtest/gtest.h>

using rkchat::chat::OutputParser;
using rkchat::chat::ToolCall;

namespace {

struct Parsed {
  std::string reasoning, content;
  std::vector<ToolCall> calls;
};

Parsed run(const std::vector<std::string>& pieces, bool in_reasoning = false) {
  OutputParser p(in_reasoning);
  Parsed r;
  for (const auto& piece : pieces) {
    auto d = p.push(piece);
    r.reasoning += d.reasoning;
    r.content += d.content;
  }
  auto d = p.finish();
  r.reasoning += d.reasoning;
  r.content += d.content;
  r.calls = p.tool_calls();
  return r;
}

void expect_same(const Parsed& a, const Parsed& b, const std::string& where) {
  EXPECT_EQ(a.reasoning, b.reasoning) << where;
  EXPECT_EQ(a.content, b.content) << where;
  ASSERT_EQ(a.calls.size(), b.calls.size()) << where;
  for (size_t i = 0; i < a.calls.size(); ++i) {
    EXPECT_EQ(a.calls[i].name, b.calls[i].name) << where;
    EXPECT_EQ(a.calls[i].arguments, b.calls[i].arguments) << where;
  }
}

// Every split of `text` into two and three pushes, and one byte per push, gives what one push gives.
void expect_split_invariant(const std::string& text, bool in_reasoning = false) {
  Parsed whole = run({text}, in_reasoning);
  for (size_t i = 0; i <= text.size(); ++i) {
    expect_same(run({text.substr(0, i), text.substr(i)}, in_reasoning), whole, "split at " + std::to_string(i));
    for (size_t j = i; j <= text.size(); j += 3) {
      expect_same(run({text.substr(0, i), text.substr(i, j - i), text.substr(j)}, in_reasoning), whole,
                  "split at " + std::to_string(i) + "," + std::to_string(j));
    }
  }
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  expect_same(run(bytes, in_reasoning), whole, "byte by byte");
}

}  // namespace

TEST(OutputParser, SeparatesReasoningFromAnswer) {
  Parsed r = run({"<think>\nLet me think.\nStill thinking.\n</think>\n\nThe answer is 42."});
  EXPECT_EQ(r.reasoning, "Let me think.\nStill thinking.");
  EXPECT_EQ(r.content, "The answer is 42.");
  EXPECT_TRUE(r.calls.empty());
}

TEST(OutputParser, PromptOpenedThinking) {
  Parsed r = run({"\nreasoning here\n</think>\n\nanswer"}, /*in_reasoning=*/true);
  EXPECT_EQ(r.reasoning, "reasoning here");
  EXPECT_EQ(r.content, "answer");
}

TEST(OutputParser, EmptyThinkBlock) {
  Parsed r = run({"<think>\n\n</think>\n\nHi there!"});
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, "Hi there!");
}

TEST(OutputParser, PlainTextPassesThrough) {
  Parsed r = run({"Just text with < and <b> and </thinking> and a < t"});
  EXPECT_EQ(r.content, "Just text with < and <b> and </thinking> and a < t");
  EXPECT_EQ(r.reasoning, "");
}

TEST(OutputParser, UnfinishedReasoningIsReleasedAtFinish) {
  Parsed r = run({"<think>\nhalf a thought </thi"});
  EXPECT_EQ(r.reasoning, "half a thought </thi");
  EXPECT_EQ(r.content, "");
}

TEST(OutputParser, HoldsBackOnlyWhatMayBeATag) {
  OutputParser p;
  auto d = p.push("Hello <th");
  EXPECT_EQ(d.content, "Hello");  // " <th" may still become "<think>"
  d = p.push("ere");
  EXPECT_EQ(d.content, " <there");
  d = p.push("<tool_");
  EXPECT_EQ(d.content, "");
  d = p.finish();
  EXPECT_EQ(d.content, "<tool_");
}

TEST(OutputParser, ParsesToolCalls) {
  Parsed r =
      run({"<think>\nNeed weather.\n</think>\n\nChecking.\n<tool_call>\n{\"name\": \"get_weather\", "
           "\"arguments\": {\"city\": \"Zürich\", \"days\": 2}}\n</tool_call>\n<tool_call>\n"
           "{\"name\": \"search\", \"arguments\": \"{\\\"q\\\": \\\"news\\\"}\"}\n</tool_call>"});
  EXPECT_EQ(r.reasoning, "Need weather.");
  EXPECT_EQ(r.content, "Checking.");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].arguments, (nlohmann::json{{"city", "Zürich"}, {"days", 2}}));
  EXPECT_EQ(r.calls[1].name, "search");
  EXPECT_EQ(r.calls[1].arguments, (nlohmann::json{{"q", "news"}}));
}

TEST(OutputParser, BadToolCallJsonStaysContent) {
  Parsed r = run({"Try: <tool_call>{\"name\": oops}</tool_call> done"});
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "Try:<tool_call>{\"name\": oops}</tool_call>done");
  Parsed no_name = run({"<tool_call>[1, 2]</tool_call>"});
  EXPECT_TRUE(no_name.calls.empty());
  EXPECT_EQ(no_name.content, "<tool_call>[1, 2]</tool_call>");
}

TEST(OutputParser, UnterminatedToolCall) {
  Parsed complete = run({"<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n"});
  ASSERT_EQ(complete.calls.size(), 1u);
  EXPECT_EQ(complete.calls[0].name, "f");
  Parsed cut = run({"<tool_call>\n{\"name\": \"f\", \"argu"});
  EXPECT_TRUE(cut.calls.empty());
  EXPECT_EQ(cut.content, "<tool_call>\n{\"name\": \"f\", \"argu");
}

TEST(OutputParser, EverySplitPointGivesTheSameResult) {
  expect_split_invariant("<think>\nstep 1\nstep 2\n</think>\n\nAnswer: <b>42</b>\n");
  expect_split_invariant("\nstill thinking </think>\n\nok", /*in_reasoning=*/true);
  expect_split_invariant(
      "Sure.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": \"</tool\"}}\n</tool_call>\n"
      "<tool_call>{bad json}</tool_call> tail <thin");
  expect_split_invariant("<think></think><tool_call>{\"name\":\"g\"}</tool_call>");
}
