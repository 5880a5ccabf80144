// The stepped loop (continuous batching) over a backend's Stepper. Per step: one decode row from every request
// that is generating, then chunks of waiting prompts up to batch_tokens, all in one pass over the weights; then
// each request samples from its own row of logits.
//
// Slots: the engine holds `parallel` of the backend's slots for its lifetime and remembers which tokens each one's
// cache holds (`Slot::tokens`), so a new request picks the free slot sharing the longest prefix with its prompt
// (least recently used when none does) and may copy a longer common prefix from any other slot, also one still in
// use. A slot whose cache the prompt would mostly discard is left to its own conversation's next turn while
// another is free. A request whose prompt shares a prefix with the unfinished prompt of an earlier request waits for it
// and copies, so the same prompt sent n times is computed once.
//
// Embeddings (Engine::embed) take one input per loop turn, in a step of their own: the input alone in the least
// recently used free slot, its hidden states out instead of logits. While embeddings wait, one slot is kept free
// of new chat requests so that they are not starved. The slot then holds the input's keys and values, a valid
// prefix for a later prompt; its last use is left as it was, so that the next embedding takes the same slot
// again instead of evicting another conversation's cache.
#include <algorithm>
#include <list>

#include "runtime/engine_impl.h"
#include "runtime/engine_output.h"
#include "runtime/pooling.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::runtime {
namespace {

using backends::StopReason;
using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

struct Slot {
  int id = 0;
  std::vector<int32_t> tokens;  // what the slot's cache holds, in order
  Clock::time_point last_used{};
  bool busy = false;
};

// A request holding a slot.
struct Active {
  Active(Engine::Impl::Job j, Slot& s, const tok::Tokenizer* tk)
      : job(std::move(j)),
        slot(&s),
        sampler(job.options.generate.sampling),
        out(job.options.stop, std::move(job.options.parser)),
        history(job.options.prompt) {
    if (tk) detok.emplace(*tk);
  }
  const std::vector<int32_t>& prompt() const { return job.options.prompt; }

  Engine::Impl::Job job;
  Slot* slot;
  sampling::Sampler sampler;
  std::optional<tok::StreamDecoder> detok;
  detail::AnswerOutput out;
  std::vector<int32_t> history;  // prompt and answer, for the penalties
  backends::TurnStats stats;
  Clock::time_point admitted{}, first_token{};
  bool decoding = false;  // the prompt is in the cache; next_token is fed next step
  int32_t next_token = -1;
  int logits_row = -1;  // this step's row of logits, -1: none
};

class StepLoop final : public Engine::Impl {
 public:
  StepLoop(backends::Backend& b, const EngineOptions& o) : Impl(b, o), st_(*b.stepper()), tok_(b.tokenizer()) {
    slots = o.parallel;
    for (int i = 0; i < slots; ++i) {
      const int id = st_.acquire();
      if (id < 0) {
        for (auto& s : slots_) st_.release(s.id);
        throw EngineError(ErrorKind::bad_request, "--parallel " + std::to_string(o.parallel) + " needs " +
                                                      std::to_string(o.parallel) + " KV slots; the backend has " +
                                                      std::to_string(i) + " free");
      }
      slots_.push_back(Slot{id, {}, {}, false});
    }
    logits_.resize(static_cast<size_t>(slots) * static_cast<size_t>(st_.n_vocab()));
  }
  ~StepLoop() override {
    for (auto& s : slots_) st_.release(s.id);
  }

  void run() override {
    while (admit()) {
      drop_cancelled();
      embed_one();
      seed_from_other_slots();
      if (active_.empty()) continue;
      const auto rows = plan();
      if (rows.empty()) continue;
      try {
        st_.step(rows, logits_.data());
      } catch (const std::exception& e) {
        fail_step(e.what());
        continue;
      }
      {
        std::lock_guard lock(mu);
        totals.steps++;
      }
      commit(rows);
      sample_all();
    }
  }

