// Contract tests of the RKLLM backend against the runtime double, in both ABI families.
#include <gtest/gtest.h>

#include <thread>

#include "rkllm_fixture.h"

namespace rkchat::backends {
namespace {

using nlohmann::json;
using testing::Answer;
using testing::ask;
using testing::double_lib;
using testing::text;

class RkllmContract : public testing::RkllmTest, public ::testing::WithParamInterface<std::string> {
 protected:
  std::unique_ptr<Backend> load(LoadOptions o = {}) {
    if (o.path.empty()) o = options(GetParam(), GetParam());
    return make_rkllm_backend(o);
  }
  int family() const { return GetParam().rfind("1.3", 0) == 0 ? 13 : 12; }
};

TEST_P(RkllmContract, InitGetsOurOptions) {
  auto o = options(GetParam(), GetParam());
  o.n_ctx = 2048;
  o.npu_domain = 1;
  o.cpus = "4-7";
  auto b = load(o);
  EXPECT_EQ(b->info().backend, "rkllm");
  EXPECT_EQ(b->info().toolkit_version, GetParam());
  EXPECT_EQ(b->info().n_ctx_train, 4096);  // from the runtime's init log
  EXPECT_EQ(b->info().quantization, "W8A8");
  EXPECT_FALSE(b->capabilities().token_input);
  EXPECT_TRUE(b->capabilities().text_input);
  const auto init = calls("init");
  ASSERT_EQ(init.size(), 1u);
  EXPECT_EQ(init[0]["family"], family());
  EXPECT_EQ(init[0]["max_context_len"], 2048);
  EXPECT_EQ(init[0]["base_domain_id"], 1);
  EXPECT_EQ(init[0]["enabled_cpus_mask"], 0xF0);
  EXPECT_EQ(init[0]["enabled_cpus_num"], 4);
  EXPECT_EQ(init[0]["is_async"], 0);
  EXPECT_EQ(init[0]["n_batch"], 1);  // the runtime's default kept
  EXPECT_TRUE(failed_checks().empty());
}

TEST_P(RkllmContract, StreamsTextAndPerf) {
  auto b = load();
  auto c = b->start_conversation();
  TurnInput in = text("Wie geht's?");
  in.enable_thinking = false;
  const Answer a = ask(*c, in);
  EXPECT_EQ(a.text, "Hello! You said: Wie geht's?");
  EXPECT_GT(a.pieces.size(), 3u);  // streamed, not at once
  EXPECT_EQ(a.stats.stop, StopReason::eos);
  EXPECT_EQ(a.stats.gen_tokens, static_cast<int>(a.pieces.size()));
  EXPECT_GT(a.stats.prefill_ms, 0.0);
  EXPECT_GT(a.stats.decode_ms, 0.0);
  EXPECT_EQ(a.stats.memory_bytes, static_cast<uint64_t>(1234.5 * 1024 * 1024));
  const auto run = calls("run");
  ASSERT_EQ(run.size(), 1u);
  EXPECT_EQ(run[0]["role"], "user");
  EXPECT_EQ(run[0]["prompt"], "Wie geht's?");
  EXPECT_EQ(run[0]["enable_thinking"], 0);
  EXPECT_EQ(run[0]["keep_history"], 1);
}

TEST_P(RkllmContract, MultiTurnKeepsHistoryUntilCleared) {
  auto b = load();
  auto c = b->start_conversation();
  ask(*c, text("one"));
  ask(*c, text("two"));
  auto run = calls("run");
  ASSERT_EQ(run.size(), 2u);
  EXPECT_EQ(run[0]["kv_tokens_before"], 0);
  EXPECT_GT(run[1]["kv_tokens_before"].get<int>(), 0);
  EXPECT_GT(c->cached_tokens(), 0);
  c->clear();
  EXPECT_EQ(c->cached_tokens(), 0);
  ask(*c, text("three"));
  run = calls("run");
  EXPECT_EQ(run[2]["kv_tokens_before"], 0);
  EXPECT_THROW(b->start_conversation(), Error);  // one KV cache per handle
}

TEST_P(RkllmContract, SystemPromptGoesThroughTheChatTemplate) {
  auto b = load();
  auto c = b->start_conversation();
  TurnInput in = text("hi");
  in.system = "Be brief.";
  ask(*c, in);
  const auto t = calls("set_chat_template");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_NE(t[0]["system"].get<std::string>().find("Be brief."), std::string::npos);
}

TEST_P(RkllmContract, AbortMidAnswer) {
  script({{"delay_ms", 20},
          {"callback_thread", "worker"},
          {"turns", {{{"pieces", json::array()}, {"runaway", {{"text", " la"}, {"token", 5}, {"max", 500}}}}}}});
  auto b = load();
  auto c = b->start_conversation();
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    c->abort();
  });
  const Answer a = ask(*c, text("sing"));
  stopper.join();
  EXPECT_EQ(a.stats.stop, StopReason::aborted);
  EXPECT_FALSE(calls("abort").empty());
  const auto answer = calls("answer");
  ASSERT_EQ(answer.size(), 1u);
  EXPECT_TRUE(answer[0]["aborted"].get<bool>());
  EXPECT_LT(answer[0]["emitted"].get<int>(), 100);
}

