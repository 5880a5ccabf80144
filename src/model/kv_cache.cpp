#include "model/kv_cache.h"

#include <cstring>
#include <stdexcept>

namespace rkchat::model {

uint64_t kv_bytes_per_token(const HParams& hp, kernels::KvType type) {
  return 2 * static_cast<uint64_t>(hp.n_layer) * static_cast<uint64_t>(hp.n_head_kv) *
         kernels::kv_row_bytes(type, hp.head_dim);
}

KvCache::KvCache(const HParams& hp, int n_ctx, int n_seq, kernels::KvType type)
    : n_layer_(hp.n_layer),
      n_head_kv_(hp.n_head_kv),
      n_ctx_(n_ctx),
      n_seq_(n_seq),
      head_row_bytes_(static_cast<int64_t>(kernels::kv_row_bytes(type, hp.head_dim))),
      type_(type) {
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

void KvCache::copy_prefix(int from, int to, int n) {
  if (from < 0 || from >= n_seq_ || to < 0 || to >= n_seq_ || from == to || n < 0 || n > length(from))
    throw std::out_of_range("KV cache copy out of range");
  const auto bytes = static_cast<size_t>(n) * static_cast<size_t>(head_row_bytes_);
  for (int layer = 0; layer < n_layer_; ++layer) {
    for (int head = 0; head < n_head_kv_; ++head) {
      std::memcpy(k(layer, to, head, 0), k(layer, from, head, 0), bytes);
      std::memcpy(v(layer, to, head, 0), v(layer, from, head, 0), bytes);
    }
  }
  length_[static_cast<size_t>(to)] = n;
}

}  // namespace rkchat::model
