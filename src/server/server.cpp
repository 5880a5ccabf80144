#include "server/server.h"

#include <malloc.h>
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "server/anthropic.h"
#include "server/openai.h"
#include "server/respond.h"

namespace rkchat::server {

Server::Server(ServerOptions options)
    : options_(std::move(options)),
      pool_(std::make_unique<ModelPool>(options_.pool)),
      started_(std::chrono::steady_clock::now()) {
  auto& h = options_.http;
  // A streamed answer holds a connection: room for every slot and queue place, plus quick requests beside them.
  h.threads = std::max(h.threads, options_.pool.engine.parallel + options_.pool.engine.queue + 8);
  // Each API's error shape, by path: {"error": "..."} under /api/, Anthropic's on /v1/messages, OpenAI's elsewhere.
  if (!h.error_body)
    h.error_body = [](const std::string& path, int status, const std::string& type, const std::string& msg) {
      if (path.starts_with("/api/")) return dump({{"error", msg}});
      if (path.starts_with("/v1/messages") || path.starts_with("/messages"))
        return anthropic::error_body(status, type, msg);
      return openai::error_body(status, type, msg);
    };
  h.on_done = [this](const std::string& route, int status, const RequestLog& log) {
    metrics_.record(route, status, log);
  };
  http_ = std::make_unique<HttpServer>(h);
  add_routes();
}

Server::~Server() {
  http_.reset();  // no handler runs past this point
  pool_.reset();
}

int Server::start() {
  pool_->preload();
  return http_->start();
}

std::shared_ptr<Generation> Server::generate(std::shared_ptr<LoadedModel> model, ChatRequest request) {
  if (options_.request_deadline.count() > 0 && request.deadline.count() == 0)
    request.deadline = std::chrono::duration_cast<std::chrono::milliseconds>(options_.request_deadline);
  auto g = std::make_shared<Generation>(std::move(model), request);
  std::lock_guard lock(live_mu_);
  std::erase_if(live_, [](const auto& w) { return w.expired(); });
  live_.push_back(g);
  return g;
}

void Server::shutdown() {
  http_->drain();  // new requests get 503; running ones go on
  auto settle = [this](std::chrono::steady_clock::duration limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (http_->in_flight() > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  };
  settle(options_.shutdown_timeout);
  {
    std::lock_guard lock(live_mu_);
    for (auto& w : live_)
      if (auto g = w.lock()) g->cancel();  // what is left ends now, each stream with its last event
  }
  settle(std::chrono::seconds(2));
  http_->stop();
  http_->wait();
}

HttpResponse Server::health() const {
  HttpResponse res;
  ojson models = ojson::array();
  std::string backend;
  for (const auto& m : pool_->loaded()) {
    models.push_back({{"name", m->name}, {"loaded", true}, {"backend", m->backend().info().backend}});
    backend = m->backend().info().backend;
  }
  for (const auto& e : pool_->available()) {
    const auto name = ModelPool::name_of(e.path);
    bool seen = false;
    for (const auto& m : models) seen = seen || m["name"] == name;
    if (!seen) models.push_back({{"name", name}, {"loaded", false}});
  }
  const bool loading = pool_->loading();
  res.status = loading ? 503 : 200;
  res.body = dump({{"status", loading ? "loading" : "ok"},
                   {"models", models},
                   {"backend", backend.empty() ? options_.pool.load.backend : backend},
                   {"uptime_s", std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()}});
  return res;
}

HttpResponse Server::metrics() const {
  std::vector<std::pair<std::string, runtime::EngineStats>> engines;
  for (const auto& m : pool_->loaded()) engines.emplace_back(m->name, m->engine->stats());
  HttpResponse res;
  res.content_type = "text/plain; version=0.0.4";
  res.body = metrics_.render(engines);
  return res;
}

int serve(ServerOptions options) {
  // The signals are taken by sigwait below, not by whichever thread they land on.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client gone mid-write is an error return, not the end of the process
  // A fixed threshold: buffers of 128 KiB and more (logits rows, samplers' candidates, load temporaries) are mapped
  // and given back when freed. glibc's default raises the threshold to the largest block freed so far, after which
  // such buffers stay resident in the heap for the server's lifetime: 10 MB of the RSS of 8 streams of 0.6B.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);

  const std::string host = options.http.host;
  Server server(std::move(options));
  const int port = server.start();
  std::fprintf(stderr, "rkchat: listening on http://%s:%d\n", host.c_str(), port);
  int sig = 0;
  sigwait(&set, &sig);
  std::fprintf(stderr, "rkchat: %s: stopping (running requests may finish)\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  server.shutdown();
  std::fprintf(stderr, "rkchat: stopped\n");
  return 0;
}

}  // namespace rkchat::server
