// What the CPU backend checks before it allocates by a user's numbers: the context against the model's limit and
// the machine's memory, the thread count against the cores. Every command that loads a model goes through here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kernels/ops.h"
#include "model/arch.h"

namespace rkchat::gguf {
class File;
}
namespace rkchat::tok {
class Tokenizer;
}

namespace rkchat::backends {
struct LoadOptions;
}

namespace rkchat::backends::cpu {

// The model's tokenizer, or null when the file carries none (no tokenizer.ggml.model); throws backends::Error
// naming the file when its tokenizer metadata is broken. `doctor -m` runs it too.
std::unique_ptr<tok::Tokenizer> load_tokenizer(const gguf::File& file);

// Memory this process may still take: MemAvailable of /proc/meminfo, lowered by an address-space limit
// (ulimit -v, prlimit --as) less what the process already maps. 0 when unknown.
uint64_t available_memory_bytes();

// The context to open for `requested` tokens (0: min(model's limit, 4096)) and n_seq sequences. Throws
// backends::Error for a context that is not positive, beyond the model's limit, or whose KV cache needs more than
// the `available` bytes (0: unknown, not checked) leave beside the model's activations; each message gives the
// figures. Called before the model or the cache allocates anything.
int context_for(int requested, int n_seq, const model::HParams& hp, kernels::KvType type, uint64_t available,
                const std::string& path);

// A --kv-type name (LoadOptions::kv_type) as the cache's type; backends::Error for an unknown name.
kernels::KvType kv_type_of(const std::string& name);

// Bytes a model takes once loaded with a context of n_ctx tokens for each of n_seq sequences: the weights mapped
// from the file, the activations of a batch and the KV cache. n_ctx 0: the model alone.
uint64_t model_bytes(const gguf::File& file, const model::HParams& hp, int n_ctx, int n_seq, kernels::KvType type);

// model_bytes of the GGUF that `options` load, with the context loading would open; no weight is read. Throws
// backends::Error for a file that loading would refuse.
uint64_t load_bytes(const LoadOptions& options);

// Threads to run for `requested` (0: one per physical core of the fastest class, kernels::host_cores()): capped at
// the cores this process may run on, with a warning on stderr, since spinning workers beyond the cores only wait
// for each other. Negative counts are refused.
int threads_for(int requested);

// "512.00 KiB", "1.50 GiB"
std::string size_text(uint64_t bytes);

}  // namespace rkchat::backends::cpu
