// ChatTemplate: the chat-facing face of the Jinja interpreter, set up as transformers renders chat templates
// (its raise_exception and strftime_now globals, its variables and their defaults).
#include "chat/template.h"

#include <algorithm>
#include <ctime>

#include "chat/jinja_eval.h"
#include "chat/jinja_parser.h"

namespace rkchat::chat {

namespace {

std::string local_strftime(const std::string& fmt) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[256];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"  // the template chooses the format, as in transformers
  size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
#pragma GCC diagnostic pop
  return std::string(buf, n);
}

// A JSON input as a template value; too deep a nesting is a TemplateError naming the variable.
template <class Json>
jinja::Value variable(const std::string& name, const Json& j) {
  try {
    return jinja::from_json(j);
  } catch (const jinja::EvalError& e) {
    throw TemplateError(name + ": " + e.what(), false);
  }
}

}  // namespace

struct ChatTemplate::Impl {
  explicit Impl(const std::string& src) : source(jinja::normalize_source(src)), map(source) {
    body = jinja::parse(jinja::tokenize(source, map), map);
  }
  std::string source;
  jinja::SourceMap map;
  jinja::Body body;
  std::function<std::string(const std::string&)> strftime_now = local_strftime;
  uint64_t max_work = jinja::kMaxWork;

  template <class Json>
  std::string render(const Json& messages, const Json& tools, const Json& vars) const;
};

template <class Json>
std::string ChatTemplate::Impl::render(const Json& messages, const Json& tools, const Json& vars) const {
  using jinja::Value;
  std::vector<std::pair<std::string, Value>> variables = {
      {"messages", variable("messages", messages)},
      {"tools", variable("tools", tools)},
      {"documents", Value::none()},
      {"add_generation_prompt", Value(false)},
      {"raise_exception", Value::function("raise_exception",
                                          [](jinja::Args& a) -> Value {
                                            throw TemplateError(a.pos.empty() ? std::string() : a.pos[0].to_str(),
                                                                true);
                                          })},
      {"strftime_now", Value::function("strftime_now",
                                       [fn = strftime_now](jinja::Args& a) {
                                         return Value(fn(a.get(0, "format", Value("")).to_str()));
                                       })},
  };
  if (!vars.is_null() && !vars.is_object()) throw TemplateError("template variables must be a JSON object", false);
  if (vars.is_object()) {
    for (auto it = vars.begin(); it != vars.end(); ++it) {
      auto same = [&](const auto& kv) { return kv.first == it.key(); };
      auto existing = std::find_if(variables.begin(), variables.end(), same);
      if (existing != variables.end()) {
        existing->second = variable(it.key(), it.value());
      } else {
        variables.emplace_back(it.key(), variable(it.key(), it.value()));
      }
    }
  }
  try {
    return jinja::render(body, map, variables, max_work);
  } catch (const TemplateError&) {
    throw;
  } catch (const std::exception& e) {  // an unexpected failure inside a built-in: still a template error
    throw TemplateError(e.what(), false);
  }
}

ChatTemplate::ChatTemplate(const std::string& source) : impl_(std::make_unique<Impl>(source)) {}
ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const nlohmann::json& messages, const nlohmann::json& tools,
                                 const nlohmann::json& vars) const {
  return impl_->render(messages, tools, vars);
}

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                 const nlohmann::ordered_json& vars) const {
  return impl_->render(messages, tools, vars);
}

void ChatTemplate::set_strftime_now(std::function<std::string(const std::string& fmt)> fn) {
  impl_->strftime_now = std::move(fn);
}

void ChatTemplate::set_max_work(uint64_t units) { impl_->max_work = units; }

const std::string& chatml_template() {
  static const std::string tmpl =
      "{%- for message in messages -%}\n"
      "{{- '<|im_start|>' ~ message.role ~ '\\n' ~ (message.content if message.content is string else '') ~ "
      "'<|im_end|>\\n' -}}\n"
      "{%- endfor -%}\n"
      "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}\n";
  return tmpl;
}

}  // namespace rkchat::chat
