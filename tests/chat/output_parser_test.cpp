#include "chat/output_parser.h"

#include <gtest/gtest.h>

#include <random>

using rkchat::chat::OutputDelta;
using rkchat::chat::OutputParser;
using rkchat::chat::ToolCall;

namespace {

struct Parsed {
  std::string reasoning, content;
  std::vector<rkchat::chat::ToolCallDelta> fragments;  // consecutive arguments fragments of a call merged
  std::vector<ToolCall> calls, calls_done;
};

Parsed run(const std::vector<std::string>& pieces, bool in_reasoning = false) {
  OutputParser p(in_reasoning);
  OutputDelta all;
  for (const auto& piece : pieces) all.append(p.push(piece));
  all.append(p.finish());
  return {all.reasoning, all.content, all.tool_calls, p.tool_calls(), all.calls_done};
}

void expect_same_calls(const std::vector<ToolCall>& a, const std::vector<ToolCall>& b, const std::string& where) {
  ASSERT_EQ(a.size(), b.size()) << where;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name) << where;
    EXPECT_EQ(a[i].arguments, b[i].arguments) << where;
    EXPECT_EQ(a[i].arguments_text, b[i].arguments_text) << where;
  }
}

void expect_same(const Parsed& a, const Parsed& b, const std::string& where) {
  EXPECT_EQ(a.reasoning, b.reasoning) << where;
  EXPECT_EQ(a.content, b.content) << where;
  ASSERT_EQ(a.fragments.size(), b.fragments.size()) << where;
  for (size_t i = 0; i < a.fragments.size(); ++i) {
    EXPECT_EQ(a.fragments[i].index, b.fragments[i].index) << where;
    EXPECT_EQ(a.fragments[i].name, b.fragments[i].name) << where;
    EXPECT_EQ(a.fragments[i].arguments, b.fragments[i].arguments) << where;
  }
  expect_same_calls(a.calls, b.calls, where);
  expect_same_calls(a.calls_done, b.calls, where);
}

// The fragments of each call: its first names it, the rest add up to its final arguments text.
void expect_fragments_spell_calls(const Parsed& r) {
  std::vector<std::string> args(r.calls.size());
  std::vector<int> named(r.calls.size(), 0);
  for (const auto& f : r.fragments) {
    ASSERT_LT(f.index, r.calls.size());
    if (!f.name.empty()) {
      EXPECT_EQ(f.name, r.calls[f.index].name);
      EXPECT_TRUE(f.arguments.empty());
      EXPECT_TRUE(args[f.index].empty()) << "arguments before the name";
      ++named[f.index];
    }
    args[f.index] += f.arguments;
  }
  for (size_t i = 0; i < r.calls.size(); ++i) {
    EXPECT_EQ(named[i], 1) << i;
    EXPECT_EQ(args[i], r.calls[i].arguments_text) << i;
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
  expect_fragments_spell_calls(whole);
}

// Random cuts into 1..8-byte pieces (fixed seed: a failure repeats).
void expect_random_splits_invariant(const std::string& text) {
  Parsed whole = run({text});
  std::mt19937 rng(1234);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> pieces;
    for (size_t at = 0; at < text.size();) {
      const size_t n = std::uniform_int_distribution<size_t>(1, 8)(rng);
      pieces.push_back(text.substr(at, n));
      at += n;
    }
    expect_same(run(pieces), whole, "round " + std::to_string(round));
  }
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
  // As written, whitespace outside strings dropped; a call whose arguments are a string is sent compact.
  EXPECT_EQ(r.calls[0].arguments_text, "{\"city\":\"Zürich\",\"days\":2}");
  EXPECT_EQ(r.calls[1].arguments_text, "{\"q\":\"news\"}");
  expect_fragments_spell_calls(r);
}

