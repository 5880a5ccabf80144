#include "runtime/engine.h"

#include "runtime/engine_impl.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::runtime {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::bad_request:
      return "bad_request";
    case ErrorKind::overloaded:
      return "overloaded";
    case ErrorKind::failure:
      return "failure";
  }
  return "failure";
}

// ---- Request

void Request::cancel() {
  cancelled_.store(true);
  std::function<void()> f;
  {
    std::lock_guard lock(mu_);
    f = on_cancel_;
  }
  if (f) f();
}

void Request::on_cancel(std::function<void()> f) {
  std::lock_guard lock(mu_);
  on_cancel_ = std::move(f);
}

bool Request::finished() const {
  std::lock_guard lock(mu_);
  return done_queued_;
}

void Request::push(Update update) {
  {
    std::lock_guard lock(mu_);
    if (done_queued_) return;  // nothing follows the last update
    done_queued_ = update.done;
    if (update.done) on_cancel_ = nullptr;
    update.queued_at = std::chrono::steady_clock::now();
    updates_.push_back(std::move(update));
  }
  cv_.notify_all();
}

std::vector<Update> Request::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (done_taken_) return {};
  cv_.wait_for(lock, timeout, [&] { return !updates_.empty(); });
  std::vector<Update> out(std::make_move_iterator(updates_.begin()), std::make_move_iterator(updates_.end()));
  updates_.clear();
  if (!out.empty() && out.back().done) done_taken_ = true;
  return out;
}

TurnResult collect(Request& request, const DeltaSink& sink) {
  TurnResult r;
  for (;;) {
    for (auto& u : request.wait(std::chrono::milliseconds(100))) {
      r.answer_ids.insert(r.answer_ids.end(), u.tokens.begin(), u.tokens.end());
      r.reasoning += u.delta.reasoning;
      r.content += u.delta.content;
      if (sink && (!u.delta.reasoning.empty() || !u.delta.content.empty())) sink(u.delta);
      if (!u.done) continue;
      if (u.error) throw EngineError(*u.error, u.stats.error);
      r.stats = u.stats;
      r.stop_string = u.stop_string;
      return r;
    }
  }
}

std::string embed_refusal(const backends::Backend& backend) {
  const auto& info = backend.info();
  if (backend.capabilities().embeddings) return "";
  if (info.backend != "cpu")
    return "this model (" + info.name + ") does not support embeddings: the " + info.backend + " backend computes none";
  // A chat model could be pooled too (llama.cpp's server does with --embedding), but its vectors are not trained
  // to compare texts: only a model that says how to pool is served.
  return "this model (" + info.name + ") does not support embeddings: its metadata declares no pooling type (" +
         info.arch + ".pooling_type)";
}

// ---- Engine::Impl helpers

std::optional<Engine::Impl::Job> Engine::Impl::pop_locked() {
  if (queue.empty()) return std::nullopt;
  Job j = std::move(queue.front());
  queue.pop_front();
  return j;
}

void Engine::Impl::fail(Request& r, ErrorKind kind, const std::string& message, backends::TurnStats stats) {
  stats.stop = backends::StopReason::error;
  stats.error = message;
  Update u;
  u.done = true;
  u.stats = stats;
  u.error = kind;
  {
    std::lock_guard lock(mu);
    totals.failed++;
  }
  r.push(std::move(u));
}

void Engine::Impl::account(const backends::TurnStats& s) {
  std::lock_guard lock(mu);
  totals.cached_tokens += static_cast<uint64_t>(s.cached_tokens);
  if (s.cached_tokens > 0) totals.prompt_cache_hits++;
  totals.generated_tokens += static_cast<uint64_t>(s.gen_tokens);
}

// ---- Engine

namespace {

void check_options(const EngineOptions& o) {
  auto bad = [](const std::string& what) { throw EngineError(ErrorKind::bad_request, what); };
  if (o.parallel < 1 || o.parallel > 256) bad("--parallel must be between 1 and 256");
  if (o.queue < 0 || o.queue > 65536) bad("--queue must be between 0 and 65536");
  if (o.batch_tokens < 1 || o.batch_tokens > 65536) bad("--batch-tokens must be between 1 and 65536");
}

}  // namespace

Engine::Engine(std::unique_ptr<backends::Backend> backend, EngineOptions options)
    : backend_(std::move(backend)), options_(options) {
  check_options(options_);
  const bool steps = backend_->capabilities().batching && backend_->stepper() != nullptr;
  impl_ = steps ? make_step_loop(*backend_, options_) : make_turn_loop(*backend_, options_);
  impl_->totals.parallel = impl_->slots;
  impl_->totals.queue_capacity = options_.queue;
  impl_->thread = std::thread([this] { impl_->run(); });
}

