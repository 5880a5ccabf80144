// The matmul driver: quantize the activation rows once (in parallel over rows), then split the weight rows
// across the pool; each thread runs the active ISA's gemm over its rows for all tokens, so every weight block
// is read once per matmul. No allocation here except a Workspace that is too small.
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

// Rows per unit of work: a multiple of every ISA's row tile (1..4 rows), so threads split on tile boundaries.
constexpr int64_t kRowGrain = 24;

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
}

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

void matmul(const Matrix& w, const float* x, int64_t ldx, float* y, int64_t ldy, int n_tok, ThreadPool& pool,
            Workspace& ws) {
  check_matmul_args(w, ldx, ldy, n_tok);
  if (n_tok == 0 || w.rows == 0) return;
  const KernelTable& table = kernel_table();
  const TypeKernels& k = kernels_for(w.type);
  const auto* a = reinterpret_cast<const uint8_t*>(x);
  size_t a_row_bytes = static_cast<size_t>(ldx) * sizeof(float);
  if (k.act != QType::F32) {
    const QuantizeFn quantize = quantizer_for(table, k.act);
    if (quantize == nullptr) throw std::logic_error(std::string("matmul: no quantizer for ") + qtype_name(k.act));
    a_row_bytes = qtype_row_bytes(k.act, w.cols);
    auto* q = static_cast<uint8_t*>(ws.get(a_row_bytes * static_cast<size_t>(n_tok)));
    const int64_t cols = w.cols;
    pool.parallel_for(n_tok, [&](int64_t t0, int64_t t1, int) {
      for (int64_t t = t0; t < t1; ++t) quantize(x + t * ldx, q + t * a_row_bytes, cols);
    });
    a = q;
  }
  const auto* wd = static_cast<const uint8_t*>(w.data);
  pool.parallel_for(w.rows, kRowGrain, [&](int64_t r0, int64_t r1, int) {
    k.gemm(wd, w.row_bytes, a, a_row_bytes, y, ldy, r0, r1, n_tok, w.cols);
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
