// The JSON translation of the server: request fields and messages of each API into the one internal request.
#include <gtest/gtest.h>

#include "server/anthropic.h"
#include "server/api_error.h"
#include "server/generation.h"
#include "server/ollama.h"
#include "server/openai.h"
#include "server/request.h"

namespace rkchat::server {
namespace {

ojson J(const char* s) { return ojson::parse(s); }

int status_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e.status();
  }
  return 200;
}

TEST(OpenAIParse, SamplingAndLimits) {
  auto r = openai::parse_chat(J(R"({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.5,
    "top_p":0.9,"top_k":7,"min_p":0.1,"presence_penalty":0.3,"frequency_penalty":-0.2,"repeat_penalty":1.1,
    "seed":42,"stop":["a","b"],"max_completion_tokens":17,"stream":true,"stream_options":{"include_usage":true}})"));
  EXPECT_EQ(r.model, "m");
  EXPECT_FLOAT_EQ(r.generate.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.generate.sampling.top_p, 0.9f);
  EXPECT_EQ(r.generate.sampling.top_k, 7);
  EXPECT_FLOAT_EQ(r.generate.sampling.min_p, 0.1f);
  EXPECT_FLOAT_EQ(r.generate.sampling.presence_penalty, 0.3f);
  EXPECT_FLOAT_EQ(r.generate.sampling.frequency_penalty, -0.2f);
  EXPECT_FLOAT_EQ(r.generate.sampling.repeat_penalty, 1.1f);
  EXPECT_EQ(r.generate.sampling.seed, 42u);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.generate.max_tokens, 17);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.enable_thinking);
}

TEST(OpenAIParse, ThinkingSwitchesAndTools) {
  auto off = openai::parse_chat(
      J(R"({"messages":[{"role":"user","content":"x"}],"chat_template_kwargs":{"enable_thinking":false}})"));
  EXPECT_FALSE(off.enable_thinking);
  auto none = openai::parse_chat(J(R"({"messages":[{"role":"user","content":"x"}],"reasoning_effort":"none"})"));
  EXPECT_FALSE(none.enable_thinking);
  auto tools = openai::parse_chat(J(R"({"messages":[{"role":"user","content":"x"}],
    "tools":[{"type":"function","function":{"name":"f","parameters":{"b":1,"a":2}}}]})"));
  ASSERT_TRUE(tools.tools.is_array());
  // the client's key order is kept for the template's tojson
  EXPECT_EQ(tools.tools[0]["function"]["parameters"].dump(), R"({"b":1,"a":2})");
  auto no_tools = openai::parse_chat(J(R"({"messages":[{"role":"user","content":"x"}],"tool_choice":"none",
    "tools":[{"type":"function","function":{"name":"f"}}]})"));
  EXPECT_TRUE(no_tools.tools.is_null());
}

TEST(OpenAIParse, RefusesWhatItCannotHonour) {
  const char* bad[] = {
      R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}})",
      R"({"messages":[{"role":"user","content":"x"}],"temperature":"1"})",
      R"({"messages":[{"role":"user","content":"x"}],"max_tokens":0})",
      R"({"messages":[{"role":"user","content":"x"}],"top_k":1.5})",
      R"({"messages":[{"role":"user","content":"x"}],"seed":"s"})",
      R"({"messages":[{"role":"user","content":"x"}],"stop":[1]})",
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})",
      R"({"messages":[{"role":"user","content":"x"}],"stream_options":3})",
      R"({})",
  };
  for (const char* b : bad) EXPECT_EQ(status_of([&] { openai::parse_chat(J(b)); }), 400) << b;
  EXPECT_EQ(status_of([] { openai::parse_completion(J(R"({"prompt":["a","b"]})")); }), 400);
  EXPECT_EQ(openai::parse_completion(J(R"({"prompt":["a"]})")).prompt.value(), "a");
}