Engine::~Engine() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    for (auto& j : impl_->queue) j.request->cancel();
  }
  impl_->wake.notify_all();
  impl_->thread.join();
}

std::shared_ptr<Request> Engine::submit(RequestOptions o) {
  const auto caps = backend_->capabilities();
  const int n_ctx = backend_->info().n_ctx;
  const bool tokens = !o.prompt.empty();
  if (tokens) {
    if (!caps.token_input) throw EngineError(ErrorKind::bad_request, "this model takes text, not token ids");
    const int n_vocab = backend_->info().n_vocab;
    for (int32_t id : o.prompt)
      if (id < 0 || (n_vocab > 0 && id >= n_vocab))
        throw EngineError(ErrorKind::bad_request, "token id " + std::to_string(id) + " is outside the vocabulary");
    const int n = static_cast<int>(o.prompt.size());
    if (n_ctx > 0 && n >= n_ctx)
      throw EngineError(ErrorKind::bad_request,
                        "the prompt has " + std::to_string(n) + " tokens; the context holds " + std::to_string(n_ctx) +
                            " (one more is needed for the answer)",
                        n, n_ctx);
  } else if (!caps.text_input || o.text_input.text.empty()) {
    throw EngineError(ErrorKind::bad_request, "empty prompt");
  }
  if (o.generate.max_tokens < -1) throw EngineError(ErrorKind::bad_request, "max_tokens must be -1 or more");

  auto request = std::make_shared<Request>();
  Impl* impl = impl_.get();
  request->on_cancel([impl] { impl->wake.notify_all(); });  // a waiting request leaves the queue at once
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) throw EngineError(ErrorKind::overloaded, "the engine is shutting down");
    const int free_slots = impl_->slots - impl_->active;
    if (static_cast<int>(impl_->queue.size()) >= free_slots + options_.queue) {
      impl_->totals.refused++;
      throw EngineError(ErrorKind::overloaded, "all " + std::to_string(impl_->slots) + " slots are busy and " +
                                                   std::to_string(options_.queue) + " requests wait; try again later");
    }
    impl_->totals.requests++;
    impl_->totals.prompt_tokens += o.prompt.size();
    impl_->queue.push_back({request, std::move(o), Impl::Clock::now()});
  }
  impl_->wake.notify_all();
  return request;
}

Embeddings Engine::embed(std::vector<std::vector<int32_t>> inputs) {
  const auto& info = backend_->info();
  if (const auto why = embed_refusal(*backend_); !why.empty()) throw EngineError(ErrorKind::bad_request, why);
  if (inputs.empty()) throw EngineError(ErrorKind::bad_request, "no input to embed");
  for (const auto& in : inputs) {
    if (in.empty()) throw EngineError(ErrorKind::bad_request, "an input to embed is empty");
    for (int32_t id : in)
      if (id < 0 || id >= info.n_vocab)
        throw EngineError(ErrorKind::bad_request, "token id " + std::to_string(id) + " is outside the vocabulary");
    const int n = static_cast<int>(in.size());
    if (n > info.n_ctx)
      throw EngineError(
          ErrorKind::bad_request,
          "an input to embed has " + std::to_string(n) + " tokens; the context holds " + std::to_string(info.n_ctx), n,
          info.n_ctx);
  }
  auto job = std::make_shared<Impl::EmbedJob>();
  job->inputs = std::move(inputs);
  auto done = job->done.get_future();
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) throw EngineError(ErrorKind::overloaded, "the engine is shutting down");
    const int free_slots = impl_->slots - impl_->active;
    if (static_cast<int>(impl_->queue.size() + impl_->embeds.size()) >= free_slots + options_.queue) {
      impl_->totals.refused++;
      throw EngineError(ErrorKind::overloaded, "all " + std::to_string(impl_->slots) + " slots are busy and " +
                                                   std::to_string(options_.queue) + " requests wait; try again later");
    }
    impl_->totals.requests++;
    for (const auto& in : job->inputs) impl_->totals.prompt_tokens += in.size();
    impl_->embeds.push_back(job);
  }
  impl_->wake.notify_all();
  return done.get();
}

EngineStats Engine::stats() const {
  std::lock_guard lock(impl_->mu);
  EngineStats s = impl_->totals;
  s.active = impl_->active;
  s.queued = static_cast<int>(impl_->queue.size());
  return s;
}

}  // namespace rkchat::runtime