 private:
  // Takes waiting jobs into free slots; waits when there is nothing to do. False once stopping and idle.
  bool admit() {
    std::unique_lock lock(mu);
    for (;;) {
      // Requests cancelled while waiting leave the queue at once.
      for (auto it = queue.begin(); it != queue.end();) {
        if (!it->request->cancelled()) {
          ++it;
          continue;
        }
        backends::TurnStats s;
        s.stop = StopReason::aborted;
        it->request->push(detail::AnswerOutput({}, std::nullopt).finish(s));
        it = queue.erase(it);
      }
      if (stopping) {
        for (auto& a : active_) a.job.request->cancel();
        for (auto& e : embeds)
          e->done.set_exception(std::make_exception_ptr(EngineError(ErrorKind::overloaded, "the engine stopped")));
        embeds.clear();
      }
      const int chat_slots = embeds.empty() ? slots : slots - 1;
      while (static_cast<int>(active_.size()) < chat_slots && !queue.empty()) start(*pop_locked());
      active = static_cast<int>(active_.size());
      if (!active_.empty() || !embeds.empty()) return true;
      if (stopping) return false;
      wake.wait(lock);
    }
  }

  // Gives the job the free slot sharing the longest prefix with its prompt, among those whose cache it would keep
  // at least half of (an empty slot qualifies); else the least recently used free slot. A new conversation shares
  // the chat template's first tokens with every slot: taking the slot with the longest such prefix would evict a
  // conversation waiting between turns (llama.cpp's --slot-prompt-similarity does the same). The shared tokens are
  // copied from that slot anyway (prompt seeding).
  void start(Job job) {
    Slot* best = nullptr;
    Slot* oldest = nullptr;
    size_t best_common = 0, oldest_common = 0;
    for (auto& s : slots_) {
      if (s.busy) continue;
      const size_t c = common_prefix(s.tokens, job.options.prompt);
      if (!oldest || s.last_used < oldest->last_used) {
        oldest = &s;
        oldest_common = c;
      }
      if (2 * c < s.tokens.size()) continue;
      if (!best || c > best_common || (c == best_common && s.last_used < best->last_used)) {
        best = &s;
        best_common = c;
      }
    }
    if (!best) {
      best = oldest;
      best_common = oldest_common;
    }
    best->busy = true;
    auto& a = active_.emplace_back(std::move(job), *best, tok_);
    a.admitted = Clock::now();
    // At least the last prompt token is decoded again: its logits give the first answer token.
    keep(*best, std::min(best_common, a.prompt().size() - 1));
    a.stats.prompt_tokens = static_cast<int>(a.prompt().size());
    a.stats.cached_tokens = static_cast<int>(best->tokens.size());
  }

  void keep(Slot& s, size_t n) {
    st_.truncate(s.id, static_cast<int>(n));
    s.tokens.resize(n);
  }

  void drop_cancelled() {
    for (auto it = active_.begin(); it != active_.end();) {
      if (it->job.request->cancelled()) {
        it->stats.stop = StopReason::aborted;
        it = finish(it);
      } else {
        ++it;
      }
    }
  }

  // Computes the next input of the oldest embeddings job, when a slot is free.
  void embed_one() {
    std::shared_ptr<EmbedJob> job;
    {
      std::lock_guard lock(mu);
      if (embeds.empty()) return;
      job = embeds.front();
    }
    Slot* slot = nullptr;
    for (auto& s : slots_)
      if (!s.busy && (!slot || s.last_used < slot->last_used)) slot = &s;
    if (!slot) return;
    const auto& input = job->inputs[job->next];
    const int n = static_cast<int>(input.size());
    const auto [first, end] = detail::pooled_rows(backend.info().pooling, n);
    std::vector<backends::StepRow> rows;
    for (int i = 0; i < n; ++i) rows.push_back({input[static_cast<size_t>(i)], i, slot->id, i >= first && i < end});
    const int width = backend.info().n_embd;
    hidden_.resize(static_cast<size_t>(end - first) * static_cast<size_t>(width));
    keep(*slot, 0);
    try {
      st_.step_hidden(rows, hidden_.data());
    } catch (const std::exception& e) {
      keep(*slot, static_cast<size_t>(st_.length(slot->id)));
      finish_embed(EngineError(ErrorKind::failure, e.what()));
      return;
    }
    slot->tokens = input;
    job->result.vectors.push_back(detail::mean_normalized(hidden_.data(), end - first, width));
    job->result.prompt_tokens += n;
    std::lock_guard lock(mu);
    totals.steps++;
    if (++job->next < job->inputs.size()) return;
    job->done.set_value(std::move(job->result));
    embeds.pop_front();
  }

