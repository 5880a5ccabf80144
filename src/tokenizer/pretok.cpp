#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretok.h"

#include <pcre2.h>

#include <algorithm>
#include <new>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace rkchat::tok {

namespace {

// The regexes of the Hugging Face tokenizer.json files, with (?i:'s|...) spelled out case by case as llama.cpp
// does (a caseless match under UCP would also take U+017F for 's').
constexpr const char* kGpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
constexpr const char* kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// Qwen2 differs from Llama 3 only in splitting numbers into single digits.
constexpr const char* kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

struct Spec {
  std::vector<std::string_view> names;  // tokenizer.ggml.pre values (as llama.cpp's converter writes them)
  std::vector<const char*> regexes;
  bool ignore_merges;
  bool add_bos;
};

const std::vector<Spec>& specs() {
  static const std::vector<Spec> table = {
      {{"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"}, {kQwen2}, false, false},
      {{"llama-bpe", "llama3", "llama-v3", "falcon3", "pixtral", "dbrx", "smaug-bpe"}, {kLlama3}, true, true},
      {{"gpt-2", "gpt2", "phi-2", "mpt", "olmo", "jais"}, {kGpt2}, false, false},
      {{"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone"}, {"\\p{N}", kGpt2}, false, false},
      {{"default"}, {"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"}, false, false},
  };
  return table;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

// Per-thread match state: the JIT stack may not be shared between threads, and long runs of white space need
// more than PCRE2's default 32 KB.
struct MatchState {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 16 * 1024 * 1024, nullptr);
  MatchState() {
    if (!data || !context || !stack) throw std::bad_alloc();
    pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~MatchState() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

}  // namespace

class PreTokenizer::Regex {
 public:
  explicit Regex(const char* pattern) {
    int err = 0;
    PCRE2_SIZE at = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &at, nullptr);
    if (!code_) throw Error(std::string("pre-tokenizer regex does not compile: ") + pcre2_message(err));
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);  // without JIT (unsupported CPU) pcre2_match interprets
  }
  ~Regex() { pcre2_code_free(code_); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends the matches of s and the text between them to out.
  void split(std::string_view s, std::vector<std::string_view>& out) const {
    MatchState& st = match_state();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
    size_t done = 0;  // s[0, done) is in out
    for (size_t pos = 0; pos < s.size();) {
      const int rc = pcre2_match(code_, subject, s.size(), pos, 0, st.data, st.context);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) throw Error("pre-tokenizer regex failed: " + pcre2_message(rc));
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.data);
      if (ov[1] == ov[0]) {  // an empty match splits nothing: step over one character
        if (ov[0] >= s.size()) break;
        pos = ov[0] + utf8::classify(s, ov[0]).len;
        continue;
      }
      if (ov[0] > done) out.push_back(s.substr(done, ov[0] - done));
      out.push_back(s.substr(ov[0], ov[1] - ov[0]));
      done = pos = ov[1];
    }
    if (done < s.size()) out.push_back(s.substr(done));
  }

 private:
  pcre2_code* code_ = nullptr;
};

PreTokenizer PreTokenizer::from_name(const std::string& name) {
  for (const Spec& spec : specs()) {
    if (std::find(spec.names.begin(), spec.names.end(), name) == spec.names.end()) continue;
    PreTokenizer p;
    for (const char* re : spec.regexes) p.regexes_.push_back(std::make_shared<const Regex>(re));
    p.ignore_merges_ = spec.ignore_merges;
    p.default_add_bos_ = spec.add_bos;
    return p;
  }
  throw Error("unknown BPE pre-tokenizer '" + name + "' (tokenizer.ggml.pre)");
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& words) const {
  words.clear();
  if (text.empty()) return;
  words.push_back(text);
  std::vector<std::string_view> next;
  for (const auto& re : regexes_) {
    next.clear();
    for (std::string_view piece : words) re->split(piece, next);
    words.swap(next);
  }
}

}  // namespace rkchat::tok
