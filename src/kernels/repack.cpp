// Layout::rows4 (repack.h): the scalar packer, the unpacking of one row (the embedding lookup, and the scalar
// reference gemm, which unpacks rows and runs the stored layout's reference), and the public entries of kernels.h.
#include "kernels/repack.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/kernel_table.h"
#include "kernels/thread_pool.h"

namespace rkchat::kernels {

namespace {

// One stored block type, its group block, and the XOR its quant bytes take in the group.
template <class B, class B4, uint8_t Xor>
struct Rows4 {
  static constexpr int kChunks = sizeof(B::qs) / 4;  // 4-byte chunks per row and block
  static constexpr bool kHasMin = sizeof(B4) > sizeof(B4::d) + sizeof(B4::qs);

  static void pack_block(const B* rows[kGroupRows], B4& out) {
    std::memset(&out, 0, sizeof(out));  // missing rows: scale (and min) 0
    for (int i = 0; i < kGroupRows; ++i) {
      if (rows[i] == nullptr) continue;
      out.d[i] = rows[i]->d;
      if constexpr (kHasMin) out.m[i] = rows[i]->m;
      for (int c = 0; c < kChunks; ++c) {
        for (int k = 0; k < 4; ++k) {
          const auto q = static_cast<uint8_t>(static_cast<uint8_t>(rows[i]->qs[c * 4 + k]) ^ Xor);
          std::memcpy(&out.qs[(c * kGroupRows + i) * 4 + k], &q, 1);
        }
      }
    }
  }

  static void unpack_block(const B4& in, int i, B& out) {
    out.d = in.d[i];
    if constexpr (kHasMin) out.m = in.m[i];
    for (int c = 0; c < kChunks; ++c) {
      for (int k = 0; k < 4; ++k) {
        const auto q = static_cast<uint8_t>(static_cast<uint8_t>(in.qs[(c * kGroupRows + i) * 4 + k]) ^ Xor);
        std::memcpy(&out.qs[c * 4 + k], &q, 1);
      }
    }
  }

  static void pack(const uint8_t* w, size_t wrb, int64_t rows, int64_t cols, int64_t g0, int64_t g1, uint8_t* dst) {
    const int64_t nb = cols / QK8_0;
    auto* out = reinterpret_cast<B4*>(dst);
    for (int64_t g = g0; g < g1; ++g) {
      for (int64_t b = 0; b < nb; ++b) {
        const B* src[kGroupRows];
        for (int i = 0; i < kGroupRows; ++i) {
          const int64_t r = g * kGroupRows + i;
          src[i] = r < rows ? reinterpret_cast<const B*>(w + r * wrb) + b : nullptr;
        }
        pack_block(src, out[g * nb + b]);
      }
    }
  }

  // Row r of a packed matrix as stored blocks.
  static void unpack_row(const uint8_t* packed, int64_t r, int64_t cols, uint8_t* dst) {
    const int64_t nb = cols / QK8_0;
    const auto* group = reinterpret_cast<const B4*>(packed) + r / kGroupRows * nb;
    auto* out = reinterpret_cast<B*>(dst);
    for (int64_t b = 0; b < nb; ++b) unpack_block(group[b], static_cast<int>(r % kGroupRows), out[b]);
  }

  // The scalar reference on the packed layout: each row unpacked, then the stored layout's reference gemm.
  static inline decltype(TypeKernels::gemm) row_gemm = nullptr;  // set by fill_repack_ref
  static void gemm(const uint8_t* w, size_t wrb, const uint8_t* a, size_t arb, float* y, int64_t ldy, int64_t r0,
                   int64_t r1, int n_tok, int64_t cols) {
    thread_local Workspace row;
    auto* buf = static_cast<uint8_t*>(row.get(wrb));
    for (int64_t r = r0; r < r1; ++r) {
      unpack_row(w, r, cols, buf);
      row_gemm(buf, wrb, a, arb, y + r, ldy, 0, 1, n_tok, cols);
    }
  }
};

// Row r of a matrix in tiles of L rows (Layout::rows16, rows8), unpacked to stored blocks (the kernels pack; this
// reads what they wrote).
template <class B, int L, uint8_t Xor>
struct Tiles {
  static constexpr int kChunks = sizeof(B::qs) / 4;
  static constexpr bool kHasMin = sizeof(B) > sizeof(B::d) + sizeof(B::qs);

