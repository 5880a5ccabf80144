// `rkchat serve`: the HTTP server over the serving engine. Routes of every API are registered in one place
// (routes.cpp), so that another face (the web page at GET /) is added beside them.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/generation.h"
#include "server/http.h"
#include "server/metrics.h"
#include "server/models.h"

namespace rkchat::server {

struct ServerOptions {
  HttpOptions http;
  PoolOptions pool;
  std::chrono::seconds shutdown_timeout{30};
  std::chrono::seconds request_deadline{0};  // 0: none
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  // Binds and serves in the background; returns the port.
  int start();
  // Refuses new requests, lets running ones finish up to shutdown_timeout, then cancels what is left.
  void shutdown();

  ModelPool& pool() { return *pool_; }
  // Starts a generation, with the server's deadline, known to shutdown() so that it can be cancelled.
  std::shared_ptr<Generation> generate(std::shared_ptr<LoadedModel> model, ChatRequest request);

 private:
  void add_routes();  // routes.cpp
  HttpResponse health() const;
  HttpResponse metrics() const;

  ServerOptions options_;
  std::unique_ptr<ModelPool> pool_;
  Metrics metrics_;
  std::unique_ptr<HttpServer> http_;
  std::chrono::steady_clock::time_point started_;
  std::mutex live_mu_;
  std::vector<std::weak_ptr<Generation>> live_;
};

// Runs a server until SIGTERM or SIGINT; returns the exit code.
int serve(ServerOptions options);

}  // namespace rkchat::server