  void finish_embed(const EngineError& error) {
    std::lock_guard lock(mu);
    totals.failed++;
    embeds.front()->done.set_exception(std::make_exception_ptr(error));
    embeds.pop_front();
  }

  // A prompt still to compute copies a longer common prefix that another slot already holds.
  void seed_from_other_slots() {
    for (auto& a : active_) {
      if (a.decoding) continue;
      const size_t limit = a.prompt().size() - 1;
      Slot* donor = nullptr;
      size_t best = a.slot->tokens.size();
      for (auto& s : slots_) {
        if (&s == a.slot) continue;
        const size_t c = std::min(common_prefix(s.tokens, a.prompt()), limit);
        if (c > best) {
          best = c;
          donor = &s;
        }
      }
      if (!donor) continue;
      st_.copy_prefix(donor->id, a.slot->id, static_cast<int>(best));
      a.slot->tokens.assign(a.prompt().begin(), a.prompt().begin() + static_cast<std::ptrdiff_t>(best));
      a.stats.cached_tokens = static_cast<int>(best);
    }
  }

  // The rows of this step: every decode row, then prompt chunks within the token budget.
  std::vector<backends::StepRow> plan() {
    std::vector<backends::StepRow> rows;
    int n_logits = 0;
    for (auto& a : active_) {
      a.logits_row = -1;
      if (!a.decoding) continue;
      rows.push_back({a.next_token, static_cast<int32_t>(a.slot->tokens.size()), a.slot->id, true});
      a.logits_row = n_logits++;
    }
    // A prompt goes in chunks of batch_tokens from where its computation starts, whatever else runs, so that it
    // meets the same kernels alone or beside others (see Stepper::step); a step takes whole chunks, first come
    // first served, up to batch_tokens prompt rows (at least one chunk).
    const size_t chunk = static_cast<size_t>(options.batch_tokens);
    size_t taken = 0;
    for (auto it = active_.begin(); it != active_.end(); ++it) {
      if (it->decoding || waits_for_earlier(it)) continue;
      const auto& p = it->prompt();
      const size_t from = it->slot->tokens.size();
      const size_t to = std::min(p.size(), from + chunk);
      if (taken > 0 && taken + (to - from) > chunk) break;
      for (size_t i = from; i < to; ++i)
        rows.push_back({p[i], static_cast<int32_t>(i), it->slot->id, i + 1 == p.size()});
      if (to == p.size()) it->logits_row = n_logits++;
      taken += to - from;
    }
    return rows;
  }

  // An earlier request is computing a prefix this one shares: wait and copy it instead of computing it twice.
  bool waits_for_earlier(std::list<Active>::iterator it) const {
    for (auto e = active_.begin(); e != it; ++e) {
      if (e->decoding) continue;
      const size_t c = std::min(common_prefix(e->prompt(), it->prompt()), it->prompt().size() - 1);
      if (c > it->slot->tokens.size()) return true;
    }
    return false;
  }

  void commit(const std::vector<backends::StepRow>& rows) {
    for (auto& a : active_) {
      for (const auto& r : rows)
        if (r.slot == a.slot->id) a.slot->tokens.push_back(r.token);
      a.slot->last_used = Clock::now();
    }
  }

