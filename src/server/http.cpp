#include "server/http.h"

#include <fmt/format.h>
#include <httplib.h>
#include <strings.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

namespace rkchat::server {
namespace {

using Clock = std::chrono::steady_clock;

bool same_key(const std::string& a, const std::string& b) {
  // Compare every byte whatever the first difference is, so the time taken does not tell how much matched.
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

std::string status_type(int status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 404:
      return "not_found_error";
    case 503:
      return "unavailable_error";
    default:
      return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

std::string status_message(int status, const std::string& path) {
  switch (status) {
    case 401:
      return "invalid or missing API key (send Authorization: Bearer KEY or X-Api-Key: KEY)";
    case 404:
      return "no route for " + path;
    case 413:
      return "the request body is larger than the server accepts (--max-body)";
    case 405:
      return "method not allowed for " + path;
    default:
      return "request failed";
  }
}

}  // namespace

std::string HttpRequest::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  return "";
}

struct HttpServer::Impl {
  HttpOptions options;
  httplib::Server svr;
  socket_t listen_fd = -1;  // the bound socket, from the socket-options callback
  std::thread thread;
  std::atomic<uint64_t> next_id{1};

  void log_line(uint64_t id, const std::string& method, const std::string& path, int status, const RequestLog& l,
                double ms) const {
    std::string line;
    if (options.log_json) {
      nlohmann::json j = {{"id", id},
                          {"method", method},
                          {"path", path},
                          {"status", status},
                          {"ms", ms},
                          {"model", l.model},
                          {"prompt_tokens", l.prompt_tokens},
                          {"cached_tokens", l.cached_tokens},
                          {"gen_tokens", l.gen_tokens}};
      if (l.ttft_ms >= 0) j["ttft_ms"] = l.ttft_ms;
      if (l.gen_tokens > 0) j["tok_s"] = l.decode_tok_s;
      if (!l.error.empty()) j["error"] = l.error;
      line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      line = fmt::format("req={} {} {} status={} ms={:.1f}", id, method, path, status, ms);
      if (!l.model.empty())
        line += fmt::format(" model={} prompt={} cached={} gen={}", l.model, l.prompt_tokens, l.cached_tokens,
                            l.gen_tokens);
      if (l.ttft_ms >= 0) line += fmt::format(" ttft_ms={:.1f} tok_s={:.2f}", l.ttft_ms, l.decode_tok_s);
      if (!l.error.empty()) line += " error=" + l.error;
    }
    std::fprintf(stderr, "%s\n", line.c_str());
  }

