#include "backends/cpu/cpu_backend.h"

#include <malloc.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <new>
#include <optional>

#include "backends/cpu/load_checks.h"
#include "gguf/gguf.h"
#include "kernels/cpu_topology.h"
#include "kernels/thread_pool.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::backends {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

std::string quantization_of(const gguf::File& f) {
  // The type that holds most of the weights' bytes names the quantization (Q8_0, Q4_K, ...).
  std::vector<std::pair<uint64_t, gguf::TensorType>> bytes;
  for (const auto& t : f.tensors()) {
    auto it = std::find_if(bytes.begin(), bytes.end(), [&](auto& p) { return p.second == t.type; });
    if (it == bytes.end())
      bytes.emplace_back(t.nbytes, t.type);
    else
      it->first += t.nbytes;
  }
  if (bytes.empty()) return "";
  std::string name = gguf::type_name(std::max_element(bytes.begin(), bytes.end())->second);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
  return name;
}

Pooling pooling_of(model::Pooling p) {
  switch (p) {
    case model::Pooling::mean:
      return Pooling::mean;
    case model::Pooling::cls:
      return Pooling::cls;
    case model::Pooling::last:
      return Pooling::last;
    case model::Pooling::none:
      break;
  }
  return Pooling::none;
}

class CpuBackend;

class CpuConversation final : public Conversation {
 public:
  CpuConversation(CpuBackend& backend, int seq) : b_(backend), seq_(seq) {}
  ~CpuConversation() override;
  TurnStats generate(const TurnInput& input, const GenerateOptions& options, const PieceSink& sink) override;
  std::vector<float> evaluate(const std::vector<int32_t>& tokens) override;
  void clear() override;
  void abort() override { abort_.store(true); }
  int cached_tokens() const override { return static_cast<int>(cached_.size()); }

 private:
  // Decodes tokens[from..] after truncating the cache to `from`; returns the last row's logits.
  void prefill(const std::vector<int32_t>& tokens, size_t from);
  void decode_one(int32_t token);

  CpuBackend& b_;
  int seq_;
  std::vector<int32_t> cached_;  // tokens whose keys/values are in the cache, in order
  std::vector<float> logits_;    // [n_vocab] of the last decoded position
  std::atomic<bool> abort_{false};
};

class CpuBackend final : public Backend, public Stepper {
 public:
  explicit CpuBackend(const LoadOptions& o) {
    const auto kv_type = cpu::kv_type_of(o.kv_type);
    const int n_seq = std::max(1, o.max_sequences);
    int n_ctx = 0;
    try {
      file_ = gguf::File::open(o.path);
      // Whatever the metadata sizes is checked against the file and the memory before anything is allocated.
      n_ctx = cpu::context_for(o.n_ctx, n_seq, model::validate_model(*file_), kv_type, cpu::available_memory_bytes(),
                               o.path);
      if (o.progress) o.progress(0.3f);
      model_ = std::make_unique<model::Model>(*file_);
    } catch (const gguf::Error& e) {
      throw Error(e.what());
    }
    if (o.progress) o.progress(0.7f);
    tokenizer_ = cpu::load_tokenizer(*file_);
    const auto& hp = model_->hparams();
    const int threads = cpu::threads_for(o.threads);
    try {
      cache_ = std::make_unique<model::KvCache>(hp, n_ctx, n_seq, kv_type);
    } catch (const std::bad_alloc&) {
      throw Error("no memory for the KV cache of " + std::to_string(n_ctx) + " tokens (" +
                  cpu::size_text(model::kv_bytes_per_token(hp, kv_type) * static_cast<uint64_t>(n_ctx) *
                                 static_cast<uint64_t>(n_seq)) +
                  "); open a smaller context");
    }
    pool_ = std::make_unique<kernels::ThreadPool>(threads, kernels::host_cores().first(threads));
    try {
      model_->repack_weights(*pool_);  // Q8_0/Q4_0/Q4_1: NEON 4-row groups, AVX-512 16-row tiles; file pages let go
    } catch (const std::bad_alloc&) {
      throw Error("no memory to repack the weights (" + cpu::size_text(model_->weights().bytes) + ")");
    }
    slot_used_.assign(static_cast<size_t>(cache_->n_seq()), false);
    fill_info(o, n_ctx);
    file_->drop_metadata();  // all read: the weights point into the mapping, which stays
    ::malloc_trim(0);        // and the loader's freed temporaries leave resident pages behind in the heap
    if (o.progress) o.progress(1.0f);
  }

