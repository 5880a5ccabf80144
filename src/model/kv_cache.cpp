#include "model/kv_cache.h"

#include <stdexcept>

namespace rkchat::model {

uint64_t kv_bytes_per_token(const HParams& hp, kernels::KvType type) {
  return 2 * static_cast<uint64_t>(hp.n_layer) * static_cast<uint64_t>(hp.kv_dim()) * kernels::kv_elem_bytes(type);
}

KvCache::KvCache(const HParams& hp, int n_ctx, int n_seq, kernels::KvType type)
    : n_ctx_(n_ctx), n_seq_(n_seq), kv_dim_(hp.kv_dim()), type_(type) {
  if (n_ctx <= 0 || n_seq <= 0) throw std::invalid_argument("KV cache needs a positive context and sequence count");
  length_.assign(static_cast<size_t>(n_seq), 0);
  bytes_ = kv_bytes_per_token(hp, type) * static_cast<uint64_t>(n_seq) * static_cast<uint64_t>(n_ctx);
  const uint64_t each = bytes_ / 2;
  k_.reset(new uint8_t[each]);
  v_.reset(new uint8_t[each]);
}

void KvCache::truncate(int seq, int n) {
  if (seq < 0 || seq >= n_seq_ || n < 0 || n > length(seq)) throw std::out_of_range("KV cache truncate out of range");
  length_[static_cast<size_t>(seq)] = n;
}

}  // namespace rkchat::model