TEST(OutputParser, ToolCallStreamsAsItArrives) {
  OutputParser p;
  auto d = p.push("Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Par");
  EXPECT_EQ(d.content, "Let me look.");
  ASSERT_EQ(d.tool_calls.size(), 2u);
  EXPECT_EQ(d.tool_calls[0].index, 0u);
  EXPECT_EQ(d.tool_calls[0].name, "get_weather");
  EXPECT_EQ(d.tool_calls[0].arguments, "");
  EXPECT_EQ(d.tool_calls[1].name, "");
  EXPECT_EQ(d.tool_calls[1].arguments, "{\"city\":\"Par");
  EXPECT_TRUE(d.calls_done.empty());
  d = p.push("is, FR\", \"days\": [1, 2]}}\n</tool");
  ASSERT_EQ(d.tool_calls.size(), 1u);
  EXPECT_EQ(d.tool_calls[0].arguments, "is, FR\",\"days\":[1,2]}");
  EXPECT_TRUE(d.calls_done.empty());  // the block is not closed yet
  d = p.push("_call>\n<tool_call>{\"name\": \"now\", \"arguments\": {}}</tool_call>");
  ASSERT_EQ(d.calls_done.size(), 2u);
  EXPECT_EQ(d.calls_done[0].arguments_text, "{\"city\":\"Paris, FR\",\"days\":[1,2]}");
  EXPECT_EQ(d.calls_done[0].arguments, (nlohmann::json{{"city", "Paris, FR"}, {"days", {1, 2}}}));
  ASSERT_EQ(d.tool_calls.size(), 2u);
  EXPECT_EQ(d.tool_calls[0].index, 1u);
  EXPECT_EQ(d.tool_calls[0].name, "now");
  EXPECT_EQ(d.tool_calls[1].arguments, "{}");
  EXPECT_TRUE(p.finish().empty());
  ASSERT_EQ(p.tool_calls().size(), 2u);
}

TEST(OutputParser, ToolCallsWrittenOtherwiseComeWholeAtTheirEnd) {
  OutputParser p;
  auto d = p.push("<tool_call>{\"arguments\": {\"a\": 1}, \"name\": \"late\"}");
  EXPECT_TRUE(d.tool_calls.empty());  // the name comes last: nothing is known to be a call yet
  d = p.push("</tool_call>");
  ASSERT_EQ(d.tool_calls.size(), 2u);
  EXPECT_EQ(d.tool_calls[0].name, "late");
  EXPECT_EQ(d.tool_calls[1].arguments, "{\"a\":1}");
  Parsed no_args = run({"<tool_call>{\"name\": \"ping\"}</tool_call>"});
  ASSERT_EQ(no_args.calls.size(), 1u);
  EXPECT_EQ(no_args.calls[0].arguments_text, "{}");
  expect_fragments_spell_calls(no_args);
}

// A call announced while streaming stays a call: a cut answer leaves its arguments cut (as OpenAI's are when
// max_tokens ends a call), text after its object stays content. Nothing is dropped.
TEST(OutputParser, MalformedAnnouncedToolCall) {
  Parsed cut = run({"<tool_call>\n{\"name\": \"f\", \"arguments\": {\"path\": \"/tm"});
  ASSERT_EQ(cut.calls.size(), 1u);
  EXPECT_EQ(cut.calls[0].arguments_text, "{\"path\":\"/tm");
  EXPECT_EQ(cut.calls[0].arguments, nlohmann::json::object());
  EXPECT_EQ(cut.content, "");
  expect_fragments_spell_calls(cut);
  Parsed junk = run({"<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": 1}}} and more</tool_call> end"});
  ASSERT_EQ(junk.calls.size(), 1u);
  EXPECT_EQ(junk.calls[0].arguments_text, "{\"a\":1}");
  EXPECT_EQ(junk.content, "} and moreend");
  Parsed bad_args = run({"<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": nope}}</tool_call>"});
  ASSERT_EQ(bad_args.calls.size(), 1u);
  EXPECT_EQ(bad_args.calls[0].arguments_text, "{\"a\":nope}");  // as the model wrote it, like OpenAI's
  EXPECT_EQ(bad_args.calls[0].arguments, nlohmann::json::object());
}

TEST(OutputParser, RandomSplitsGiveTheSameEvents) {
  expect_random_splits_invariant(
      "<think>\nplan\n</think>\n\nSure.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
      "{\"city\": \"S\\u00e3o \\\"Paulo\\\" {x}\", \"opts\": {\"units\": [\"c\", 1.5e3]}}}\n</tool_call>\n"
      "<tool_call>{\"arguments\": {}, \"name\": \"late\"}</tool_call><tool_call>not json</tool_call> "
      "<tool_call>{\"name\": \"cut\", \"parameters\": {\"q\": \"a b");
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
  expect_split_invariant(
      "<tool_call>{\"name\": \"f\", \"arguments\": {\"s\": \"a \\\" } \\\\\", \"n\": [ {} ]}}</tool_call>x");
}