  const ModelInfo& info() const override { return info_; }
  Capabilities capabilities() const override {
    Capabilities c;
    c.token_input = true;
    c.logits = true;
    c.kv_reuse = true;
    c.batching = true;
    c.embeddings = info_.pooling != Pooling::none;
    return c;
  }
  const tok::Tokenizer* tokenizer() const override { return tokenizer_.get(); }

  std::unique_ptr<Conversation> start_conversation() override {
    const int slot = acquire();
    if (slot < 0) throw Error("all " + std::to_string(slot_used_.size()) + " conversation slots are in use");
    return std::make_unique<CpuConversation>(*this, slot);
  }
  Stepper* stepper() override { return this; }

  // ---- Stepper
  int n_slots() const override { return cache_->n_seq(); }
  int n_ctx() const override { return cache_->n_ctx(); }
  int n_vocab() const override { return model_->hparams().n_vocab; }
  int acquire() override {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t s = 0; s < slot_used_.size(); ++s)
      if (!slot_used_[s]) {
        slot_used_[s] = true;
        truncate(static_cast<int>(s), 0);
        return static_cast<int>(s);
      }
    return -1;
  }
  void release(int slot) override {
    std::lock_guard<std::mutex> lock(mu_);
    slot_used_.at(static_cast<size_t>(slot)) = false;
  }
  int length(int slot) const override { return cache_->length(slot); }
  void truncate(int slot, int n) override {
    std::lock_guard<std::mutex> lock(forward_mu_);
    cache_->truncate(slot, n);
  }
  void copy_prefix(int from, int to, int n) override {
    std::lock_guard<std::mutex> lock(forward_mu_);
    cache_->copy_prefix(from, to, n);
  }
  // The kernels pick their code path (and so their float order) by the number of rows in a pass: prefill
  // kernels from 24 rows (AVX-512 VNNI; 8 on NEON), decode kernels below. So that a row's numbers do not depend
  // on what else is in the step, the slots with one row (decode rows) share one pass and each slot with several
  // rows (a prompt chunk) gets a pass of its own: each pass has the size that slot would give alone.
  void step(const std::vector<StepRow>& rows, float* logits) override {
    step_rows(rows, logits, model::Output::logits);
  }
  // The same passes as step(), so a text's hidden states do not depend on what else runs beside it.
  void step_hidden(const std::vector<StepRow>& rows, float* hidden) override {
    if (info_.pooling == Pooling::none) throw Error("this model does not embed (its metadata declares no pooling)");
    step_rows(rows, hidden, model::Output::hidden);
  }

  // One pass of the model at a time; a batch may carry several sequences.
  void forward(const model::Batch& batch, float* out, model::Output kind = model::Output::logits) {
    std::lock_guard<std::mutex> lock(forward_mu_);
    model_->forward(batch, *cache_, *pool_, out, kind);
  }

  const model::HParams& hparams() const { return model_->hparams(); }
  uint64_t memory_bytes() const { return model_->weights().bytes + cache_->bytes(); }

 private:
  void step_rows(const std::vector<StepRow>& rows, float* out, model::Output kind) {
    const auto& hp = model_->hparams();
    const size_t width = static_cast<size_t>(kind == model::Output::hidden ? hp.n_embd : hp.n_vocab);
    std::vector<int> rows_of(static_cast<size_t>(n_slots()), 0);
    for (const auto& r : rows) {
      if (r.slot < 0 || r.slot >= n_slots()) throw Error("step: slot " + std::to_string(r.slot) + " out of range");
      rows_of[static_cast<size_t>(r.slot)]++;
    }
    // Output row of each marked row, in row order.
    std::vector<int> out_row(rows.size(), -1);
    for (size_t i = 0, n = 0; i < rows.size(); ++i)
      if (rows[i].logits) out_row[i] = static_cast<int>(n++);
    auto run = [&](auto&& in_pass) {
      step_batch_.clear();
      std::vector<int> outs;
      for (size_t i = 0; i < rows.size(); ++i) {
        if (!in_pass(rows[i])) continue;
        step_batch_.add(rows[i].token, rows[i].pos, rows[i].slot, rows[i].logits);
        if (rows[i].logits) outs.push_back(out_row[i]);
      }
      if (step_batch_.size() == 0) return;
      step_out_.resize(outs.size() * width);
      try {
        forward(step_batch_, step_out_.data(), kind);
      } catch (const std::invalid_argument& e) {
        throw Error(e.what());
      }
      for (size_t k = 0; k < outs.size(); ++k)
        std::copy_n(step_out_.data() + k * width, width, out + static_cast<size_t>(outs[k]) * width);
    };
    run([&](const StepRow& r) { return rows_of[static_cast<size_t>(r.slot)] == 1; });
    for (int s = 0; s < n_slots(); ++s)
      if (rows_of[static_cast<size_t>(s)] > 1) run([&](const StepRow& r) { return r.slot == s; });
  }

  void fill_info(const LoadOptions& o, int n_ctx) {
    const auto& hp = model_->hparams();
    info_.path = o.path;
    info_.name = file_->get_string_opt("general.name").value_or(std::filesystem::path(o.path).stem().string());
    info_.backend = "cpu";
    info_.arch = hp.arch->name;
    info_.quantization = quantization_of(*file_);
    info_.file_bytes = file_->file_size();
    info_.n_params = model_->weights().n_params;
    info_.n_vocab = hp.n_vocab;
    info_.n_ctx_train = hp.n_ctx_train;
    info_.n_ctx = n_ctx;
    info_.kv_bytes_per_token = cache_->bytes() / static_cast<uint64_t>(cache_->n_seq()) / static_cast<uint64_t>(n_ctx);
    info_.threads = pool_->size();
    info_.n_embd = hp.n_embd;
    info_.pooling = pooling_of(hp.pooling);
  }

  std::unique_ptr<gguf::File> file_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<tok::Tokenizer> tokenizer_;
  std::unique_ptr<model::KvCache> cache_;
  std::unique_ptr<kernels::ThreadPool> pool_;
  ModelInfo info_;
  std::mutex mu_;
  std::mutex forward_mu_;
  std::vector<bool> slot_used_;
  model::Batch step_batch_;      // reused by step()
  std::vector<float> step_out_;  // [marked rows of a pass, n_vocab or n_embd]
};

