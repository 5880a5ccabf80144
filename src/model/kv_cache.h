// Keys and values of past tokens, for up to n_seq sequences of up to n_ctx tokens each, allocated once.
// Layout: [layer][seq][kv head][pos] rows of head_dim values in the cache's type (kernels::kv_row_bytes each); a
// sequence's cache is its first length(seq) positions. One head's rows are contiguous because attention reads them
// in order: with all heads of a position together (llama.cpp's layout), a head's rows lay a few per 4 KiB page,
// and decode at 4,096 tokens read the cache at half the speed of the weights, waiting on TLB misses.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/ops.h"
#include "model/arch.h"

namespace rkchat::model {

// Bytes that one token of one sequence takes in the cache: its keys and values in every layer (Q8_0 scales too).
uint64_t kv_bytes_per_token(const HParams& hp, kernels::KvType type);

class KvCache {
 public:
  KvCache(const HParams& hp, int n_ctx, int n_seq, kernels::KvType type);

  int n_ctx() const { return n_ctx_; }
  int n_seq() const { return n_seq_; }
  kernels::KvType type() const { return type_; }
  // Bytes of one position's keys (or values) for one head; consecutive positions of a head lie this far apart.
  int64_t head_row_bytes() const { return head_row_bytes_; }
  uint64_t bytes() const { return bytes_; }

  int length(int seq) const { return length_[static_cast<size_t>(seq)]; }
  // Keeps only the first n tokens of a sequence (n <= length): the rest is forgotten.
  void truncate(int seq, int n);
  // Makes sequence `to` hold the first n positions of `from` (n <= length(from), to != from), copying their keys
  // and values in every layer; `to`'s own tokens are forgotten.
  void copy_prefix(int from, int to, int n);
  // Called by the forward pass once a batch's rows are stored.
  void set_length(int seq, int n) { length_[static_cast<size_t>(seq)] = n; }

  void* k(int layer, int seq, int head, int pos) { return at(k_.get(), layer, seq, head, pos); }
  void* v(int layer, int seq, int head, int pos) { return at(v_.get(), layer, seq, head, pos); }

 private:
  void* at(uint8_t* base, int layer, int seq, int head, int pos) const {
    const size_t row = ((static_cast<size_t>(layer) * n_seq_ + seq) * n_head_kv_ + head) * n_ctx_ + pos;
    return base + row * static_cast<size_t>(head_row_bytes_);
  }

  int n_layer_, n_head_kv_, n_ctx_, n_seq_;
  int64_t head_row_bytes_;
  kernels::KvType type_;
  uint64_t bytes_;
  std::unique_ptr<uint8_t[]> k_, v_;  // not zeroed: pages are touched only as the cache fills
  std::vector<int> length_;
};

}  // namespace rkchat::model
