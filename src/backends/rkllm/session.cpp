#include "backends/rkllm/session.h"

#include <bit>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "backends/backend.h"
#include "backends/rkllm/abi_1_2.h"
#include "backends/rkllm/abi_1_3.h"

namespace rkchat::backends::rkllm {

namespace {

// Every struct handed to the runtime sits at the start of a zeroed block bigger than any family's layout, so a
// runtime of the other family (--rkllm-abi forced wrong) reads zeros past our struct, not our stack.
template <typename T>
struct Padded {
  T v{};
  unsigned char guard[256]{};
};
// rkllm_createDefaultParam returns RKLLMParam by value through a hidden pointer: let it write into a block
// large enough for either family.
struct ParamBlock {
  unsigned char bytes[512];
};

template <typename P>
void fill_sampling(P& p, const sampling::Params& s) {
  p.top_k = s.top_k;
  p.top_p = s.top_p;
  p.temperature = s.temperature;
  p.repeat_penalty = s.repeat_penalty;
  p.frequency_penalty = s.frequency_penalty;
  p.presence_penalty = s.presence_penalty;
}

template <typename Abi>
class SessionImpl final : public Session {
 public:
  using Param = typename Abi::Param;
  using Input = typename Abi::Input;
  using InferParam = typename Abi::InferParam;
  using CreateDefault = ParamBlock (*)();
  using InitFn = int (*)(abi::Handle*, Param*, typename Abi::InitCallbackArg);
  using RunFn = int (*)(abi::Handle, Input*, InferParam*, void*);
  using HandleFn = int (*)(abi::Handle);
  using ClearFn = int (*)(abi::Handle, int, int*, int*);
  using TemplateFn = int (*)(abi::Handle, const char*, const char*, const char*);

  SessionImpl(const Library& lib, const InitRequest& req) : sym_(lib.symbols()) {
    const ParamBlock defaults = reinterpret_cast<CreateDefault>(sym_.create_default_param)();
    Padded<Param> param;
    std::memcpy(&param.v, defaults.bytes, sizeof(Param));
    Param& p = param.v;
    p.model_path = req.model_path.c_str();
    p.max_context_len = req.n_ctx;
    p.max_new_tokens = req.max_new_tokens;
    fill_sampling(p, req.sampling);
    p.skip_special_token = true;
    p.is_async = false;
    p.extend_param.base_domain_id = req.npu_domain;
    if (req.cpu_mask != 0) {
      p.extend_param.enabled_cpus_mask = req.cpu_mask;
      p.extend_param.enabled_cpus_num = static_cast<int8_t>(std::popcount(req.cpu_mask));
    }
    int rc = 0;
    if constexpr (Abi::kFamily == 12) {
      rc = reinterpret_cast<InitFn>(sym_.init)(&handle_, &p, &SessionImpl::on_result);
    } else {
      p.ignore_eos_token = false;
      callbacks_.v.result_callback = &SessionImpl::on_result;
      callbacks_.v.result_userdata = this;
      rc = reinterpret_cast<InitFn>(sym_.init)(&handle_, &p, &callbacks_.v);
    }
    if (rc != 0 || handle_ == nullptr) {
      throw Error("rkllm_init failed (code " + std::to_string(rc) + ") for " + req.model_path);
    }
  }

  ~SessionImpl() override { reinterpret_cast<HandleFn>(sym_.destroy)(handle_); }

