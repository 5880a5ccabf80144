#include "server/embeddings.h"

#include <cstring>

#include "server/generation.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::server::embeddings {
namespace {

void check_count(size_t n) {
  if (n == 0) throw bad_request("'input' is empty: nothing to embed");
  if (n > kMaxInputs)
    throw bad_request("'input' has " + std::to_string(n) + " items; at most " + std::to_string(kMaxInputs) +
                      " per request (split the list)");
}

std::vector<int32_t> read_ids(const ojson& arr) {
  std::vector<int32_t> ids;
  for (const auto& v : arr) {
    if (!v.is_number_integer()) throw bad_request("'input' mixes token ids with other values");
    const auto id = v.get<int64_t>();
    if (id < 0 || id > INT32_MAX) throw bad_request("token id " + std::to_string(id) + " is outside the vocabulary");
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

// A string, or an array of strings (and, when ids are allowed, an array of ids or of arrays of ids).
void read_input(const ojson& input, bool ids_allowed, EmbedRequest& r) {
  const char* shapes = ids_allowed ? "'input' must be a string, an array of strings, an array of token ids or an "
                                     "array of arrays of token ids"
                                   : "'input' must be a string or an array of strings";
  if (input.is_string()) {
    r.texts.push_back(input.get<std::string>());
  } else if (!input.is_array()) {
    throw bad_request(shapes);
  } else if (ids_allowed && !input.empty() && input.front().is_number()) {
    r.tokens.push_back(read_ids(input));
  } else {
    for (const auto& item : input) {
      if (item.is_string())
        r.texts.push_back(item.get<std::string>());
      else if (ids_allowed && item.is_array())
        r.tokens.push_back(read_ids(item));
      else
        throw bad_request(shapes);
    }
  }
  check_count(r.texts.size() + r.tokens.size());
  for (const auto& t : r.texts)
    if (t.empty()) throw bad_request("an item of 'input' is empty: nothing to embed");
  for (const auto& t : r.tokens)
    if (t.empty()) throw bad_request("an item of 'input' is empty: nothing to embed");
}

std::string base64(const float* v, size_t n) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  // OpenAI's base64 form is the little-endian float32 bytes, as every supported host stores them.
  std::string bytes(n * sizeof(float), '\0');
  std::memcpy(bytes.data(), v, bytes.size());
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t left = bytes.size() - i;
    uint32_t w = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (left > 1) w |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    if (left > 2) w |= static_cast<unsigned char>(bytes[i + 2]);
    out += kDigits[(w >> 18) & 63];
    out += kDigits[(w >> 12) & 63];
    out += left > 1 ? kDigits[(w >> 6) & 63] : '=';
    out += left > 2 ? kDigits[w & 63] : '=';
  }
  return out;
}

}  // namespace

EmbedRequest parse_openai(const ojson& body) {
  EmbedRequest r;
  read_string(body, "model", r.model);
  if (!body.contains("input")) throw bad_request("'input' is required");
  read_input(body["input"], /*ids_allowed=*/true, r);
  std::string format = "float";
  read_string(body, "encoding_format", format);
  if (format != "float" && format != "base64") throw bad_request("'encoding_format' must be \"float\" or \"base64\"");
  r.base64 = format == "base64";
  return r;
}

EmbedRequest parse_ollama(const ojson& body, bool legacy) {
  EmbedRequest r;
  read_string(body, "model", r.model);
  const char* key = legacy ? "prompt" : "input";
  if (!body.contains(key)) throw bad_request(std::string("'") + key + "' is required");
  if (legacy && !body[key].is_string()) throw bad_request("'prompt' must be a string");
  read_input(body[key], /*ids_allowed=*/false, r);
  r.truncate = true;
  read_bool(body, "truncate", r.truncate);
  return r;
}

runtime::Embeddings compute(LoadedModel& model, const EmbedRequest& r) {
  const auto& backend = model.backend();
  if (const auto why = runtime::embed_refusal(backend); !why.empty()) throw bad_request(why);
  std::vector<std::vector<int32_t>> inputs = r.tokens;
  if (!r.texts.empty()) {
    const auto* tok = backend.tokenizer();
    for (const auto& t : r.texts) {
      inputs.push_back(tok->encode(t, /*parse_special=*/true, tok->add_bos()));
      if (tok->add_eos()) inputs.back().push_back(tok->eos());
    }
  }
  if (r.truncate) {
    const auto n_ctx = static_cast<size_t>(backend.info().n_ctx);
    for (auto& in : inputs)
      if (in.size() > n_ctx) in.resize(n_ctx);
  }
  try {
    return model.engine->embed(std::move(inputs));
  } catch (const runtime::EngineError& e) {
    throw to_api_error(e);
  }
}

ojson openai_response(const runtime::Embeddings& e, const std::string& model, bool base64_form) {
  ojson data = ojson::array();
  for (size_t i = 0; i < e.vectors.size(); ++i) {
    const auto& v = e.vectors[i];
    data.push_back({{"object", "embedding"},
                    {"index", i},
                    {"embedding", base64_form ? ojson(base64(v.data(), v.size())) : ojson(v)}});
  }
  return {{"object", "list"},
          {"data", data},
          {"model", model},
          {"usage", {{"prompt_tokens", e.prompt_tokens}, {"total_tokens", e.prompt_tokens}}}};
}

ojson ollama_response(const runtime::Embeddings& e, const std::string& model, bool legacy,
                      std::chrono::steady_clock::duration total) {
  if (legacy) return {{"embedding", e.vectors.front()}};
  return {{"model", model},
          {"embeddings", e.vectors},
          {"total_duration", std::chrono::duration_cast<std::chrono::nanoseconds>(total).count()},
          {"load_duration", 0},
          {"prompt_eval_count", e.prompt_tokens}};
}

}  // namespace rkchat::server::embeddings
