// The one interface between the program (console, server, benchmarks) and whatever runs the model: rkchat's own
// CPU engine (backends/cpu) or Rockchip's NPU runtime (backends/rkllm). Callers adapt to capabilities(); they
// never ask which backend they hold.
//
// Contract of a turn: the caller passes the WHOLE conversation so far, rendered by the chat template and
// tokenized (TurnInput::tokens). The backend reuses whatever prefix of it is still in its KV cache and processes
// only the rest, so appending a turn costs only the new tokens. Backends that cannot take token ids (an NPU model
// with no tokenizer at hand) take the new user text instead (TurnInput::text) and apply their own template.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "sampling/sampler.h"

namespace rkchat::tok {
class Tokenizer;
}

namespace rkchat::backends {

// A user-facing failure (missing file, bad model, runtime error): the message says what and what to do.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How a sequence's final hidden states become one embedding (the model's metadata says; see ModelInfo::pooling).
enum class Pooling {
  none,  // the model declares no embedding use: it does not embed
  mean,  // the mean over the sequence's tokens
  cls,   // the first token's
  last,  // the last token's (Qwen3-Embedding)
};
const char* pooling_name(Pooling p);  // "none" | "mean" | "cls" | "last"

struct Capabilities {
  bool token_input = false;  // accepts TurnInput::tokens (else only text)
  bool text_input = false;   // accepts TurnInput::text (the backend templates it itself)
  bool logits = false;       // Conversation::evaluate works
  bool kv_reuse = false;     // a turn reuses the cached prefix of the conversation
  bool batching = false;     // Backend::stepper() works: several sequences share one pass over the weights
  bool embeddings = false;   // Stepper::step_hidden() works and ModelInfo::pooling says how to pool
};

struct ModelInfo {
  std::string path;
  std::string name;          // general.name or the file's stem
  std::string backend;       // "cpu" | "rkllm"
  std::string arch;          // "llama", "qwen2", "qwen3", ... ("" when unknown)
  std::string quantization;  // "Q8_0", "Q4_K_M", "W8A8", ...
  uint64_t file_bytes = 0;
  uint64_t n_params = 0;  // 0 when unknown
  int n_vocab = 0;
  int n_ctx_train = 0;              // the model's own context limit
  int n_ctx = 0;                    // the context this load was opened with
  int threads = 0;                  // CPU threads the backend runs (after capping at the cores); 0 when not its own
  uint64_t kv_bytes_per_token = 0;  // KV cache bytes one token of context adds (and decode reads); 0 when unknown
  std::string toolkit_version;      // .rkllm only
  int n_embd = 0;                   // width of the hidden state (an embedding's length); 0 when unknown
  Pooling pooling = Pooling::none;  // from the model's metadata (GGUF <arch>.pooling_type)
};

struct LoadOptions {
  std::string path;
  std::string backend = "auto";  // auto (by file type) | cpu | rkllm
  int threads = 0;               // 0: a sensible default for this machine
  int n_ctx = 0;                 // 0: min(model's limit, 4096)
  std::string kv_type = "f16";   // f16 | f32 | q8_0 (CPU)
  int max_sequences = 1;         // conversations that may hold a KV cache at once (CPU)
  std::string tokenizer_path;    // a vocab GGUF for models that carry no tokenizer (.rkllm)
  // RKLLM runtime selection and placement.
  std::string rkllm_lib;
  std::string rkllm_lib_dir;
  std::string rkllm_abi;  // "" (from the runtime's version) | "1.2" | "1.3"
  int npu_domain = 0;
  std::string cpus;    // cores for the runtime, e.g. "4-7"
  bool force = false;  // try despite a toolkit/runtime version mismatch
  // Load progress in [0, 1], called from the loading thread; may be empty.
  std::function<void(float)> progress;
};

// Input of a turn: tokens when capabilities().token_input, else text.
struct TurnInput {
  std::vector<int32_t> tokens;  // the whole conversation so far, template applied
  std::string role = "user";    // text form: the new message only
  std::string text;
  std::string system;           // text form: the system prompt (applied when the history is empty)
  bool enable_thinking = true;  // text form: Qwen3 thinking switch
};

struct GenerateOptions {
  sampling::Params sampling;
  int max_tokens = -1;      // -1: until the context is full
  bool ignore_eos = false;  // for measurements
};

// One streamed piece of the answer. text holds complete UTF-8 characters only (a character split across tokens
// is held back until it completes). token is the id when the backend knows it, else -1.
struct Piece {
  std::string text;
  int32_t token = -1;
};
// Return false to stop the answer (a stop string matched, the client went away).
using PieceSink = std::function<bool(const Piece&)>;

enum class StopReason { eos, max_tokens, context_full, stopped_by_caller, aborted, error };
const char* stop_reason_name(StopReason r);

struct TurnStats {
  int prompt_tokens = 0;  // tokens of the prompt in this turn, including the cached ones
  int cached_tokens = 0;  // of those, reused from the KV cache
  double prefill_ms = 0;  // processing the new prompt tokens
  double ttft_ms = 0;     // from the call to the first piece
  int gen_tokens = 0;
  double decode_ms = 0;  // from the first generated token to the last
  double total_ms = 0;
  uint64_t memory_bytes = 0;  // what the backend holds for the model and caches
  StopReason stop = StopReason::eos;
  std::string error;  // when stop == error: what the backend reported
};

class Conversation {
 public:
  virtual ~Conversation() = default;
  // Processes the turn and streams the answer to sink. Thread: the caller's; sink is called on it too.
  virtual TurnStats generate(const TurnInput& input, const GenerateOptions& options, const PieceSink& sink) = 0;
  // Logits of every position of `tokens` decoded as one batch from an empty cache (capabilities().logits):
  // returns n_tokens x n_vocab floats. Leaves the conversation's cache holding `tokens`.
  virtual std::vector<float> evaluate(const std::vector<int32_t>& tokens) = 0;
  // Forget the history (KV cache).
  virtual void clear() = 0;
  // Thread-safe: ask a running generate() to stop soon (Ctrl-C); it returns with StopReason::aborted.
  virtual void abort() = 0;
  // Tokens now held in the cache (what the next turn can reuse).
  virtual int cached_tokens() const = 0;
};

// One row of a step: a token at a position of a slot's sequence.
struct StepRow {
  int32_t token = 0;
  int32_t pos = 0;  // the slot's current length for its first row in the step, then consecutive
  int32_t slot = 0;
  bool logits = false;  // return this row's logits (step_hidden: its hidden state)
};

// The step interface of a batching backend (capabilities().batching), for a scheduler above it: the caller decides
// what runs, the backend runs one pass over the weights per step. A slot holds the keys and values of one sequence.
// Not thread-safe: one caller (the engine's loop) at a time, and not beside Conversations of the same backend that
// are generating.
class Stepper {
 public:
  virtual ~Stepper() = default;
  virtual int n_slots() const = 0;
  virtual int n_ctx() const = 0;  // most tokens a slot holds
  virtual int n_vocab() const = 0;
  // Takes a free slot, emptied; -1 when none is free (Conversations hold slots too).
  virtual int acquire() = 0;
  virtual void release(int slot) = 0;
  virtual int length(int slot) const = 0;
  // Keeps the first n tokens of a slot (n <= length).
  virtual void truncate(int slot, int n) = 0;
  // Makes `to` hold the first n tokens of `from` (n <= length(from), to != from): their keys and values are copied.
  virtual void copy_prefix(int from, int to, int n) = 0;
  // Stores each row's keys/values in its slot and writes the logits of the rows marked `logits` to `logits`
  // ([marked rows, n_vocab], row order). For each slot its rows are consecutive positions continuing its length.
  // A row's result depends only on its slot's rows in the step, never on the other slots' rows: the same
  // request gives the same numbers alone or beside others (slots with one row share one pass over the weights).
  // Throws Error for a malformed step, leaving the slots as they were.
  virtual void step(const std::vector<StepRow>& rows, float* logits) = 0;
  // Like step(), but writes each marked row's final hidden state (after the output norm, before the LM head) to
  // `hidden` ([marked rows, ModelInfo::n_embd], row order) instead of its logits: what embeddings pool
  // (capabilities().embeddings).
  virtual void step_hidden(const std::vector<StepRow>& rows, float* hidden) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const ModelInfo& info() const = 0;
  virtual Capabilities capabilities() const = 0;
  // The model's tokenizer (GGUF metadata, or LoadOptions::tokenizer_path); nullptr when there is none.
  virtual const tok::Tokenizer* tokenizer() const = 0;
  // Throws Error when no more conversations can be held (see LoadOptions::max_sequences).
  virtual std::unique_ptr<Conversation> start_conversation() = 0;
  // The step interface when capabilities().batching, else nullptr.
  virtual Stepper* stepper() { return nullptr; }
};

// Picks the backend from the file (".rkllm" -> rkllm, else GGUF -> cpu) unless options.backend forces one.
// Throws Error with a clear message for a missing, unreadable or unsupported file.
std::unique_ptr<Backend> load(const LoadOptions& options);

// Memory that load(options) will take, estimated without loading: for a GGUF the mapped weights, the activations
// and the KV cache of the context it opens for max_sequences; for an .rkllm model its file size (the runtime
// copies the model in). Throws Error for a file that load() would refuse.
uint64_t load_bytes(const LoadOptions& options);

// Memory this process may still take: MemAvailable of /proc/meminfo, lowered by an address-space limit (ulimit -v).
// 0 when unknown.
uint64_t available_memory();

}  // namespace rkchat::backends
