#include "server/respond.h"

#include <fmt/format.h>

#include <chrono>
#include <random>

#include "runtime/figures.h"

namespace rkchat::server {

std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string random_id(const std::string& prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return prefix + fmt::format("{:016x}{:08x}", rng(), static_cast<uint32_t>(rng()));
}

int64_t unix_time() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void fill_log(RequestLog& log, const Generation& g) {
  log.model = g.model().name;
  log.prompt_tokens = g.prompt_tokens();
  log.gen_tokens = 0;
  for (const auto& o : g.outcomes()) {
    log.gen_tokens += o.stats.gen_tokens;
    if (o.failed && log.error.empty()) log.error = "server_error";
  }
  if (!g.outcomes().empty()) {
    const auto& s = g.outcomes().front().stats;
    log.cached_tokens = s.cached_tokens;
    log.decode_tok_s = runtime::decode_tok_s(s);
    if (s.prompt_tokens > 0) log.prompt_tokens = s.prompt_tokens;
  }
  log.ttft_ms = g.first_token_ms();
}

HttpResponse stream_response(std::shared_ptr<Generation> gen, std::shared_ptr<StreamFormat> format) {
  HttpResponse res;
  res.content_type = format->content_type();
  res.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
  auto begun = std::make_shared<bool>(false);
  auto ended = std::make_shared<bool>(false);
  auto log = res.log;
  log->model = gen->model().name;
  res.next = [gen, format, begun, ended, log](std::string& out) {
    if (*ended) return false;
    if (!*begun) {
      *begun = true;
      out += format->begin();
    }
    const bool done = gen->poll(std::chrono::milliseconds(100),
                                [&](int i, const chat::OutputDelta& d) { out += format->delta(i, d); });
    if (!done) return true;
    *ended = true;
    fill_log(*log, *gen);
    if (gen->failed()) {
      for (const auto& o : gen->outcomes())
        if (o.failed) {
          out += format->error(o.error);
          break;
        }
    } else {
      out += format->end(*gen);
    }
    return false;
  };
  res.on_gone = [gen, log] {
    gen->cancel();
    log->error = "client_gone";
  };
  return res;
}

}  // namespace rkchat::server
