#include "model/kv_cache.h"

#include <stdexcept>

namespace rkchat::model {

KvCache::KvCache(const HParams& hp, int n_ctx, int n_seq, kernels::KvType type)
    : n_ctx_(n_ctx), n_seq_(n_seq), kv_dim_(hp.kv_dim()), type_(type), length_(static_cast<size_t>(n_seq), 0) {
  if (n_ctx <= 0 || n_seq <= 0) throw std::invalid_argument("KV cache needs a positive context and sequence count");
  const uint64_t each = static_cast<uint64_t>(hp.n_layer) * n_seq * n_ctx * kv_dim_ * kernels::kv_elem_bytes(type);
  bytes_ = 2 * each;
  k_.reset(new uint8_t[each]);
  v_.reset(new uint8_t[each]);
}

void KvCache::truncate(int seq, int n) {
  if (seq < 0 || seq >= n_seq_ || n < 0 || n > length(seq)) throw std::out_of_range("KV cache truncate out of range");
  length_[static_cast<size_t>(seq)] = n;
}

}  // namespace rkchat::model