TEST(Messages, NormalizesPartsRolesAndToolCalls) {
  auto m = normalize_messages(J(R"([{"role":"developer","content":"sys"},
    {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
    {"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function",
      "function":{"name":"f","arguments":"{\"x\": 1}"}}]},
    {"role":"tool","tool_call_id":"1","content":"r"}])"));
  EXPECT_EQ(m[0]["role"], "system");
  EXPECT_EQ(m[1]["content"], "ab");
  EXPECT_EQ(m[2]["content"], "");
  EXPECT_EQ(m[2]["tool_calls"][0]["function"]["arguments"]["x"], 1);  // a string of JSON becomes the object
  EXPECT_EQ(m[3]["tool_call_id"], "1");
}

TEST(Messages, RefusesMalformed) {
  const char* bad[] = {
      R"("x")",
      R"([])",
      R"([{}])",
      R"([1])",
      R"([{"role":1,"content":"x"}])",
      R"([{"role":"wizard","content":"x"}])",
      R"([{"role":"user","content":5}])",
      R"([{"role":"user"}])",
      R"([{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"assistant","content":"c"}])",
      R"([{"role":"user","content":"a","tool_calls":[]}])",
      R"([{"role":"user","content":"a","name":3}])",
  };
  for (const char* b : bad) EXPECT_EQ(status_of([&] { normalize_messages(J(b)); }), 400) << b;
}

TEST(Body, MalformedDeepAndWrongType) {
  EXPECT_EQ(status_of([] { parse_body("{"); }), 400);
  EXPECT_EQ(status_of([] { parse_body("[]"); }), 400);
  EXPECT_EQ(status_of([] { parse_body(std::string(100000, '[') + std::string(100000, ']')); }), 400);
  EXPECT_EQ(status_of([] { parse_body("{\"a\":\"\xff\"}"); }), 400);
  EXPECT_EQ(status_of([] { parse_body("{\"a\":1e999}"); }), 400);
  EXPECT_EQ(parse_body(R"({"a":1})")["a"], 1);
}

TEST(OllamaParse, OptionsThinkAndEmptyRequests) {
  auto p = ollama::parse_chat(J(R"({"model":"q:latest","messages":[{"role":"user","content":"x","images":[]},
    {"role":"assistant","content":"y","thinking":"t"},{"role":"user","content":"z"}],
    "options":{"num_predict":5,"temperature":0.2,"top_k":3,"seed":9,"stop":"\n","num_ctx":4096},
    "think":false,"keep_alive":"5m"})"));
  EXPECT_TRUE(p.request.stream);  // Ollama streams unless told not to
  EXPECT_EQ(p.request.generate.max_tokens, 5);
  EXPECT_EQ(p.request.generate.sampling.top_k, 3);
  EXPECT_EQ(p.request.stop, (std::vector<std::string>{"\n"}));
  EXPECT_FALSE(p.request.enable_thinking);
  EXPECT_EQ(p.keep_alive_s.value(), 300);
  EXPECT_EQ(p.request.messages[1]["reasoning_content"], "t");
  EXPECT_TRUE(ollama::parse_generate(J(R"({"model":"q","keep_alive":0})")).empty);
  auto raw = ollama::parse_generate(J(R"({"model":"q","prompt":"p","raw":true,"stream":false})"));
  EXPECT_EQ(raw.request.prompt.value(), "p");
  EXPECT_FALSE(raw.request.stream);
  auto templ = ollama::parse_generate(J(R"({"model":"q","prompt":"p","system":"s"})"));
  EXPECT_EQ(templ.request.messages.size(), 2u);
  EXPECT_EQ(
      status_of([] { ollama::parse_chat(J(R"({"messages":[{"role":"user","content":"x","images":["aGk="]}]})")); }),
      400);
  EXPECT_EQ(status_of([] { ollama::parse_chat(J(R"({"messages":[{"role":"user","content":"x"}],"format":"json"})")); }),
            400);
  EXPECT_EQ(
      status_of([] { ollama::parse_chat(J(R"({"messages":[{"role":"user","content":"x"}],"keep_alive":"5y"})")); }),
      400);
}