TEST_P(RkllmContract, SinkStopsTheRuntime) {
  auto b = load();
  auto c = b->start_conversation();
  int seen = 0;
  const auto stats = c->generate(text("a b c d e f"), {}, [&](const Piece&) { return ++seen < 2; });
  EXPECT_EQ(stats.stop, StopReason::stopped_by_caller);
  EXPECT_EQ(seen, 2);
  EXPECT_FALSE(calls("abort").empty());
}

TEST_P(RkllmContract, ErrorStateIsReported) {
  script({{"turns", {{{"pieces", {{{"text", "par"}, {"token", 1}}, {{"state", "error"}}}}}}}});
  auto b = load();
  auto c = b->start_conversation();
  const Answer a = ask(*c, text("x"));
  EXPECT_EQ(a.stats.stop, StopReason::error);
  EXPECT_NE(a.stats.error.find("error"), std::string::npos);
}

TEST_P(RkllmContract, EmptyAnswerSaysWhy) {
  script({{"turns", {{{"pieces", json::array()}}}}});
  auto b = load();
  auto c = b->start_conversation();
  const Answer a = ask(*c, text("x"));
  EXPECT_EQ(a.text, "");
  EXPECT_EQ(a.stats.stop, StopReason::error);
  EXPECT_NE(a.stats.error.find("empty answer"), std::string::npos) << a.stats.error;
  EXPECT_NE(a.stats.error.find("version"), std::string::npos) << a.stats.error;
}

TEST_P(RkllmContract, SplitUtf8IsJoined) {
  // "你好" split across three callbacks, the middle one in the WAITING state.
  script({{"turns",
           {{{"pieces",
              {{{"hex", "e4bd"}, {"token", 1}, {"state", "waiting"}},
               {{"hex", "a0e5"}, {"token", 2}},
               {{"hex", "a5bd"}, {"token", 3}}}}}}}});
  auto b = load();
  auto c = b->start_conversation();
  const Answer a = ask(*c, text("x"));
  EXPECT_EQ(a.text, "\xE4\xBD\xA0\xE5\xA5\xBD");
  for (const auto& p : a.pieces) EXPECT_FALSE(p.text.empty());
}

TEST_P(RkllmContract, EndOfAnswerGuardCutsARunaway) {
  // Pieces 5 ms apart, as a runtime generates them: rkllm_abort lands long before the 300 extra ones are out.
  script({{"delay_ms", 5},
          {"turns",
           {{{"pieces", {{{"text", "Done."}, {"token", 9}}, {{"text", "<|im_end|>"}, {"token", 151645}}}},
             {"runaway", {{"text", " user: more"}, {"token", 77}, {"max", 300}}}}}}});
  auto b = load();
  auto c = b->start_conversation();
  ::testing::internal::CaptureStderr();
  const Answer a1 = ask(*c, text("x"));
  const Answer a2 = ask(*c, text("y"));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(a1.text, "Done.");
  EXPECT_EQ(a1.stats.stop, StopReason::eos);
  EXPECT_EQ(a2.text, "Done.");
  const auto answer = calls("answer");
  ASSERT_EQ(answer.size(), 2u);
  EXPECT_TRUE(answer[0]["aborted"].get<bool>());
  EXPECT_LT(answer[0]["emitted"].get<int>(), 20);
  // Warned once, with the likely cause.
  EXPECT_NE(err.find("past the end of the answer"), std::string::npos) << err;
  EXPECT_EQ(err.find("past the end"), err.rfind("past the end")) << err;
}

TEST_P(RkllmContract, MaxTokens) {
  auto b = load();
  auto c = b->start_conversation();
  GenerateOptions g;
  g.max_tokens = 2;
  const Answer a = ask(*c, text("a b c d e f g h"), g);
  EXPECT_EQ(a.stats.stop, StopReason::max_tokens);
  EXPECT_EQ(a.pieces.size(), 2u);
}

