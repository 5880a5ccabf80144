// The matmul driver: quantize the activation rows once per activation format (in parallel over rows), then split
// the weight rows of all matrices across the pool; each thread runs the active ISA's gemm over its rows for all
// tokens, so every weight block is read once per matmul. No allocation here except a Workspace that is too small.
#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/fp16.h"
#include "kernels/kernel_table.h"
#include "kernels/kquants.h"
#include "kernels/quant_blocks.h"
#include "kernels/thread_pool.h"

namespace rkchat::kernels {

namespace {

// Rows per unit of work: a multiple of every ISA's row tile (1..4 rows; 16 for prefill) and of Layout::rows4's group,
// so threads split on tile boundaries and only the matrix's last rows fall outside a full tile -- the same rows however
// many threads run.
constexpr int64_t kRowGrain = 48;

using QuantizeFn = void (*)(const float*, void*, int64_t);

QuantizeFn quantizer_for(const KernelTable& t, QType act) {
  switch (act) {
    case QType::Q8_0:
      return t.quantize_row_q8_0;
    case QType::Q8_1:
      return t.quantize_row_q8_1;
    case QType::Q8_K:
      return t.quantize_row_q8_k;
    default:
      return nullptr;
  }
}

const TypeKernels& kernels_for(QType type) {
  const TypeKernels* k = kernel_table().for_type(type);
  if (k == nullptr) throw std::invalid_argument(std::string("matmul: unsupported weight type ") + qtype_name(type));
  return *k;
}

void check_matmul_args(const Matrix& w, int64_t ldx, int64_t ldy, int n_tok) {
  const int64_t blk = qtype_block_elems(w.type);
  if (w.rows < 0 || w.cols <= 0 || w.cols % blk != 0)
    throw std::invalid_argument("matmul: bad shape " + std::to_string(w.rows) + "x" + std::to_string(w.cols) + " for " +
                                qtype_name(w.type));
  if (w.row_bytes < qtype_row_bytes(w.type, w.cols)) throw std::invalid_argument("matmul: row_bytes too small");
  if (n_tok < 0 || ldx < w.cols || ldy < w.rows) throw std::invalid_argument("matmul: bad n_tok, ldx or ldy");
  if (w.data == nullptr && w.rows > 0) throw std::invalid_argument("matmul: null weights");
  if (w.layout != Layout::rows && kernels_for(w.type).packed != w.layout)
    throw std::invalid_argument(std::string("matmul: the active ISA does not read this packed ") + qtype_name(w.type));
}

// The length of the activation rows, which all matrices must share.
int64_t shared_cols(std::span<const MatmulOut> outs) {
  if (outs.empty()) throw std::invalid_argument("matmul_multi: no matrices");
  for (const MatmulOut& o : outs) {
    if (o.w == nullptr) throw std::invalid_argument("matmul_multi: null matrix");
    if (o.w->cols != outs[0].w->cols)
      throw std::invalid_argument("matmul_multi: matrices differ in cols (" + std::to_string(outs[0].w->cols) +
                                  " and " + std::to_string(o.w->cols) + ")");
  }
  return outs[0].w->cols;
}

// The quantized copies of the activations that a list of matrices needs: one per activation format (F32 weights
// read x in place), laid out one after the other in the workspace.
class ActPlan {
 public:
  struct Copy {
    QType act;
    QuantizeFn quantize;
    size_t offset;     // into the workspace
    size_t row_bytes;  // per token
  };

  ActPlan(std::span<const MatmulOut> outs, int64_t cols, int n_tok) {
    for (const MatmulOut& o : outs) {
      const QType act = kernels_for(o.w->type).act;
      if (act == QType::F32 || o.w->rows == 0 || find(act) != nullptr) continue;
      const QuantizeFn quantize = quantizer_for(kernel_table(), act);
      if (quantize == nullptr) throw std::logic_error(std::string("matmul: no quantizer for ") + qtype_name(act));
      if (n_ == copies_.size()) throw std::logic_error("matmul_multi: more activation formats than planned");
      copies_[n_++] = {act, quantize, bytes_, qtype_row_bytes(act, cols)};
      bytes_ += copies_[n_ - 1].row_bytes * static_cast<size_t>(n_tok);
    }
  }

  std::span<const Copy> copies() const { return {copies_.data(), n_}; }
  size_t bytes() const { return bytes_; }
  const Copy* find(QType act) const {
    for (const Copy& c : copies())
      if (c.act == act) return &c;
    return nullptr;
  }

