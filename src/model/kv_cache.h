// Keys and values of past tokens, for up to n_seq sequences of up to n_ctx tokens each, allocated once.
// Layout: [layer][seq][pos][kv_dim]; a sequence's cache is its first length(seq) positions.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/ops.h"
#include "model/arch.h"

namespace rkchat::model {

// Bytes that one token of one sequence takes in the cache: its keys and values in every layer.
uint64_t kv_bytes_per_token(const HParams& hp, kernels::KvType type);

class KvCache {
 public:
  KvCache(const HParams& hp, int n_ctx, int n_seq, kernels::KvType type);

  int n_ctx() const { return n_ctx_; }
  int n_seq() const { return n_seq_; }
  kernels::KvType type() const { return type_; }
  int64_t row_elems() const { return kv_dim_; }
  uint64_t bytes() const { return bytes_; }

  int length(int seq) const { return length_[static_cast<size_t>(seq)]; }
  // Keeps only the first n tokens of a sequence (n <= length): the rest is forgotten.
  void truncate(int seq, int n);
  // Called by the forward pass once a batch's rows are stored.
  void set_length(int seq, int n) { length_[static_cast<size_t>(seq)] = n; }

  void* k(int layer, int seq, int pos) { return at(k_.get(), layer, seq, pos); }
  void* v(int layer, int seq, int pos) { return at(v_.get(), layer, seq, pos); }

 private:
  void* at(uint8_t* base, int layer, int seq, int pos) const {
    const size_t row = static_cast<size_t>(kv_dim_) * kernels::kv_elem_bytes(type_);
    return base + ((static_cast<size_t>(layer) * n_seq_ + seq) * n_ctx_ + pos) * row;
  }

  int n_ctx_, n_seq_;
  int64_t kv_dim_;
  kernels::KvType type_;
  uint64_t bytes_;
  std::unique_ptr<uint8_t[]> k_, v_;  // not zeroed: pages are touched only as the cache fills
  std::vector<int> length_;
};

}  // namespace rkchat::model