TEST_P(RkllmContract, ContextBeyondTheModelLimit) {
  auto o = options(GetParam(), GetParam());
  o.n_ctx = 8192;
  try {
    load(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("exceeds the model's limit 4096"), std::string::npos) << e.what();
  }
}

TEST_P(RkllmContract, TokenInputFeedsOnlyTheNewPart) {
  auto o = options(GetParam(), GetParam());
  o.tokenizer_path = std::string(RKCHAT_FIXTURES_DIR) + "/tiny-qwen3-f32.gguf";
  if (!std::filesystem::exists(o.tokenizer_path)) GTEST_SKIP() << "fixtures not found";
  script({{"turns", {{{"pieces", {{{"text", "ok"}, {"token", 42}}}}}}}});
  auto b = load(o);
  ASSERT_TRUE(b->capabilities().token_input);
  auto c = b->start_conversation();
  TurnInput t1;
  t1.tokens = {999, 10, 11, 12};
  ask(*c, t1);
  TurnInput t2;
  t2.tokens = {999, 10, 11, 12, 42, 13, 14};  // the history plus the answer plus a new turn
  const Answer a2 = ask(*c, t2);
  EXPECT_EQ(a2.stats.cached_tokens, 5);
  TurnInput t3;
  t3.tokens = {999, 20, 21};  // a different conversation: forget and feed everything
  ask(*c, t3);
  const auto run = calls("run");
  ASSERT_EQ(run.size(), 3u);
  EXPECT_EQ(run[0]["tokens"], json({999, 10, 11, 12}));
  EXPECT_EQ(run[1]["tokens"], json({13, 14}));
  EXPECT_EQ(run[2]["tokens"], json({999, 20, 21}));
  EXPECT_EQ(run[2]["kv_tokens_before"], 0);
  EXPECT_GE(calls("clear_kv_cache").size(), 2u);  // at start_conversation and before the third turn
}

INSTANTIATE_TEST_SUITE_P(Abi, RkllmContract, ::testing::Values("1.2.1", "1.3.0"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           return "v" + p.param.substr(0, 1) + p.param.substr(2, 1);
                         });

class RkllmLoad : public testing::RkllmTest {};

TEST_F(RkllmLoad, MissingSymbolIsNamed) {
  auto o = options("no_abort", "1.2.1");
  o.rkllm_abi = "1.2";
  try {
    make_rkllm_backend(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rkllm_abort"), std::string::npos) << e.what();
  }
}

TEST_F(RkllmLoad, WrongAbiFailsLoudly) {
  auto o = options("1.2.1", "1.2.1");
  o.rkllm_abi = "1.3";
  try {
    make_rkllm_backend(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("contradicts"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(calls("init").empty());  // refused before touching the runtime
  // Forced: the runtime gets the other layout and must refuse it, not crash.
  o.force = true;
  ::testing::internal::CaptureStderr();
  EXPECT_THROW(make_rkllm_backend(o), Error);
  ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(failed_checks().empty());
}

TEST_F(RkllmLoad, WrongAbiTheOtherWay) {
  auto o = options("1.3.0", "1.3.0");
  o.rkllm_abi = "1.2";
  o.force = true;
  ::testing::internal::CaptureStderr();
  EXPECT_THROW(make_rkllm_backend(o), Error);
  ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(failed_checks().empty());
}

TEST_F(RkllmLoad, VersionMismatchCaughtBeforeInit) {
  auto o = options("1.2.1", "1.3.0");
  try {
    make_rkllm_backend(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("1.3.0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("1.2.1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--force"), std::string::npos) << msg;
  }
  EXPECT_TRUE(calls("init").empty());
}

TEST_F(RkllmLoad, RuntimeFromFolderByTrailer) {
  LoadOptions o;
  o.path = model("1.2.3");
  o.rkllm_lib_dir = testing::double_dir();
  auto b = make_rkllm_backend(o);
  ASSERT_EQ(calls("init").size(), 1u);
  EXPECT_EQ(calls("init")[0]["family"], 12);
  o.path = model("1.3.0", "new.rkllm");
  auto b2 = (b.reset(), make_rkllm_backend(o));
  EXPECT_EQ(calls("init")[1]["family"], 13);
}

TEST_F(RkllmLoad, MissingRuntimeSaysWhatToInstall) {
  LoadOptions o;
  o.path = model("1.2.1");
  o.rkllm_lib = (dir_ / "nowhere" / "librkllmrt.so").string();
  EXPECT_THROW(make_rkllm_backend(o), Error);
}

}  // namespace
}  // namespace rkchat::backends