  static void unpack_row(const uint8_t* packed, int64_t r, int64_t cols, size_t wrb, uint8_t* dst) {
    const int64_t nb = cols / QK8_0;
    const TileParts<L, sizeof(B::qs)> tile(packed + static_cast<size_t>(r / L) * tile_bytes(L, wrb), nb);
    const auto i = static_cast<int64_t>(r % L);
    auto* out = reinterpret_cast<B*>(dst);
    for (int64_t b = 0; b < nb; ++b) {
      for (int c = 0; c < kChunks; ++c) {
        const uint8_t* chunk = tile.qs + (b * kChunks + c) * 4 * L + 4 * i;
        for (int k = 0; k < 4; ++k) {
          const auto q = static_cast<uint8_t>(chunk[k] ^ Xor);
          std::memcpy(&out[b].qs[c * 4 + k], &q, 1);
        }
      }
      out[b].d = tile.d[b * L + i];
      if constexpr (kHasMin) out[b].m = tile.m[b * L + i];
    }
  }
};

using Q8_0x4 = Rows4<BlockQ8_0, BlockQ8_0x4, 0x00>;
using Q4_0x4 = Rows4<BlockQ4_0, BlockQ4_0x4, 0x88>;
using Q4_1x4 = Rows4<BlockQ4_1, BlockQ4_1x4, 0x00>;

// Calls F with the Rows4 type of a packable weight type; false when there is none.
template <class F>
bool with_rows4(QType type, F&& f) {
  switch (type) {
    case QType::Q8_0:
      f(Q8_0x4{});
      return true;
    case QType::Q4_0:
      f(Q4_0x4{});
      return true;
    case QType::Q4_1:
      f(Q4_1x4{});
      return true;
    default:
      return false;
  }
}

// Row r of a tiled matrix (Layout::rows16: Q8_0 quants stored + 128 for vpdpbusd; rows8: as stored) as stored
// blocks; false when the type has no such layout.
template <int L, uint8_t XorQ8>
bool unpack_tiled_row(const Matrix& w, int64_t r, uint8_t* dst) {
  const auto* data = static_cast<const uint8_t*>(w.data);
  switch (w.type) {
    case QType::Q8_0:
      Tiles<BlockQ8_0, L, XorQ8>::unpack_row(data, r, w.cols, w.row_bytes, dst);
      return true;
    case QType::Q4_0:
      Tiles<BlockQ4_0, L, 0x00>::unpack_row(data, r, w.cols, w.row_bytes, dst);
      return true;
    case QType::Q4_1:
      Tiles<BlockQ4_1, L, 0x00>::unpack_row(data, r, w.cols, w.row_bytes, dst);
      return true;
    default:
      return false;
  }
}

bool unpack_packed_row(const Matrix& w, int64_t r, uint8_t* dst) {
  switch (w.layout) {
    case Layout::rows16:
      return unpack_tiled_row<16, 0x80>(w, r, dst);
    case Layout::rows8:
      return unpack_tiled_row<8, 0x00>(w, r, dst);
    default:
      return with_rows4(w.type, [&](auto k) { k.unpack_row(static_cast<const uint8_t*>(w.data), r, w.cols, dst); });
  }
}

}  // namespace

int layout_rows(Layout layout) {
  switch (layout) {
    case Layout::rows4:
      return kGroupRows;
    case Layout::rows8:
      return 8;
    case Layout::rows16:
      return 16;
    default:
      return 1;
  }
}

int64_t packed_groups(Layout layout, int64_t rows) { return (rows + layout_rows(layout) - 1) / layout_rows(layout); }

size_t packed_bytes(Layout layout, size_t row_bytes, int64_t rows) {
  const auto groups = static_cast<size_t>(packed_groups(layout, rows));
  const int n = layout_rows(layout);
  return layout == Layout::rows4 ? groups * n * row_bytes : groups * tile_bytes(n, row_bytes);
}

void pack_rows4_q8_0(const uint8_t* w, size_t wrb, int64_t rows, int64_t cols, int64_t g0, int64_t g1, uint8_t* dst) {
  Q8_0x4::pack(w, wrb, rows, cols, g0, g1, dst);
}
void pack_rows4_q4_0(const uint8_t* w, size_t wrb, int64_t rows, int64_t cols, int64_t g0, int64_t g1, uint8_t* dst) {
  Q4_0x4::pack(w, wrb, rows, cols, g0, g1, dst);
}
void pack_rows4_q4_1(const uint8_t* w, size_t wrb, int64_t rows, int64_t cols, int64_t g0, int64_t g1, uint8_t* dst) {
  Q4_1x4::pack(w, wrb, rows, cols, g0, g1, dst);
}

void fill_repack_ref(KernelTable& t) {
  Q8_0x4::row_gemm = t.q8_0.gemm;
  Q4_0x4::row_gemm = t.q4_0.gemm;
  Q4_1x4::row_gemm = t.q4_1.gemm;
  for (auto [k, gemm] : {std::pair{&t.q8_0, &Q8_0x4::gemm}, {&t.q4_0, &Q4_0x4::gemm}, {&t.q4_1, &Q4_1x4::gemm}}) {
    k->packed = Layout::rows4;
    k->gemm_packed = gemm;
  }
}

void dequantize_matrix_row(const Matrix& w, int64_t r, float* dst) {
  if (r < 0 || r >= w.rows) throw std::out_of_range("dequantize_matrix_row: row " + std::to_string(r));
  if (w.layout == Layout::rows)
    return dequantize_row(w.type, static_cast<const uint8_t*>(w.data) + static_cast<size_t>(r) * w.row_bytes, dst,
                          w.cols);
  thread_local Workspace row;
  auto* buf = static_cast<uint8_t*>(row.get(w.row_bytes));
  if (!unpack_packed_row(w, r, buf))
    throw std::invalid_argument(std::string("dequantize_matrix_row: no packed ") + qtype_name(w.type));
  dequantize_row(w.type, buf, dst, w.cols);
}

size_t packed_bytes(const Matrix& w) {
  const TypeKernels* k = kernel_table().for_type(w.type);
  if (k == nullptr || k->pack == nullptr || w.layout != Layout::rows || w.rows == 0) return 0;
  return packed_bytes(k->packed, qtype_row_bytes(w.type, w.cols), w.rows);
}

Matrix pack_matrix(const Matrix& w, void* dst, ThreadPool& pool) {
  const TypeKernels* k = kernel_table().for_type(w.type);
  if (packed_bytes(w) == 0)
    throw std::invalid_argument(std::string("pack_matrix: no repack for ") + qtype_name(w.type));
  const auto* src = static_cast<const uint8_t*>(w.data);
  auto* out = static_cast<uint8_t*>(dst);
  pool.parallel_for(packed_groups(k->packed, w.rows),
                    [&](int64_t g0, int64_t g1, int) { k->pack(src, w.row_bytes, w.rows, w.cols, g0, g1, out); });
  Matrix p = w;
  p.data = dst;
  p.row_bytes = qtype_row_bytes(w.type, w.cols);
  p.layout = k->packed;
  return p;
}

}  // namespace rkchat::kernels
