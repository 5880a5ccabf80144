// repack_weights (weights.h): the load-time repack of a model's matrices into anonymous memory.
#include <sys/mman.h>
#include <unistd.h>

#include <new>
#include <unordered_map>

#include "kernels/thread_pool.h"
#include "model/weights.h"

namespace rkchat::model {

namespace {

// Every matrix of the model, the tied output included (it may alias the embedding's data).
std::vector<kernels::Matrix*> matrices(Weights& w) {
  std::vector<kernels::Matrix*> all = {&w.tok_embd, &w.output};
  for (LayerWeights& l : w.layers) {
    for (kernels::Matrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) all.push_back(m);
  }
  return all;
}

// Gives the pages wholly inside [p, p + n) of the file mapping back: they are read again only if touched again,
// and nothing reads a repacked tensor's stored form. The pages it shares with its neighbours stay.
void release_file_pages(const void* p, size_t n) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const auto end = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  if (begin < end) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace

size_t repack_weights(Weights& w, kernels::ThreadPool& pool) {
  // Each distinct stored matrix once: its offset in the mapping, found by its data.
  std::unordered_map<const void*, size_t> offset;
  size_t total = 0;
  for (const kernels::Matrix* m : matrices(w)) {
    const size_t n = kernels::packed_bytes(*m);
    if (n == 0 || offset.contains(m->data)) continue;
    offset[m->data] = total;
    total += (n + 63) / 64 * 64;
  }
  if (total == 0) return 0;
  void* mem = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::bad_alloc();
  w.packed = std::shared_ptr<void>(mem, [total](void* p) { ::munmap(p, total); });
  std::unordered_map<const void*, kernels::Matrix> done;  // stored data -> its packed matrix
  for (kernels::Matrix* m : matrices(w)) {
    const auto it = offset.find(m->data);
    if (it == offset.end()) continue;
    auto [d, fresh] = done.try_emplace(m->data);
    if (fresh) {
      d->second = kernels::pack_matrix(*m, static_cast<uint8_t*>(mem) + it->second, pool);
      release_file_pages(m->data, static_cast<size_t>(m->rows) * m->row_bytes);
    }
    *m = d->second;
  }
  return total;
}

}  // namespace rkchat::model
