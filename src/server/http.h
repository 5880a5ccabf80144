// The HTTP layer: cpp-httplib behind a small interface. A handler maps a request to a response; a streamed
// response is a generator (next() appends the next chunk, returns false at the end), and a client that goes away
// mid-stream makes the server call on_gone(), so that its generation stops and its slot is freed.
// Cross-cutting rules live here, once: API key (checked before routing, /health open), CORS, body limit (413),
// JSON errors for unknown routes, and one log line per request.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rkchat::server {

struct HttpRequest {
  std::string method;
  std::string path;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string header(const std::string& name) const;  // case-insensitive; "" when absent
};

// What a handler tells the log line and the metrics about a request.
struct RequestLog {
  std::string model;
  int prompt_tokens = 0;
  int cached_tokens = 0;
  int gen_tokens = 0;
  double ttft_ms = -1;
  double decode_tok_s = 0;
  std::string error;  // the error type, "" when none
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Streamed responses: next(out) appends the next chunk (possibly nothing yet) and returns false after the last.
  std::function<bool(std::string& out)> next;
  std::function<void()> on_gone;  // the client went away before the end
  std::shared_ptr<RequestLog> log = std::make_shared<RequestLog>();
};

using Handler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;      // "" : open
  std::string cors_origin;  // "" : no CORS headers
  size_t max_body = 8u << 20;
  int threads = 16;  // connections served at once (a streamed answer holds one)
  bool log_json = false;
  // Builds the error body of a response that has none (unknown route, 413, 401), by path.
  std::function<std::string(const std::string& path, int status, const std::string& type, const std::string& message)>
      error_body;
  // Called once per finished request: route ("" when none matched), status, what the handler logged.
  std::function<void(const std::string& route, int status, const RequestLog& log)> on_done;
};

class HttpServer {
 public:
  explicit HttpServer(HttpOptions options);
  ~HttpServer();

  // Exact paths. Call before start().
  void route(const std::string& method, const std::string& path, Handler handler);
  // Binds (throws std::runtime_error when it cannot) and serves on a background thread; returns the port.
  int start();
  // Refuses new requests (503) while those in flight go on: httplib's stop() would cut running streams.
  void drain() { draining_ = true; }
  // Closes the listening socket and ends every connection; wait() returns when the server thread is done.
  void stop();
  void wait();
  int in_flight() const { return in_flight_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<int> in_flight_{0};
  std::atomic<bool> draining_{false};
};

}  // namespace rkchat::server