 private:
  std::array<Copy, 3> copies_{};  // Q8_0, Q8_1, Q8_K
  size_t n_ = 0;
  size_t bytes_ = 0;
};

// Weight rows per unit of work of matmul_multi's row pass, per matrix (a partial last grain counts as one).
int64_t grains_of(const Matrix& w) { return (w.rows + kRowGrain - 1) / kRowGrain; }

template <class Block>
void dequantize_q8(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const Block*>(src);
  for (int64_t i = 0; i < n / QK8_0; ++i) {
    const float d = fp16_to_fp32(b[i].d);
    for (int j = 0; j < QK8_0; ++j) dst[i * QK8_0 + j] = d * b[i].qs[j];
  }
}

// Q4_0 (offset -8, no min) and Q4_1 (min m): low nibbles are elements 0..15, high nibbles 16..31.
template <class Block>
void dequantize_q4(const void* src, float* dst, int64_t n, float (*min_of)(const Block&)) {
  const auto* b = static_cast<const Block*>(src);
  for (int64_t i = 0; i < n / QK4_0; ++i) {
    const float d = fp16_to_fp32(b[i].d);
    const float m = min_of(b[i]);
    for (int j = 0; j < QK4_0 / 2; ++j) {
      dst[i * QK4_0 + j] = d * static_cast<float>(b[i].qs[j] & 0x0f) + m;
      dst[i * QK4_0 + j + QK4_0 / 2] = d * static_cast<float>(b[i].qs[j] >> 4) + m;
    }
  }
}

template <float (*ToF32)(uint16_t)>
void dequantize_half(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = ToF32(h[i]);
}

}  // namespace

void* Workspace::get(size_t n) {
  const size_t chunks = (n + sizeof(Chunk) - 1) / sizeof(Chunk);
  if (chunks > buf_.size()) {
    buf_.clear();
    buf_.resize(chunks);
  }
  return buf_.data();
}

size_t matmul_workspace_bytes(QType weight_type, int64_t cols, int n_tok) {
  const QType act = kernels_for(weight_type).act;
  if (act == QType::F32) return 0;  // the gemm reads the float activations in place
  return static_cast<size_t>(n_tok) * qtype_row_bytes(act, cols);
}

size_t matmul_multi_workspace_bytes(std::span<const MatmulOut> outs, int n_tok) {
  return ActPlan(outs, shared_cols(outs), n_tok).bytes();
}

void matmul(const Matrix& w, const float* x, int64_t ldx, float* y, int64_t ldy, int n_tok, ThreadPool& pool,
            Workspace& ws) {
  const MatmulOut out{&w, y, ldy};
  matmul_multi({&out, 1}, x, ldx, n_tok, pool, ws);
}

void matmul_multi(std::span<const MatmulOut> outs, const float* x, int64_t ldx, int n_tok, ThreadPool& pool,
                  Workspace& ws) {
  const int64_t cols = shared_cols(outs);
  for (const MatmulOut& o : outs) check_matmul_args(*o.w, ldx, o.ldy, n_tok);
  if (n_tok == 0) return;
  const ActPlan plan(outs, cols, n_tok);
  auto* q = static_cast<uint8_t*>(ws.get(plan.bytes()));
  const std::span<const ActPlan::Copy> copies = plan.copies();
  // Item i quantizes token i % n_tok into copy i / n_tok.
  pool.parallel_for(static_cast<int64_t>(copies.size()) * n_tok, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) {
      const ActPlan::Copy& c = copies[static_cast<size_t>(i / n_tok)];
      const int64_t t = i % n_tok;
      c.quantize(x + t * ldx, q + c.offset + static_cast<size_t>(t) * c.row_bytes, cols);
    }
  });
  // The rows of all matrices, one after the other, in grains of whole kRowGrain rows of one matrix: every range a
  // gemm sees starts on a multiple of kRowGrain of its matrix, as in a separate matmul, so tiles (and results) match.
  int64_t grains = 0;
  for (const MatmulOut& o : outs) grains += grains_of(*o.w);
  pool.parallel_for(grains, [&](int64_t g0, int64_t g1, int) {
    int64_t first = 0;  // first grain of matrix o
    for (const MatmulOut& o : outs) {
      const Matrix& w = *o.w;
      const int64_t b = std::max(g0, first) - first, e = std::min(g1, first + grains_of(w)) - first;
      first += grains_of(w);
      if (b >= e) continue;
      const TypeKernels& k = kernels_for(w.type);
      const ActPlan::Copy* c = plan.find(k.act);
      const uint8_t* a = c != nullptr ? q + c->offset : reinterpret_cast<const uint8_t*>(x);
      const size_t a_row_bytes = c != nullptr ? c->row_bytes : static_cast<size_t>(ldx) * sizeof(float);
      (w.layout == Layout::rows ? k.gemm : k.gemm_packed)(static_cast<const uint8_t*>(w.data), w.row_bytes, a,
                                                          a_row_bytes, o.y, o.ldy, b * kRowGrain,
                                                          std::min(w.rows, e * kRowGrain), n_tok, cols);
    }
  });
}