CpuConversation::~CpuConversation() { b_.release(seq_); }

void CpuConversation::clear() {
  b_.truncate(seq_, 0);
  cached_.clear();
}

void CpuConversation::prefill(const std::vector<int32_t>& tokens, size_t from) {
  b_.truncate(seq_, static_cast<int>(from));
  cached_.resize(from);
  model::Batch batch;
  for (size_t i = from; i < tokens.size(); ++i)
    batch.add(tokens[i], static_cast<int32_t>(i), seq_, i + 1 == tokens.size());
  logits_.resize(static_cast<size_t>(b_.hparams().n_vocab));
  try {
    b_.forward(batch, logits_.data());
  } catch (const std::invalid_argument& e) {
    b_.truncate(seq_, static_cast<int>(from));
    throw Error(e.what());
  }
  cached_.insert(cached_.end(), tokens.begin() + static_cast<std::ptrdiff_t>(from), tokens.end());
}

void CpuConversation::decode_one(int32_t token) {
  model::Batch batch;
  batch.add(token, static_cast<int32_t>(cached_.size()), seq_, true);
  b_.forward(batch, logits_.data());
  cached_.push_back(token);
}

std::vector<float> CpuConversation::evaluate(const std::vector<int32_t>& tokens) {
  const int n_vocab = b_.hparams().n_vocab;
  if (tokens.empty()) return {};
  if (static_cast<int>(tokens.size()) > b_.n_ctx())
    throw Error(std::to_string(tokens.size()) + " tokens do not fit the context of " + std::to_string(b_.n_ctx()));
  clear();
  model::Batch batch;
  for (size_t i = 0; i < tokens.size(); ++i) batch.add(tokens[i], static_cast<int32_t>(i), seq_, true);
  std::vector<float> out(tokens.size() * static_cast<size_t>(n_vocab));
  try {
    b_.forward(batch, out.data());
  } catch (const std::invalid_argument& e) {
    clear();
    throw Error(e.what());
  }
  cached_ = tokens;
  logits_.assign(out.end() - n_vocab, out.end());
  return out;
}

