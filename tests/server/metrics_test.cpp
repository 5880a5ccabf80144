// The Prometheus text of /metrics.
#include "server/metrics.h"

#include <gtest/gtest.h>

namespace rkchat::server {
namespace {

TEST(Metrics, CountsRequestsTokensAndTtft) {
  Metrics m;
  RequestLog ok;
  ok.prompt_tokens = 10;
  ok.cached_tokens = 4;
  ok.gen_tokens = 7;
  ok.ttft_ms = 200;
  m.record("/v1/chat/completions", 200, ok);
  RequestLog bad;
  bad.error = "invalid_request_error";
  m.record("/v1/chat/completions", 400, bad);
  RequestLog lost;
  lost.error = "not_found_error";
  m.record("", 404, lost);
  runtime::EngineStats s;
  s.active = 2;
  s.queued = 3;
  const auto text = m.render({{"q\"x", s}});
  EXPECT_NE(text.find("rkchat_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("rkchat_requests_total{route=\"other\",status=\"404\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("rkchat_errors_total{type=\"invalid_request_error\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("rkchat_prompt_tokens_total 10\n"), std::string::npos);
  EXPECT_NE(text.find("rkchat_generated_tokens_total 7\n"), std::string::npos);
  EXPECT_NE(text.find("rkchat_ttft_seconds_bucket{le=\"0.1\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("rkchat_ttft_seconds_bucket{le=\"0.25\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("rkchat_ttft_seconds_count 1\n"), std::string::npos);
  EXPECT_NE(text.find("rkchat_active_sequences{model=\"q\\\"x\"} 2\n"), std::string::npos);  // label escaped
  EXPECT_NE(text.find("rkchat_queue_length{model=\"q\\\"x\"} 3\n"), std::string::npos);
}

}  // namespace
}  // namespace rkchat::server