  int run(const RunRequest& req, const EventSink& sink) override {
    Padded<Input> input;
    input.v.role = req.role.c_str();
    input.v.enable_thinking = req.enable_thinking;
    if (req.tokens.empty()) {
      input.v.input_type = abi::kInputPrompt;
      input.v.prompt_input = req.prompt.c_str();
    } else {
      input.v.input_type = abi::kInputToken;
      // The runtime takes a non-const pointer but only reads the ids.
      input.v.token_input.input_ids = const_cast<int32_t*>(req.tokens.data());
      input.v.token_input.n_tokens = req.tokens.size();
    }
    Padded<InferParam> infer;
    infer.v.mode = abi::kInferGenerate;
    infer.v.keep_history = 1;  // rkchat decides when to forget (clear_kv_cache)
    Padded<abi::SamplingParam> sampling;
    if constexpr (Abi::kFamily == 13) {
      fill_sampling(sampling.v, req.sampling);
      sampling.v.mirostat_tau = 5.0f;
      sampling.v.mirostat_eta = 0.1f;
      infer.v.sampling_params = &sampling.v;
      infer.v.max_new_tokens = req.max_new_tokens;
    }
    {
      std::lock_guard lock(sink_mutex_);
      sink_ = &sink;
    }
    const int rc = reinterpret_cast<RunFn>(sym_.run)(handle_, &input.v, &infer.v, this);
    std::lock_guard lock(sink_mutex_);
    sink_ = nullptr;
    return rc;
  }

  int abort() override { return reinterpret_cast<HandleFn>(sym_.abort)(handle_); }

  int clear_kv_cache() override {
    int start = 0, end = 0;
    return reinterpret_cast<ClearFn>(sym_.clear_kv_cache)(handle_, 0, &start, &end);
  }

  bool set_chat_template(const std::string& system, const std::string& prefix, const std::string& postfix) override {
    if (!sym_.set_chat_template) return false;
    return reinterpret_cast<TemplateFn>(sym_.set_chat_template)(handle_, system.c_str(), prefix.c_str(),
                                                                postfix.c_str()) == 0;
  }

  bool per_run_sampling() const override { return Abi::kFamily == 13; }

 private:
  // The C boundary: nothing may escape from here into the runtime.
  static int on_result(abi::Result* result, void* userdata, int state) noexcept {
    try {
      auto* self = static_cast<SessionImpl*>(userdata);
      if (!self) return 0;
      Event e;
      e.state = state;
      if (result) {
        if (result->text) e.text = result->text;
        e.token = result->token_id;
        if (state == abi::kRunFinish) e.perf = result->perf;
      }
      std::lock_guard lock(self->sink_mutex_);
      if (self->sink_) (*self->sink_)(std::move(e));
    } catch (...) {  // NOLINT(bugprone-empty-catch): dropping the piece is all that is safe here
    }
    return 0;
  }

  Symbols sym_;
  abi::Handle handle_ = nullptr;
  Padded<abi_1_3::Callbacks> callbacks_;  // must outlive the handle (1.3 may keep the pointer)
  std::mutex sink_mutex_;
  const EventSink* sink_ = nullptr;
};

}  // namespace

std::unique_ptr<Session> open_session(int family, const Library& lib, const InitRequest& request) {
  if (family == 12) return std::make_unique<SessionImpl<abi_1_2::Family>>(lib, request);
  return std::make_unique<SessionImpl<abi_1_3::Family>>(lib, request);
}

uint32_t parse_cpu_mask(const std::string& cpus) {
  uint32_t mask = 0;
  size_t pos = 0;
  auto bad = [&] { return Error("bad --cpus '" + cpus + "': expected cores like 4-7 or 0,2,4-5 (0-31)"); };
  while (pos < cpus.size()) {
    size_t end = cpus.find(',', pos);
    if (end == std::string::npos) end = cpus.size();
    const std::string item = cpus.substr(pos, end - pos);
    int lo = 0, hi = 0;
    char tail = 0;
    const int n = std::sscanf(item.c_str(), "%d-%d%c", &lo, &hi, &tail);
    if (n == 1 && item.find('-') == std::string::npos)
      hi = lo;
    else if (n == 1)
      throw bad();
    if ((n != 1 && n != 2) || lo < 0 || hi > 31 || lo > hi ||
        item.find_first_not_of("0123456789-") != std::string::npos) {
      throw bad();
    }
    for (int c = lo; c <= hi; ++c) mask |= 1u << c;
    pos = end + 1;
  }
  if (mask == 0) throw bad();
  return mask;
}

}  // namespace rkchat::backends::rkllm