  void sample_all() {
    const size_t n_vocab = static_cast<size_t>(st_.n_vocab());
    for (auto it = active_.begin(); it != active_.end();) {
      if (it->logits_row < 0) {
        ++it;
        continue;
      }
      const std::span<const float> row(logits_.data() + static_cast<size_t>(it->logits_row) * n_vocab, n_vocab);
      it = sample(it, row);
    }
  }

  // One token for one request; ends the request when its answer is over.
  std::list<Active>::iterator sample(std::list<Active>::iterator it, std::span<const float> logits) {
    Active& a = *it;
    const auto& g = a.job.options.generate;
    if (!a.decoding) {
      a.decoding = true;
      a.stats.prefill_ms = ms_between(a.admitted, Clock::now());
    }
    if (g.max_tokens >= 0 && a.stats.gen_tokens >= g.max_tokens) {
      a.stats.stop = StopReason::max_tokens;
      return finish(it);
    }
    const int32_t id = a.sampler.sample(logits, a.history);
    if (!g.ignore_eos && tok_ && tok_->is_eog(id)) {
      a.stats.stop = StopReason::eos;
      return finish(it);
    }
    if (a.stats.gen_tokens++ == 0) {
      a.first_token = Clock::now();
      a.stats.ttft_ms = ms_between(a.job.submitted, a.first_token);
    }
    a.history.push_back(id);
    a.job.request->push(a.out.push(a.detok ? a.detok->push(id) : std::string(), id));
    a.next_token = id;
    a.stats.stop = StopReason::max_tokens;
    if (a.out.stopped()) {
      a.stats.stop = StopReason::stopped_by_caller;
    } else if (g.max_tokens >= 0 && a.stats.gen_tokens >= g.max_tokens) {
    } else if (static_cast<int>(a.slot->tokens.size()) + 1 >= st_.n_ctx()) {
      a.stats.stop = StopReason::context_full;
    } else {
      return ++it;
    }
    return finish(it);
  }

  std::list<Active>::iterator finish(std::list<Active>::iterator it) {
    Active& a = *it;
    const auto now = Clock::now();
    if (a.detok) {
      if (std::string rest = a.detok->flush(); !rest.empty()) a.job.request->push(a.out.push(rest, -1));
    }
    if (a.stats.gen_tokens > 0) a.stats.decode_ms = ms_between(a.first_token, now);
    a.stats.total_ms = ms_between(a.job.submitted, now);
    account(a.stats);
    Update last = a.out.finish(a.stats);
    auto request = a.job.request;
    a.slot->busy = false;
    a.slot->last_used = now;
    auto next = active_.erase(it);
    {
      std::lock_guard lock(mu);
      active = static_cast<int>(active_.size());
    }
    request->push(std::move(last));  // after the slot is free: a consumer that sees done sees the slot free
    return next;
  }

  // The backend refused the step (it checks before touching a cache): everyone in it fails, caches stay valid.
  void fail_step(const std::string& what) {
    for (auto it = active_.begin(); it != active_.end(); it = active_.erase(it)) {
      it->slot->busy = false;
      keep(*it->slot, static_cast<size_t>(st_.length(it->slot->id)));
      fail(*it->job.request, ErrorKind::failure, what, it->stats);
    }
    std::lock_guard lock(mu);
    active = 0;
  }

  backends::Stepper& st_;
  const tok::Tokenizer* tok_;
  std::vector<Slot> slots_;
  std::list<Active> active_;   // in order of admission (prompt chunks go first come, first served)
  std::vector<float> logits_;  // [slots, n_vocab]: at most one row per request per step
  std::vector<float> hidden_;  // [pooled rows, n_embd] of the input being embedded
};

}  // namespace

std::unique_ptr<Engine::Impl> make_step_loop(backends::Backend& backend, const EngineOptions& options) {
  return std::make_unique<StepLoop>(backend, options);
}

}  // namespace rkchat::runtime
