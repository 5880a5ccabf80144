// Run-time ISA dispatch: one KernelTable per process, built once from the reference entries and then those of
// the best ISA this CPU runs (or the one RKCHAT_ISA / select_isa names).
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

#include "kernels/kernel_table.h"

namespace rkchat::kernels {

namespace {

struct IsaInfo {
  const char* name;
  bool (*supported)(const CpuFeatures& f);
  void (*fill)(KernelTable& t);  // fills on top of the reference entries
};

#if defined(RKCHAT_HAVE_X86_KERNELS)
bool has_avx2(const CpuFeatures& f) { return f.avx2 && f.fma && f.f16c; }
bool has_avx512vnni(const CpuFeatures& f) {
  return has_avx2(f) && f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
}
void fill_avx2_all(KernelTable& t) {
  fill_avx2(t);
  fill_kquants_avx2(t);
  fill_attention_avx2(t);
}
// AVX2 first, so anything the AVX-512 files leave out still runs vectorized.
void fill_avx512vnni_all(KernelTable& t) {
  fill_avx2_all(t);
  fill_avx512vnni(t);
  fill_avx512vnni_rows(t);
  fill_kquants_avx512vnni(t);
  fill_kquants_avx512vnni_rows(t);
  fill_attention_avx512(t);
}
#endif

const IsaInfo kIsas[] = {
    {"scalar", [](const CpuFeatures&) { return true; }, [](KernelTable&) {}},
#if defined(RKCHAT_HAVE_X86_KERNELS)
    {"avx2", has_avx2,
     [](KernelTable& t) {
       fill_avx2_all(t);
       fill_avx2_gemv(t);
       fill_avx2_rows(t);
       fill_kquants_avx2_rows(t);
     }},
    {"avx512vnni", has_avx512vnni, fill_avx512vnni_all},
    {"amx", [](const CpuFeatures& f) { return has_avx512vnni(f) && f.amx_int8; },
     [](KernelTable& t) {
       fill_avx512vnni_all(t);
       fill_amx(t);
     }},
#endif
#if defined(RKCHAT_HAVE_ARM_KERNELS)
    {"neon", [](const CpuFeatures& f) { return f.neon; },
     [](KernelTable& t) {
       fill_neon_base(t);
       fill_attention_neon(t);
     }},
    {"neon-dot", [](const CpuFeatures& f) { return f.neon && f.neon_dotprod; },
     [](KernelTable& t) {
       fill_neon_base(t);
       fill_attention_neon(t);
       fill_neon_dot(t);
       fill_neon_dot_rows(t);
       fill_kquants_neon_dot(t);
     }},
#endif
};

const IsaInfo& find_isa(const std::string& name) {
  for (const IsaInfo& isa : kIsas) {
    if (name != isa.name) continue;
    if (!isa.supported(cpu_features()))
      throw std::runtime_error("ISA '" + name +
                               "' is not supported by this CPU (features: " + cpu_features().summary() + ")");
    return isa;
  }
  std::string known;
  for (const IsaInfo& isa : kIsas) known += std::string(known.empty() ? "" : ", ") + isa.name;
  throw std::runtime_error("ISA '" + name + "' is not built for this architecture (this build has: " + known + ")");
}

const IsaInfo& best_isa() {
  const IsaInfo* best = &kIsas[0];
  for (const IsaInfo& isa : kIsas) {
    if (isa.supported(cpu_features())) best = &isa;  // kIsas is ordered worst to best
  }
  return *best;
}

KernelTable build(const IsaInfo& isa) {
  KernelTable t;
  fill_ref(t);
  fill_kquants_ref(t);
  fill_attention_ref(t);
  fill_repack_ref(t);
  isa.fill(t);
  t.isa = isa.name;
  return t;
}

constexpr size_t kIsaCount = sizeof(kIsas) / sizeof(kIsas[0]);

// One table per ISA, built on first use and never changed after, so a table reference stays valid when
// select_isa switches to another ISA.
struct State {
  std::mutex mu;
  bool built[kIsaCount] = {};
  KernelTable tables[kIsaCount];
  std::atomic<const KernelTable*> current{nullptr};
};

State& state() {
  static State s;
  return s;
}

const KernelTable& use(const IsaInfo& isa) {
  State& s = state();
  const auto i = static_cast<size_t>(&isa - kIsas);
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.built[i]) {
    s.tables[i] = build(isa);
    s.built[i] = true;
  }
  s.current.store(&s.tables[i], std::memory_order_release);
  return s.tables[i];
}

}  // namespace

const TypeKernels* KernelTable::for_type(QType type) const {
  const TypeKernels* k = nullptr;
  switch (type) {
    case QType::F32:
      k = &f32;
      break;
    case QType::F16:
      k = &f16;
      break;
    case QType::BF16:
      k = &bf16;
      break;
    case QType::Q8_0:
      k = &q8_0;
      break;
    case QType::Q4_0:
      k = &q4_0;
      break;
    case QType::Q4_1:
      k = &q4_1;
      break;
    case QType::Q4_K:
      k = &q4_k;
      break;
    case QType::Q5_K:
      k = &q5_k;
      break;
    case QType::Q6_K:
      k = &q6_k;
      break;
    default:
      return nullptr;
  }
  return k->gemm != nullptr ? k : nullptr;
}

const KernelTable& kernel_table() {
  if (const KernelTable* t = state().current.load(std::memory_order_acquire)) return *t;
  // First use: a bad RKCHAT_ISA throws here (and again on the next call).
  const char* env = std::getenv("RKCHAT_ISA");
  if (env == nullptr || *env == '\0') return use(best_isa());
  try {
    return use(find_isa(env));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string("RKCHAT_ISA: ") + e.what());
  }
}

const char* active_isa() { return kernel_table().isa; }

std::vector<std::string> available_isas() {
  std::vector<std::string> names;
  for (const IsaInfo& isa : kIsas) {
    if (isa.supported(cpu_features())) names.emplace_back(isa.name);
  }
  return names;
}

void select_isa(const std::string& name) { use(find_isa(name)); }

}  // namespace rkchat::kernels