void dequantize_row(QType type, const void* src, float* dst, int64_t n) {
  if (n % qtype_block_elems(type) != 0)
    throw std::invalid_argument("dequantize_row: " + std::to_string(n) + " is not a whole number of " +
                                qtype_name(type) + " blocks");
  switch (type) {
    case QType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case QType::F16:
      return dequantize_half<fp16_to_fp32>(src, dst, n);
    case QType::BF16:
      return dequantize_half<bf16_to_fp32>(src, dst, n);
    case QType::Q8_0:
      return dequantize_q8<BlockQ8_0>(src, dst, n);
    case QType::Q8_1:
      return dequantize_q8<BlockQ8_1>(src, dst, n);
    case QType::Q4_0:
      return dequantize_q4<BlockQ4_0>(src, dst, n, [](const BlockQ4_0& b) { return -8.0f * fp16_to_fp32(b.d); });
    case QType::Q4_1:
      return dequantize_q4<BlockQ4_1>(src, dst, n, [](const BlockQ4_1& b) { return fp16_to_fp32(b.m); });
    case QType::Q4_K:
      return dequantize_row_q4_k(src, dst, n);
    case QType::Q5_K:
      return dequantize_row_q5_k(src, dst, n);
    case QType::Q6_K:
      return dequantize_row_q6_k(src, dst, n);
    default:
      break;
  }
  throw std::invalid_argument(std::string("dequantize_row: unsupported type ") + qtype_name(type));
}

const char* qtype_name(QType t) {
  switch (t) {
    case QType::F32:
      return "F32";
    case QType::F16:
      return "F16";
    case QType::Q4_0:
      return "Q4_0";
    case QType::Q4_1:
      return "Q4_1";
    case QType::Q8_0:
      return "Q8_0";
    case QType::Q8_1:
      return "Q8_1";
    case QType::Q4_K:
      return "Q4_K";
    case QType::Q5_K:
      return "Q5_K";
    case QType::Q6_K:
      return "Q6_K";
    case QType::Q8_K:
      return "Q8_K";
    case QType::BF16:
      return "BF16";
  }
  return "unknown";
}

int64_t qtype_block_elems(QType t) {
  switch (t) {
    case QType::F32:
    case QType::F16:
    case QType::BF16:
      return 1;
    case QType::Q4_0:
    case QType::Q4_1:
    case QType::Q8_0:
    case QType::Q8_1:
      return 32;
    case QType::Q4_K:
    case QType::Q5_K:
    case QType::Q6_K:
    case QType::Q8_K:
      return QK_K;
  }
  throw std::invalid_argument("unknown quantization type id " + std::to_string(static_cast<uint32_t>(t)));
}

size_t qtype_block_bytes(QType t) {
  switch (t) {
    case QType::F32:
      return 4;
    case QType::F16:
    case QType::BF16:
      return 2;
    case QType::Q4_0:
      return sizeof(BlockQ4_0);
    case QType::Q4_1:
      return sizeof(BlockQ4_1);
    case QType::Q8_0:
      return sizeof(BlockQ8_0);
    case QType::Q8_1:
      return sizeof(BlockQ8_1);
    case QType::Q4_K:
      return sizeof(BlockQ4_K);
    case QType::Q5_K:
      return sizeof(BlockQ5_K);
    case QType::Q6_K:
      return sizeof(BlockQ6_K);
    case QType::Q8_K:
      return sizeof(BlockQ8_K);
  }
  throw std::invalid_argument("unknown quantization type id " + std::to_string(static_cast<uint32_t>(t)));
}

size_t qtype_row_bytes(QType t, int64_t n) {
  return static_cast<size_t>(n / qtype_block_elems(t)) * qtype_block_bytes(t);
}

}  // namespace rkchat::kernels