  void serve(HttpServer& outer, const std::string& route, const Handler& handler, const httplib::Request& req,
             httplib::Response& res, std::string body) {
    const uint64_t id = next_id++;
    const auto t0 = Clock::now();
    HttpRequest in{req.method, req.path, std::move(body), {}};
    for (const auto& [k, v] : req.headers) in.headers.emplace_back(k, v);
    HttpResponse out;
    try {
      out = handler(in);
    } catch (const std::exception& e) {
      out = HttpResponse{};
      out.status = 500;
      out.body = options.error_body(req.path, 500, "server_error", e.what());
      out.log->error = "server_error";
    }
    res.status = out.status;
    res.set_header("X-Request-Id", std::to_string(id));
    for (const auto& [k, v] : out.headers) res.set_header(k, v);
    auto finish = [this, &outer, id, route, method = req.method, path = req.path, t0, log = out.log](int status) {
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      log_line(id, method, path, status, *log, ms);
      if (options.on_done) options.on_done(route, status, *log);
      outer.in_flight_--;
    };
    outer.in_flight_++;
    if (!out.next) {
      res.set_content(out.body, out.content_type);
      finish(out.status);
      return;
    }
    auto next = std::move(out.next);
    auto gone = std::move(out.on_gone);
    res.set_chunked_content_provider(
        out.content_type,
        [next](size_t, httplib::DataSink& sink) {
          std::string chunk;
          const bool more = next(chunk);
          if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) return false;  // the client went away
          if (!more) sink.done();
          return true;
        },
        [gone, finish, status = out.status](bool success) {
          if (!success && gone) gone();
          finish(success ? status : 499);  // 499: the client closed the connection (nginx's code)
        });
  }
};

HttpServer::HttpServer(HttpOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  auto& svr = impl_->svr;
  auto* impl = impl_.get();
  const int threads = std::max(4, impl->options.threads);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  svr.set_payload_max_length(impl->options.max_body);
  // cpp-httplib 0.11 sets SO_REUSEPORT, which let a second server bind a port in use and take half its connections;
  // SO_REUSEADDR alone still allows a restart while old connections sit in TIME_WAIT. The socket is kept to raise
  // the listen backlog once bound (start()).
  svr.set_socket_options([impl](socket_t sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    impl->listen_fd = sock;
  });
  svr.set_keep_alive_timeout(3);
  svr.set_read_timeout(60, 0);
  svr.set_write_timeout(60, 0);
  if (!impl->options.cors_origin.empty()) {
    svr.set_default_headers({{"Access-Control-Allow-Origin", impl->options.cors_origin},
                             {"Access-Control-Allow-Headers", "Authorization, Content-Type, X-Api-Key"},
                             {"Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"},
                             {"Vary", "Origin"}});
    svr.Options(".*", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  }
  svr.set_pre_routing_handler([this, impl](const httplib::Request& req, httplib::Response& res) {
    if (draining_) {
      res.status = 503;
      res.set_header("Retry-After", "5");
      res.set_content(impl->options.error_body(req.path, 503, "unavailable_error", "the server is shutting down"),
                      "application/json");
      return httplib::Server::HandlerResponse::Handled;
    }
    const auto& key = impl->options.api_key;
    // The chat page (/ and /assets/) is open too: it holds no secret, and it is where a user types the key.
    if (key.empty() || req.path == "/health" || req.method == "OPTIONS" || req.path == "/" ||
        req.path.starts_with("/assets/"))
      return httplib::Server::HandlerResponse::Unhandled;
    std::string got = req.get_header_value("X-Api-Key");
    const std::string auth = req.get_header_value("Authorization");
    if (got.empty() && auth.size() > 7 && strncasecmp(auth.c_str(), "Bearer ", 7) == 0) got = auth.substr(7);
    if (same_key(got, key)) return httplib::Server::HandlerResponse::Unhandled;
    res.status = 401;
    return httplib::Server::HandlerResponse::Handled;
  });
  // Responses that carry no body yet (no route, 401, 413): the API's error shape.
  svr.set_error_handler([impl](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty() || res.is_chunked_content_provider_) return;
    res.set_content(
        impl->options.error_body(req.path, res.status, status_type(res.status), status_message(res.status, req.path)),
        "application/json");
  });
  // The handlers log their own requests; this logs those that never reached one.
  svr.set_logger([impl](const httplib::Request& req, const httplib::Response& res) {
    if (res.has_header("X-Request-Id") || req.method == "OPTIONS") return;
    RequestLog l;
    l.error = status_type(res.status);
    impl->log_line(impl->next_id++, req.method, req.path, res.status, l, 0);
    if (impl->options.on_done) impl->options.on_done("", res.status, l);
  });
}

HttpServer::~HttpServer() {
  stop();
  wait();
}

namespace {
constexpr uint64_t kDrainBytes = 64ull << 20;
}  // namespace

void HttpServer::route(const std::string& method, const std::string& path, Handler handler) {
  auto* impl = impl_.get();
  auto fn = [this, impl, path, handler](const httplib::Request& req, httplib::Response& res) {
    impl->serve(*this, path, handler, req, res, req.body);
  };
  // Bodies are read here rather than by httplib, which refuses form-encoded bodies (what `curl -d` sends) over
  // 8 KiB whatever --max-body says; the payload limit (set_payload_max_length) still answers 413 beyond it.
  auto with_body = [this, impl, path, handler](const httplib::Request& req, httplib::Response& res,
                                               const httplib::ContentReader& reader) {
    std::string body;
    const uint64_t max = impl->options.max_body;
    bool too_big = std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10) > max;
    uint64_t seen = 0;
    // Past the limit the body is read and dropped (up to a bound), so the client gets its 413 instead of a cut.
    const bool read = reader([&](const char* data, size_t n) {
      seen += n;
      too_big = too_big || seen > max;
      if (!too_big) body.append(data, n);
      return seen <= max + kDrainBytes;
    });
    if (!read || too_big) {
      res.status = too_big ? 413 : 400;  // the error handler writes the API's error body
      return;
    }
    impl->serve(*this, path, handler, req, res, std::move(body));
  };
  if (method == "GET") {
    impl->svr.Get(path, fn);
  } else if (method == "POST") {
    impl->svr.Post(path, with_body);
  } else if (method == "DELETE") {
    impl->svr.Delete(path, fn);
  } else {
    throw std::invalid_argument("unsupported method " + method);
  }
}

int HttpServer::start() {
  auto& o = impl_->options;
  int port = o.port;
  if (port == 0) {
    port = impl_->svr.bind_to_any_port(o.host);
    if (port < 0) throw std::runtime_error("cannot listen on " + o.host);
  } else if (!impl_->svr.bind_to_port(o.host, port)) {
    throw std::runtime_error(
        fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)", o.host, port));
  }
  // cpp-httplib 0.11 listens with a backlog of 5: 16 clients connecting at once overflowed it (SYN cookies, and a
  // reset seen by one client in CI). listen() again on the bound socket raises it.
  if (::listen(impl_->listen_fd, SOMAXCONN) != 0)
    throw std::runtime_error(fmt::format("cannot listen on {}:{}: {}", o.host, port, std::strerror(errno)));
  impl_->thread = std::thread([this] { impl_->svr.listen_after_bind(); });
  return port;
}

void HttpServer::stop() { impl_->svr.stop(); }

void HttpServer::wait() {
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace rkchat::server
