// A test double of Rockchip's librkllmrt.so for one ABI family (RKLLM_DOUBLE_FAMILY 12 or 13).
//
// It reads everything it is given as raw bytes at the offsets of ../shared/ABI/rkllm.md, independently of
// rkchat's declarations, so a layout slip on rkchat's side shows up as a failed check, and it refuses values
// that a real runtime would misread (bools other than 0/1, non-zero reserved bytes, bad ranges).
//
// Environment:
//   RKLLM_DOUBLE_LOG     append one JSON line per call (what was given) to this file
//   RKLLM_DOUBLE_SCRIPT  a JSON file scripting the answers:
//     {"max_context_limit": 4096, "delay_ms": 0, "callback_thread": "caller"|"worker",
//      "turns": [{"pieces": [{"text": "Hi", "token": 9}, {"hex": "e4bd", "state": "waiting"},
//                            {"state": "error"}],
//                 "runaway": {"text": " more", "token": 7, "max": 200},   // keep going until aborted
//                 "prefill_ms": 12.5, "generate_ms": 30}]}
//     Run N uses turns[N] (the last one repeats). Without a script the answer echoes the input.
#include <dlfcn.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#ifndef RKLLM_DOUBLE_FAMILY
#error "RKLLM_DOUBLE_FAMILY must be 12 or 13"
#endif

