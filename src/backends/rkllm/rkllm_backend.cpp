#include "backends/rkllm/rkllm_backend.h"

#include <cstdio>
#include <filesystem>
#include <tuple>

#include "backends/rkllm/init_log.h"
#include "backends/rkllm/rkllm_impl.h"

namespace rkchat::backends {

std::unique_ptr<Backend> make_rkllm_backend(const LoadOptions& options) {
  return std::make_unique<rkllm::RkllmBackend>(options);
}

}  // namespace rkchat::backends

namespace rkchat::backends::rkllm {

namespace fs = std::filesystem;

namespace {

constexpr int kDefaultCtx = 4096;

std::string family_name(int family) { return family == 12 ? "1.2" : "1.3"; }

int family_of(const Version& v) { return v.major == 1 && v.minor == 3 ? 13 : v.major == 1 && v.minor == 2 ? 12 : 0; }

// RK3588 and RK3576 run the runtime best on their big cores, 4-7.
uint32_t default_cpu_mask() {
  const std::string compat = read_file("/proc/device-tree/compatible");
  const bool big_little =
      compat.find("rockchip,rk3588") != std::string::npos || compat.find("rockchip,rk3576") != std::string::npos;
  return big_little ? 0xF0u : 0u;
}

// Errors that a wrong ABI choice produces instead of a crash; checked before the library is touched.
void check_versions(const LoadOptions& o, const Selection& sel, const std::optional<Version>& toolkit, int family) {
  const auto& rt = sel.runtime.version;
  const std::string force_hint = " (--force tries anyway)";
  if (!o.rkllm_abi.empty() && rt && family_of(*rt) != 0 && family_of(*rt) != family) {
    const std::string msg = "--rkllm-abi " + o.rkllm_abi + " contradicts the runtime " + sel.runtime.path +
                            ", version " + rt->text + " (from its " + sel.runtime.source + "), whose ABI is " +
                            family_name(family_of(*rt)) + ": calling it with the other layout corrupts memory";
    if (!o.force) throw Error(msg + force_hint);
    warn(msg + "; going on because of --force");
  }
  if (!rt || !toolkit || rt->same_release(*toolkit)) return;
  const std::string msg = "the model " + o.path + " was converted by rkllm-toolkit " + toolkit->text +
                          " but the runtime " + sel.runtime.path + " is version " + rt->text;
  if (!rt->same_minor(*toolkit)) {
    if (!o.force) {
      throw Error(msg +
                  ": toolkit and runtime must be the same release (expect a failed load, empty answers or "
                  "a crash). Install runtime " +
                  toolkit->text +
                  " (--rkllm-lib-dir) or convert the model with "
                  "toolkit " +
                  rt->text + force_hint);
    }
    warn(msg + "; going on because of --force");
  } else if (sel.warnings.empty()) {
    warn(msg + ": a different patch release may answer nothing or wrongly; use runtime " + toolkit->text);
  }
}

}  // namespace

void warn(const std::string& message) { std::fprintf(stderr, "rkchat: warning: %s\n", message.c_str()); }

RkllmBackend::RkllmBackend(const LoadOptions& o) {
  std::error_code ec;
  // Only a regular file: the runtime would block forever opening a named pipe.
  if (!fs::is_regular_file(o.path, ec))
    throw Error(fs::exists(o.path, ec) ? o.path + " is not a regular file (a pipe or a device?), not a model"
                                       : "model " + o.path + " not found");
  const auto toolkit = read_toolkit_version(o.path);
  info_.path = o.path;
  info_.name = fs::path(o.path).stem().string();
  info_.backend = "rkllm";
  info_.file_bytes = fs::file_size(o.path, ec);
  info_.toolkit_version = toolkit ? toolkit->text : "";

  const Selection sel = select_runtime(search_options(o.rkllm_lib, o.rkllm_lib_dir), toolkit);
  for (const auto& w : sel.warnings) warn(w);
  const int family = abi_family(o.rkllm_abi, sel.runtime.version, sel.runtime.path);
  check_versions(o, sel, toolkit, family);
  runtime_version_ = sel.runtime.version ? sel.runtime.version->text : "";

  load_tokenizer(o);
  library_ = std::make_unique<Library>(sel.runtime.path);
  init_runtime(o, family);
}

RkllmBackend::~RkllmBackend() {
  session_.reset();  // rkllm_destroy before the library goes
}

void RkllmBackend::load_tokenizer(const LoadOptions& o) {
  std::string path = o.tokenizer_path;
  if (path.empty()) {
    // A vocab GGUF named like the model, beside it: model.gguf or model.vocab.gguf.
    for (const char* ext : {".gguf", ".vocab.gguf"}) {
      const auto candidate = fs::path(o.path).replace_extension(ext);
      std::error_code ec;
      if (fs::is_regular_file(candidate, ec)) {
        path = candidate.string();
        break;
      }
    }
  }
  if (path.empty()) {
    std::tie(end_ids_, end_markers_) = EndGuard::default_ends();
    return;
  }
  try {
    vocab_ = gguf::File::open(path);
    tokenizer_ = tok::Tokenizer::from_gguf(*vocab_);
  } catch (const std::exception& e) {
    throw Error("cannot load the tokenizer " + path + " for " + o.path + ": " + e.what());
  }
  for (int32_t id = 0; id < tokenizer_->n_vocab(); ++id) {
    if (!tokenizer_->is_eog(id)) continue;
    end_ids_.push_back(id);
    end_markers_.push_back(tokenizer_->token_text(id));
  }
  info_.n_vocab = tokenizer_->n_vocab();
}

void RkllmBackend::init_runtime(const LoadOptions& o, int family) {
  InitRequest req;
  req.model_path = o.path;
  req.n_ctx = o.n_ctx > 0 ? o.n_ctx : kDefaultCtx;
  req.max_new_tokens = req.n_ctx;  // per turn rkchat stops earlier itself
  req.npu_domain = o.npu_domain;
  req.cpu_mask = o.cpus.empty() ? default_cpu_mask() : parse_cpu_mask(o.cpus);
  if (o.progress) o.progress(0.0f);

  std::string log_text;
  try {
    OutputCapture capture;
    try {
      session_ = open_session(family, *library_, req);
    } catch (const Error&) {
      log_text = capture.text();
      throw;
    }
    log_text = capture.text();
  } catch (const Error& e) {
    std::fputs(log_text.c_str(), stderr);
    const InitLog log = parse_init_log(log_text);
    std::string why = e.what();
    if (log.max_context_limit > 0 && req.n_ctx > log.max_context_limit) {
      why += ": the context " + std::to_string(req.n_ctx) + " exceeds the model's limit " +
             std::to_string(log.max_context_limit) + " (set at conversion); pass -c " +
             std::to_string(log.max_context_limit) + " or less";
    } else {
      why += ". Check that the runtime (" + (runtime_version_.empty() ? "version unknown" : runtime_version_) +
             ", ABI " + family_name(family) + ") matches the model's toolkit (" +
             (info_.toolkit_version.empty() ? "unknown" : info_.toolkit_version) +
             "), that the NPU driver is loaded (rkchat doctor), and that NPU memory domain " +
             std::to_string(o.npu_domain) + " has room (--npu-domain)";
    }
    throw Error(why);
  }
  std::fputs(log_text.c_str(), stderr);

  const InitLog log = parse_init_log(log_text);
  if (const auto logged = parse_version(log.runtime_version)) {
    if (family_of(*logged) != 0 && family_of(*logged) != family && !o.force) {
      session_.reset();
      throw Error("the runtime reports version " + logged->text + " but was driven with ABI " + family_name(family) +
                  "; pass --rkllm-abi " + family_name(family_of(*logged)));
    }
    runtime_version_ = logged->text;
  }
  info_.quantization = log.model_dtype;
  info_.n_ctx_train = log.max_context_limit;
  info_.n_ctx = req.n_ctx;
  if (log.max_context_limit > 0 && req.n_ctx > log.max_context_limit) {
    if (o.n_ctx > 0) {
      session_.reset();
      throw Error("the context " + std::to_string(req.n_ctx) + " exceeds the model's limit " +
                  std::to_string(log.max_context_limit) + " (set at conversion); pass -c " +
                  std::to_string(log.max_context_limit) + " or less");
    }
    info_.n_ctx = log.max_context_limit;
  }
  if (o.progress) o.progress(1.0f);
}

Capabilities RkllmBackend::capabilities() const {
  Capabilities c;
  c.token_input = tokenizer_ != nullptr;
  c.text_input = true;
  c.kv_reuse = true;
  // The runtime can hand out its last hidden layer (RKLLM_INFER_GET_LAST_HIDDEN_LAYER), but rkchat does not pool
  // it (nothing to check it against): the server answers embeddings with 400 for .rkllm models.
  c.embeddings = false;
  return c;
}

std::unique_ptr<Conversation> RkllmBackend::start_conversation() {
  if (conversation_live_.exchange(true)) {
    throw Error("the RKLLM runtime holds one conversation per loaded model; end the other one first");
  }
  session_->clear_kv_cache();
  return make_conversation(*this);
}

void RkllmBackend::warn_runaway(const std::string& marker) {
  if (warned_runaway_.exchange(true)) return;
  warn("the runtime" + (runtime_version_.empty() ? std::string() : " " + runtime_version_) +
       " went on past the end of the answer (" + marker +
       "); rkchat cut the answer there and stopped it. Likely cause: runtime 1.3.0 ignores the end-of-sequence "
       "id of models converted by toolkit 1.2.2/1.2.3" +
       (info_.toolkit_version.empty() ? std::string() : " (this model: toolkit " + info_.toolkit_version + ")") +
       "; convert the model with the runtime's toolkit release");
}

std::string RkllmBackend::empty_answer_message() const {
  std::string msg = "the RKLLM runtime returned an empty answer. ";
  const auto rt = parse_version(runtime_version_);
  const auto tk = parse_version(info_.toolkit_version);
  if (rt && tk && !rt->same_release(*tk)) {
    return msg + "Likely cause: the model was converted by rkllm-toolkit " + info_.toolkit_version +
           " and the runtime is " + runtime_version_ + "; use runtime " + info_.toolkit_version +
           " (--rkllm-lib-dir) or convert the model with toolkit " + runtime_version_;
  }
  return msg + "Likely cause: a toolkit/runtime version mismatch (model toolkit " +
         (info_.toolkit_version.empty() ? "unknown" : info_.toolkit_version) + ", runtime " +
         (runtime_version_.empty() ? "unknown" : runtime_version_) +
         ") or a model converted for another platform; run rkchat doctor -m MODEL";
}

}  // namespace rkchat::backends::rkllm