TEST(AnthropicParse, BlocksToolsAndThinking) {
  auto r = anthropic::parse_messages(J(R"({"model":"c","max_tokens":9,"system":[{"type":"text","text":"S"}],
    "stop_sequences":["END"],"messages":[{"role":"user","content":"q"},
    {"role":"assistant","content":[{"type":"thinking","thinking":"hm"},{"type":"text","text":"a"},
      {"type":"tool_use","id":"t1","name":"f","input":{"k":"v"}}]},
    {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"R"}]},
      {"type":"text","text":"more"}]}],
    "tools":[{"name":"f","description":"d","input_schema":{"type":"object"}}]})"));
  EXPECT_EQ(r.generate.max_tokens, 9);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"END"}));
  EXPECT_FALSE(r.enable_thinking);  // off unless asked for
  ASSERT_EQ(r.messages.size(), 5u);
  EXPECT_EQ(r.messages[0]["role"], "system");
  EXPECT_EQ(r.messages[2]["reasoning_content"], "hm");
  EXPECT_EQ(r.messages[2]["tool_calls"][0]["function"]["arguments"]["k"], "v");
  EXPECT_EQ(r.messages[3]["role"], "tool");
  EXPECT_EQ(r.messages[3]["content"], "R");
  EXPECT_EQ(r.messages[4]["content"], "more");
  EXPECT_EQ(r.tools[0]["function"]["parameters"]["type"], "object");
  auto t = anthropic::parse_messages(
      J(R"({"messages":[{"role":"user","content":"q"}],"thinking":{"type":"enabled","budget_tokens":10}})"));
  EXPECT_TRUE(t.enable_thinking);
  EXPECT_EQ(status_of([] { anthropic::parse_messages(J(R"({"messages":[{"role":"system","content":"q"}]})")); }), 400);
  EXPECT_EQ(
      status_of([] { anthropic::parse_messages(J(R"({"messages":[{"role":"user","content":[{"type":"image"}]}]})")); }),
      400);
}

TEST(Errors, Shapes) {
  auto o = ojson::parse(openai::error_body(404, "not_found_error", "no"));
  EXPECT_EQ(o["error"]["type"], "not_found_error");
  EXPECT_EQ(o["error"]["code"], 404);
  auto a = ojson::parse(anthropic::error_body(503, "unavailable_error", "busy"));
  EXPECT_EQ(a["type"], "error");
  EXPECT_EQ(a["error"]["type"], "overloaded_error");
  ApiError ctx(400, "exceed_context_size_error", "long");
  ctx.n_prompt_tokens = 10;
  ctx.n_ctx = 5;
  auto res = openai::error_response(ctx);
  auto j = ojson::parse(res.body);
  EXPECT_EQ(j["error"]["n_prompt_tokens"], 10);
  EXPECT_EQ(j["error"]["n_ctx"], 5);
  ApiError busy(503, "unavailable_error", "busy");
  busy.retry_after_s = 1;
  auto r503 = ollama::error_response(busy);
  EXPECT_EQ(r503.status, 503);
  EXPECT_EQ(r503.headers.at(0).first, "Retry-After");
}

TEST(FinishReason, ALimitCutsEvenAToolCall) {
  Outcome o;
  o.stats.stop = backends::StopReason::eos;
  EXPECT_EQ(finish_reason(o), "stop");
  o.tool_calls.push_back({"get_weather", nlohmann::json::object(), "{}"});
  EXPECT_EQ(finish_reason(o), "tool_calls");
  o.stats.stop = backends::StopReason::max_tokens;  // the call may be unfinished
  EXPECT_EQ(finish_reason(o), "length");
  o.stats.stop = backends::StopReason::context_full;
  EXPECT_EQ(finish_reason(o), "length");
  o.tool_calls.clear();
  o.stats.stop = backends::StopReason::stopped_by_caller;
  o.stop_string = true;
  EXPECT_EQ(finish_reason(o), "stop");
}

}  // namespace
}  // namespace rkchat::server