TurnStats CpuConversation::generate(const TurnInput& input, const GenerateOptions& opt, const PieceSink& sink) {
  const auto t0 = Clock::now();
  abort_.store(false);
  TurnStats st;
  const auto& tokens = input.tokens;
  if (tokens.empty()) throw Error("the CPU backend needs the prompt as token ids (it was empty)");
  if (static_cast<int>(tokens.size()) >= b_.n_ctx())
    throw Error("the prompt has " + std::to_string(tokens.size()) + " tokens; the context holds " +
                std::to_string(b_.n_ctx()));
  // Reuse the longest cached prefix; at least the last prompt token is decoded again to get its logits.
  size_t common = 0;
  while (common < cached_.size() && common < tokens.size() && cached_[common] == tokens[common]) ++common;
  common = std::min(common, tokens.size() - 1);
  st.prompt_tokens = static_cast<int>(tokens.size());
  st.cached_tokens = static_cast<int>(common);
  prefill(tokens, common);
  st.prefill_ms = ms_since(t0);

  sampling::Sampler sampler(opt.sampling);
  const tok::Tokenizer* tk = b_.tokenizer();
  std::optional<tok::StreamDecoder> detok;
  if (tk) detok.emplace(*tk);
  std::vector<int32_t> history = tokens;
  Clock::time_point t_first{};
  st.stop = StopReason::max_tokens;
  for (;;) {
    if (abort_.load()) {
      st.stop = StopReason::aborted;
      break;
    }
    if (opt.max_tokens >= 0 && st.gen_tokens >= opt.max_tokens) break;
    const int32_t id = sampler.sample(logits_, history);
    if (!opt.ignore_eos && tk && tk->is_eog(id)) {
      st.stop = StopReason::eos;
      break;
    }
    if (st.gen_tokens == 0) {
      t_first = Clock::now();
      st.ttft_ms = ms_since(t0);
    }
    ++st.gen_tokens;
    history.push_back(id);
    Piece piece{detok ? detok->push(id) : std::string(), id};
    if (!sink(piece)) {
      st.stop = StopReason::stopped_by_caller;
      break;
    }
    if (static_cast<int>(cached_.size()) + 1 >= b_.n_ctx()) {
      st.stop = StopReason::context_full;
      break;
    }
    decode_one(id);
  }
  if (detok) {
    if (std::string rest = detok->flush(); !rest.empty()) sink(Piece{rest, -1});
  }
  if (st.gen_tokens > 0) st.decode_ms = ms_since(t_first);
  st.total_ms = ms_since(t0);
  st.memory_bytes = b_.memory_bytes();
  return st;
}

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const LoadOptions& options) { return std::make_unique<CpuBackend>(options); }

}  // namespace rkchat::backends