namespace {

using json = nlohmann::json;
constexpr bool k13 = RKLLM_DOUBLE_FAMILY == 13;

// Offsets from the ABI notes (LP64).
namespace off {
constexpr size_t kParamSize = k13 ? 184 : 208;
constexpr size_t kModelPath = 0, kMaxCtx = 8, kMaxNew = 12, kTopK = 16, kTopP = 24, kTemp = 28, kRepeat = 32;
constexpr size_t kSkipSpecial = 56, kIgnoreEos = 57, kIsAsync = k13 ? 58 : 57, kExtend = k13 ? 60 : 88;
constexpr size_t kImgStart = 64;  // 1.2 only: three pointers
constexpr size_t kDomain = 0, kCpusNum = 5, kCpusMask = 8, kNBatch = 12, kReserved = 14, kReservedLen = 104;
constexpr size_t kRole = 0, kThinking = 8, kInputType = 12, kUnion = 16, kNTokens = 24;
constexpr size_t kMode = 0, kLora = 8, kCache = 16, kSampling = 24, kKeepHistory = k13 ? 32 : 24, kRunMaxNew = 36;
constexpr size_t kResultSize = 72, kText = 0, kToken = 8, kPerf = 48;
}  // namespace off

template <typename T>
T get(const void* base, size_t offset) {
  T v;
  std::memcpy(&v, static_cast<const unsigned char*>(base) + offset, sizeof v);
  return v;
}
template <typename T>
void put(void* base, size_t offset, T v) {
  std::memcpy(static_cast<unsigned char*>(base) + offset, &v, sizeof v);
}

// The version text lives in the library's bytes, as in the real runtime's log line.
const char kVersionLine[] = "rkllm-runtime version: " RKLLM_DOUBLE_VERSION;

using Callback = int (*)(void* result, void* userdata, int state);

struct Model {
  Callback callback = nullptr;
  void* init_userdata = nullptr;
  int max_ctx = 0;
  int max_new = 0;
  int kv_tokens = 0;
  int runs = 0;
  std::atomic<bool> abort{false};
  std::atomic<bool> running{false};
};

std::mutex g_log_mutex;

void record(json line) {
  const char* path = std::getenv("RKLLM_DOUBLE_LOG");
  if (!path) return;
  line["family"] = RKLLM_DOUBLE_FAMILY;
  std::lock_guard lock(g_log_mutex);
  std::ofstream(path, std::ios::app) << line.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
}

std::string read_all(const char* path) {
  std::string out;
  if (std::FILE* f = std::fopen(path, "rb")) {
    char buf[65536];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

json script() {
  const char* path = std::getenv("RKLLM_DOUBLE_SCRIPT");
  if (!path) return json::object();
  return json::parse(read_all(path), nullptr, false);
}

int fail(const std::string& call, const std::string& why) {
  std::fprintf(stderr, "E rkllm: %s: %s\n", call.c_str(), why.c_str());
  record({{"call", call}, {"check_failed", why}});
  return -1;
}

bool is_bool(const void* base, size_t offset) { return get<uint8_t>(base, offset) <= 1; }

std::string model_toolkit(const char* path) {
  const std::string bytes = read_all(path);
  const std::string tag = "rkllm-toolkit version: ";
  const auto pos = bytes.rfind(tag);
  return pos == std::string::npos ? "unknown" : bytes.substr(pos + tag.size(), 16).c_str();
}

std::string hex_bytes(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

struct Piece {
  std::string text;
  int token = -1;
  int state = 0;
};

std::vector<Piece> scripted_pieces(const json& turn) {
  std::vector<Piece> out;
  for (const auto& p : turn.value("pieces", json::array())) {
    Piece piece;
    piece.text = p.contains("hex") ? hex_bytes(p["hex"].get<std::string>()) : p.value("text", "");
    piece.token = p.value("token", -1);
    const std::string state = p.value("state", "normal");
    piece.state = state == "waiting" ? 1 : state == "error" ? 3 : 0;
    out.push_back(piece);
  }
  return out;
}

std::vector<Piece> echo_pieces(const std::string& said) {
  std::vector<Piece> out;
  std::string word;
  int id = 1000;
  for (char c : "Hello! You said: " + said) {
    word.push_back(c);
    if (c == ' ') {
      out.push_back({word, id++, 0});
      word.clear();
    }
  }
  if (!word.empty()) out.push_back({word, id, 0});
  return out;
}

void generate(Model* m, void* userdata, const json& turn, std::vector<Piece> pieces, int prefill_tokens, int max_new,
              const json& sc) {
  unsigned char result[off::kResultSize + 64] = {};
  const int delay_ms = sc.value("delay_ms", 0);
  int emitted = 0;
  bool stopped = false;
  auto send = [&](const Piece& p) {
    if (m->abort || (max_new > 0 && emitted >= max_new)) return false;
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    std::memset(result, 0, sizeof result);
    put<const char*>(result, off::kText, p.text.c_str());
    put<int32_t>(result, off::kToken, p.token);
    if (p.state == 3) {
      m->callback(result, userdata, 3);
      stopped = true;
      return false;
    }
    ++emitted;
    if (m->callback(result, userdata, p.state) == 1) return false;  // paused by the caller
    return true;
  };
  bool going = true;
  for (const auto& p : pieces) {
    if (!(going = send(p))) break;
  }
  if (going && turn.contains("runaway")) {
    const auto& r = turn["runaway"];
    const Piece extra{r.value("text", " more"), r.value("token", 7), 0};
    for (int i = 0; i < r.value("max", 200) && send(extra); ++i) {
    }
  }
  record({{"call", "answer"}, {"emitted", emitted}, {"aborted", m->abort.load()}, {"error", stopped}});
  if (stopped) return;
  std::memset(result, 0, sizeof result);
  put<float>(result, off::kPerf + 0, turn.value("prefill_ms", 1.5f * static_cast<float>(prefill_tokens)));
  put<int32_t>(result, off::kPerf + 4, prefill_tokens);
  put<float>(result, off::kPerf + 8, turn.value("generate_ms", 10.0f * static_cast<float>(emitted)));
  put<int32_t>(result, off::kPerf + 12, emitted);
  put<float>(result, off::kPerf + 16, 1234.5f);
  m->callback(result, userdata, 2);
  m->kv_tokens += prefill_tokens + emitted;
}

}  // namespace

// Returned by value like RKLLMParam: the same size, so the same (hidden pointer) calling convention.
struct DoubleParam {
  alignas(8) unsigned char bytes[off::kParamSize];
};

extern "C" {

__attribute__((visibility("default"))) DoubleParam rkllm_createDefaultParam() {
  DoubleParam p{};
  put<int32_t>(p.bytes, off::kMaxCtx, 512);
  put<int32_t>(p.bytes, off::kMaxNew, -1);
  put<int32_t>(p.bytes, off::kTopK, 1);
  put<float>(p.bytes, off::kTopP, 0.9f);
  put<float>(p.bytes, off::kTemp, 0.8f);
  put<float>(p.bytes, off::kRepeat, 1.1f);
  put<uint8_t>(p.bytes, off::kExtend + off::kNBatch, 1);
  record({{"call", "createDefaultParam"}});
  return p;
}

__attribute__((visibility("default"))) int rkllm_init(void** handle, void* param, void* callback) try {
  if (!handle || !param || !callback) return fail("init", "null argument");
  const json sc = script();
  const int limit = sc.value("max_context_limit", 4096);
  const auto* path = get<const char*>(param, off::kModelPath);
  const int max_ctx = get<int32_t>(param, off::kMaxCtx);
  const size_t ext = off::kExtend;
  const uint32_t mask = get<uint32_t>(param, ext + off::kCpusMask);
  const int cpus_num = get<int8_t>(param, ext + off::kCpusNum);
  const float top_p = get<float>(param, off::kTopP);
  json line = {{"call", "init"},
               {"max_context_len", max_ctx},
               {"max_new_tokens", get<int32_t>(param, off::kMaxNew)},
               {"top_k", get<int32_t>(param, off::kTopK)},
               {"top_p", top_p},
               {"temperature", get<float>(param, off::kTemp)},
               {"skip_special_token", get<uint8_t>(param, off::kSkipSpecial)},
               {"is_async", get<uint8_t>(param, off::kIsAsync)},
               {"base_domain_id", get<int32_t>(param, ext + off::kDomain)},
               {"enabled_cpus_num", cpus_num},
               {"enabled_cpus_mask", mask},
               {"n_batch", get<uint8_t>(param, ext + off::kNBatch)}};
  if (!path) return fail("init", "model_path is null");
  line["model_path"] = path;
  record(line);
  if (!std::ifstream(path)) return fail("init", std::string("cannot open model ") + path);
  for (size_t i = 0; i < off::kReservedLen; ++i) {
    if (get<uint8_t>(param, ext + off::kReserved + i) != 0) return fail("init", "extend_param.reserved not zero");
  }
  if (!is_bool(param, off::kSkipSpecial) || !is_bool(param, off::kIsAsync)) return fail("init", "bool field not 0/1");
  if (k13 && !is_bool(param, off::kIgnoreEos)) return fail("init", "ignore_eos_token not 0/1");
  if (!k13 && (get<const char*>(param, off::kImgStart) || get<const char*>(param, off::kImgStart + 8))) {
    return fail("init", "img_start/img_end set for a text model");
  }
  if (get<uint8_t>(param, off::kIsAsync) != 0) return fail("init", "is_async set but no async caller");
  if (!(top_p >= 0.0f && top_p <= 1.0f)) return fail("init", "top_p out of [0, 1]");
  if (mask != 0 && cpus_num != std::popcount(mask)) return fail("init", "enabled_cpus_num != bits of the mask");
  if (const int domain = get<int32_t>(param, ext + off::kDomain); domain < 0 || domain > 7) {
    return fail("init", "base_domain_id out of range");
  }
  std::fprintf(stderr, "I rkllm: %s, rknpu driver version: 0.9.8, platform: RK3588\n", kVersionLine);
  std::fprintf(stderr,
               "I rkllm: rkllm-toolkit version: %s, max_context_limit: %d, npu_core_num: 3, "
               "target_platform: RK3588, model_dtype: W8A8\n",
               model_toolkit(path).c_str(), limit);
  if (max_ctx <= 0 || max_ctx > limit) {
    return fail("init",
                "max_context_len " + std::to_string(max_ctx) + " exceeds max_context_limit " + std::to_string(limit));
  }
  // 1.2 takes the callback itself, 1.3 a pointer to a struct of callbacks: a caller of the other family would
  // make the runtime jump into data. A code address lies in a loaded object (dladdr finds it); heap and stack
  // do not. (A struct in static storage would pass this check: the double is a check, not a proof.)
  Dl_info info{};
  auto* m = new Model;
  if constexpr (k13) {
    m->callback = get<Callback>(callback, 0);
    m->init_userdata = get<void*>(callback, 8);
    if (!m->callback || !dladdr(reinterpret_cast<void*>(m->callback), &info)) {
      delete m;
      return fail("init", "RKLLMCallback.result_callback is not a function (a 1.2 callback given to 1.3?)");
    }
  } else {
    if (!dladdr(callback, &info)) {
      delete m;
      return fail("init", "callback is not a function (a 1.3 RKLLMCallback struct given to a 1.2 runtime?)");
    }
    m->callback = reinterpret_cast<Callback>(callback);
  }
  m->max_ctx = max_ctx;
  m->max_new = get<int32_t>(param, off::kMaxNew);
  *handle = m;
  return 0;
} catch (...) {
  return fail("init", "exception");
}

__attribute__((visibility("default"))) int rkllm_run(void* handle, void* input, void* infer, void* userdata) try {
  auto* m = static_cast<Model*>(handle);
  if (!m || !input || !infer) return fail("run", "null argument");
  const auto* role = get<const char*>(input, off::kRole);
  const int type = get<int32_t>(input, off::kInputType);
  const int keep = get<int32_t>(infer, off::kKeepHistory);
  json line = {{"call", "run"},
               {"enable_thinking", get<uint8_t>(input, off::kThinking)},
               {"input_type", type},
               {"keep_history", keep},
               {"kv_tokens_before", m->kv_tokens}};
  if (!role) return fail("run", "role is null");
  line["role"] = role;
  if (std::string(role) != "user" && std::string(role) != "tool") return fail("run", "unknown role");
  if (!is_bool(input, off::kThinking)) return fail("run", "enable_thinking not 0/1");
  if (get<int32_t>(infer, off::kMode) != 0) return fail("run", "mode is not GENERATE");
  if (get<void*>(infer, off::kLora) || get<void*>(infer, off::kCache)) return fail("run", "unexpected lora/cache");
  if (keep != 0 && keep != 1) return fail("run", "keep_history not 0/1");
  int max_new = m->max_new;
  if constexpr (k13) {
    if (const int n = get<int32_t>(infer, off::kRunMaxNew); n > 0) max_new = n;
    line["max_new_tokens"] = get<int32_t>(infer, off::kRunMaxNew);
    if (const auto* s = get<const unsigned char*>(infer, off::kSampling)) {
      line["sampling"] = {
          {"top_k", get<int32_t>(s, 0)}, {"top_p", get<float>(s, 4)}, {"temperature", get<float>(s, 8)}};
      if (!(get<float>(s, 4) >= 0.0f && get<float>(s, 4) <= 1.0f)) return fail("run", "sampling top_p out of [0, 1]");
    }
  }
  std::string said;
  int prefill = 0;
  if (type == 0) {
    const auto* prompt = get<const char*>(input, off::kUnion);
    if (!prompt) return fail("run", "prompt_input is null");
    said = prompt;
    line["prompt"] = said;
    prefill = static_cast<int>(said.size() / 4 + 1);
  } else if (type == 1) {
    const auto* ids = get<const int32_t*>(input, off::kUnion);
    const auto n = get<size_t>(input, off::kNTokens);
    if (!ids || n == 0 || n > static_cast<size_t>(m->max_ctx)) return fail("run", "bad token input");
    line["tokens"] = std::vector<int32_t>(ids, ids + n);
    said = std::to_string(n) + " tokens";
    prefill = static_cast<int>(n);
  } else {
    return fail("run", "input_type " + std::to_string(type) + " not supported by the double");
  }
  if (m->kv_tokens + prefill > m->max_ctx) return fail("run", "context full");
  record(line);
  const json sc = script();
  const json turns = sc.value("turns", json::array());
  const json turn = turns.empty() ? json::object() : turns[std::min<size_t>(m->runs, turns.size() - 1)];
  ++m->runs;
  auto pieces = turns.empty() ? echo_pieces(said) : scripted_pieces(turn);
  m->abort = false;
  m->running = true;
  void* ud = k13 && !userdata ? m->init_userdata : userdata;
  if (sc.value("callback_thread", "caller") == "worker") {
    std::thread t(generate, m, ud, turn, pieces, prefill, max_new, sc);
    t.join();
  } else {
    generate(m, ud, turn, pieces, prefill, max_new, sc);
  }
  if (keep == 0) m->kv_tokens = 0;
  m->running = false;
  return 0;
} catch (...) {
  return fail("run", "exception");
}

#ifndef RKLLM_DOUBLE_OMIT_ABORT
__attribute__((visibility("default"))) int rkllm_abort(void* handle) {
  if (!handle) return -1;
  static_cast<Model*>(handle)->abort = true;
  record({{"call", "abort"}});
  return 0;
}
#endif

__attribute__((visibility("default"))) int rkllm_is_running(void* handle) {
  return handle && static_cast<Model*>(handle)->running ? 1 : 0;
}

__attribute__((visibility("default"))) int rkllm_clear_kv_cache(void* handle, int keep_system_prompt, int*, int*) {
  if (!handle) return -1;
  static_cast<Model*>(handle)->kv_tokens = 0;
  record({{"call", "clear_kv_cache"}, {"keep_system_prompt", keep_system_prompt}});
  return 0;
}

__attribute__((visibility("default"))) int rkllm_set_chat_template(void* handle, const char* system, const char* prefix,
                                                                   const char* postfix) {
  if (!handle || !system || !prefix || !postfix) return fail("set_chat_template", "null argument");
  record({{"call", "set_chat_template"}, {"system", system}, {"prefix", prefix}, {"postfix", postfix}});
  return 0;
}

__attribute__((visibility("default"))) int rkllm_destroy(void* handle) {
  delete static_cast<Model*>(handle);
  record({{"call", "destroy"}});
  return 0;
}

}  // extern "C"
